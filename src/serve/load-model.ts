// Loading what the server serves: a training run folder (config.json, checkpoints/latest.json → the newest
// checkpoint's model.safetensors, tokenizer.model, vocab.json — as scripts/generate.ts reads it) or a bundle
// (the same files with model.safetensors at the top, as data/model will be). With no path: data/model when
// it exists, else the run in runs/ whose latest checkpoint is newest. This is a small local loader until the
// library's `loadRun(runDir)` lands; it reads the same files in the same way.

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { HyperlmError } from '../errors.js';
import { defaultRunDir } from '../model/load-run.js';
import { loadCheckpoint } from '../model/checkpoint.js';
import { decodeSafetensors, latestCheckpoint } from '../train/index.js';
import { resolveModelConfig, type ModelConfig } from '../model/config.js';
import { GPT } from '../model/gpt.js';
import { Tokenizer } from '../tokenize/tokenizer.js';

export interface ServedModel {
  model: GPT;
  tokenizer: Tokenizer;
  config: ModelConfig;
  /** Folder name, shown as the model's id in every protocol. */
  name: string;
  path: string;
  kind: 'run' | 'bundle';
  /** Training step of the checkpoint (runs; bundles when their metadata says). */
  step?: number;
  /** sha256 of the weights file, and its size in bytes (Ollama's /api/tags shows both). */
  digest: string;
  sizeBytes: number;
  modifiedAt: Date;
  parameters: number;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** The folder to serve: `explicit`, else ROOT/data/model, else the newest run under ROOT/runs. */
export async function defaultModelPath(root: string, explicit?: string): Promise<string> {
  if (explicit !== undefined) return resolve(root, explicit);
  const dir = await defaultRunDir(root); // the rule every command shares (src/model/load-run.ts)
  if (!dir) {
    throw new HyperlmError('INPUT_NOT_FOUND', `no model to serve: ${join(root, 'data/model')} does not exist and ${join(root, 'runs')} has no run with a checkpoint; pass --run RUN|BUNDLE`);
  }
  return dir;
}

async function readJson(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new HyperlmError('INPUT_NOT_FOUND', `${path}: cannot read ${what}`, { cause: err });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new HyperlmError('INPUT_BAD_RECORD', `${path}: ${what} is not valid JSON`, { cause: err });
  }
}

/** A run's config.json holds { model, train, … }; a bundle's may also be the model config itself. */
function modelConfigOf(json: Record<string, unknown>, path: string): ModelConfig {
  const raw = (typeof json.model === 'object' && json.model !== null ? json.model : json) as Record<string, unknown>;
  if (typeof raw.vocabSize !== 'number' || typeof raw.blockSize !== 'number') {
    throw new HyperlmError('INPUT_BAD_RECORD', `${path}: needs a model config ("model": {vocabSize, blockSize, …})`);
  }
  return resolveModelConfig(raw as Partial<ModelConfig>, {});
}

/** Loads a run folder or a bundle (see the file header). */
export async function loadServedModel(dir: string): Promise<ServedModel> {
  const config = modelConfigOf(await readJson(join(dir, 'config.json'), 'the model config'), join(dir, 'config.json'));
  const vocab = await readJson(join(dir, 'vocab.json'), 'the vocabulary layout').catch(() => ({} as Record<string, unknown>));
  const imageCodes = (vocab.layout as { imageCount?: number } | undefined)?.imageCount ?? 8192;
  const tokenizer = await Tokenizer.load(join(dir, 'tokenizer.model'), { imageCodes });
  if (tokenizer.layout.size > config.vocabSize) {
    throw new HyperlmError('CONFIG_BAD_VALUE', `${dir}: the tokenizer has ${tokenizer.layout.size} ids but the model only ${config.vocabSize}`);
  }
  const model = new GPT(config, 0);
  let weightsPath: string, kind: ServedModel['kind'], step: number | undefined;
  const ckpt = await latestCheckpoint(dir);
  if (ckpt !== undefined) {
    kind = 'run';
    weightsPath = join(ckpt, 'model.safetensors');
    step = (await loadCheckpoint(ckpt, model)).step;
  } else if (await exists(join(dir, 'model.safetensors'))) {
    kind = 'bundle';
    weightsPath = join(dir, 'model.safetensors');
    const { tensors, metadata } = decodeSafetensors(new Uint8Array(await readFile(weightsPath)), weightsPath);
    model.loadWeights(tensors, weightsPath);
    step = metadata.step !== undefined ? Number(metadata.step) : undefined;
  } else {
    model.dispose();
    throw new HyperlmError('INPUT_NOT_FOUND', `${dir}: neither checkpoints/latest.json (a run) nor model.safetensors (a bundle)`);
  }
  const bytes = await readFile(weightsPath);
  const info = await stat(weightsPath);
  let parameters = 0;
  for (const v of model.params().values()) parameters += v.size;
  return {
    model, tokenizer, config, name: basename(resolve(dir)), path: resolve(dir), kind, step,
    digest: createHash('sha256').update(bytes).digest('hex'), sizeBytes: bytes.length, modifiedAt: info.mtime, parameters,
  };
}
