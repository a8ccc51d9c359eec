// What the server serves: a training run folder or an inference bundle, loaded by the library's `loadRun`
// (src/model/load-run.ts), plus what the protocols show about it — a name, the weights' sha256 and size
// (Ollama's /api/tags), the parameter count. With no path: the shared default (data/model when it exists,
// else the run in runs/ whose latest checkpoint is newest).

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { HyperlmError } from '../errors.js';
import { defaultRunDir, loadRun } from '../model/load-run.js';
import type { ModelConfig } from '../model/config.js';
import type { GPT } from '../model/gpt.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';

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

export async function defaultModelPath(root: string, explicit?: string): Promise<string> {
  if (explicit !== undefined) return resolve(root, explicit);
  const dir = await defaultRunDir(root); // the rule every command shares (src/model/load-run.ts)
  if (!dir) {
    throw new HyperlmError(
      'INPUT_NOT_FOUND',
      `no model to serve: ${join(root, 'data/model')} does not exist and ${join(root, 'runs')} has no run with a checkpoint; pass --run RUN|BUNDLE`,
    );
  }
  return dir;
}

/** Loads a run folder or a bundle (see the file header). */
export async function loadServedModel(dir: string): Promise<ServedModel> {
  const run = await loadRun(dir);
  const weightsPath = run.source.weights;
  const bytes = await readFile(weightsPath); // once, for the digest: loadRun read it to load
  const info = await stat(weightsPath);
  let parameters = 0;
  for (const v of run.model.params().values()) parameters += v.size;
  return {
    model: run.model,
    tokenizer: run.tokenizer,
    config: run.config,
    name: basename(resolve(dir)),
    path: resolve(dir),
    kind: run.source.kind,
    step: run.step,
    digest: createHash('sha256').update(bytes).digest('hex'),
    sizeBytes: bytes.length,
    modifiedAt: info.mtime,
    parameters,
  };
}
