// Loading a language model for inference: a training run folder (RUN/config.json with the resolved run
// config, RUN/checkpoints/latest.json → step-N/model.safetensors, RUN/tokenizer.model, RUN/vocab.json) or an
// inference bundle (BUNDLE/config.json holding the model config — bare, or a run config's `model` —,
// BUNDLE/model.safetensors at top level, BUNDLE/tokenizer.model, BUNDLE/vocab.json). Both give the GPT with
// its weights, the run's own tokenizer (image block sized from vocab.json) and the id layout. Used by
// `npm run generate`, the prompt library (src/prompts) and eval; checkpoint.ts reads and writes runs, this
// only reads, and also bundles. Every error names the missing or bad file.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import { Tokenizer } from '../tokenize/tokenizer.js';
import type { VocabLayout } from '../tokenize/vocab.js';
import { latestCheckpoint } from '../train/index.js';
import { loadCheckpoint } from './checkpoint.js';
import { resolveModelConfig, type ModelConfig } from './config.js';
import { GPT } from './gpt.js';
import type { TrainConfig } from './train-config.js';
import { loadGPTWeights } from './weights.js';

export interface LoadRunOptions {
  /** Tokenizer engine etc.; imageCodes defaults to vocab.json's layout.imageCount. */
  tokenizer?: Parameters<typeof Tokenizer.load>[1];
}

export interface LoadedRun {
  model: GPT;
  tokenizer: Tokenizer;
  /** The resolved model config the weights belong to. */
  config: ModelConfig;
  layout: VocabLayout;
  /** Optimizer steps behind the weights (a bundle's __metadata__.step, else 0). */
  step: number;
  /** The training settings config.json records (a run's, or an exported bundle's copy of them); absent for a bare model config. */
  train?: TrainConfig;
  /** What was loaded: 'run' (its latest checkpoint) or 'bundle'. */
  source: { kind: 'run' | 'bundle'; dir: string; weights: string };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function readJson(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new HyperlmError('INPUT_NOT_FOUND', `${path}: missing (${what})`, { cause: err });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new HyperlmError('CHECKPOINT_CORRUPT', `${path}: not valid JSON`, { cause: err });
  }
}

/** Load a training run (latest checkpoint) or an inference bundle folder for generation and scoring. */
export async function loadRun(dir: string, opts: LoadRunOptions = {}): Promise<LoadedRun> {
  if (!(await exists(dir))) throw new HyperlmError('INPUT_NOT_FOUND', `${dir}: no such run or bundle folder`);
  const configJson = await readJson(join(dir, 'config.json'), 'the model config of a run or bundle');
  const vocab = await readJson(join(dir, 'vocab.json'), 'the vocabulary layout, copied beside the tokenizer');
  const tokenizerPath = join(dir, 'tokenizer.model');
  if (!(await exists(tokenizerPath)))
    throw new HyperlmError('INPUT_NOT_FOUND', `${tokenizerPath}: missing (the run's SentencePiece model)`);
  const vocabLayout = vocab.layout as Partial<VocabLayout> | undefined;
  if (!vocabLayout || !Number.isInteger(vocabLayout.imageCount)) {
    throw new HyperlmError(
      'CHECKPOINT_CORRUPT',
      `${join(dir, 'vocab.json')}: field "layout.imageCount" must be an integer`,
    );
  }
  const rawModel = (configJson.model ?? configJson) as Record<string, unknown>;
  const train = configJson.model !== undefined ? (configJson.train as TrainConfig | undefined) : undefined;
  let config: ModelConfig;
  try {
    config = resolveModelConfig(rawModel);
  } catch (err) {
    throw new HyperlmError(
      'CHECKPOINT_CORRUPT',
      `${join(dir, 'config.json')}: not a model config (${(err as Error).message})`,
      { cause: err },
    );
  }
  const tokenizer = await Tokenizer.load(tokenizerPath, { imageCodes: vocabLayout.imageCount, ...opts.tokenizer });
  if (tokenizer.layout.size > config.vocabSize) {
    throw new HyperlmError(
      'CHECKPOINT_CORRUPT',
      `${join(dir, 'config.json')}: vocabSize ${config.vocabSize} is smaller than ${tokenizerPath}'s ${tokenizer.layout.size} ids`,
    );
  }
  const bundleWeights = join(dir, 'model.safetensors');
  const model = new GPT(config, 0);
  try {
    if (await exists(bundleWeights)) {
      const metadata = await loadGPTWeights(model, bundleWeights);
      const step = Number.parseInt(metadata.step ?? '0', 10);
      return {
        model,
        tokenizer,
        config,
        layout: tokenizer.layout,
        step: Number.isFinite(step) ? step : 0,
        train,
        source: { kind: 'bundle', dir, weights: bundleWeights },
      };
    }
    const ckpt = await latestCheckpoint(dir);
    if (!ckpt) {
      throw new HyperlmError(
        'INPUT_NOT_FOUND',
        `${dir}: neither ${bundleWeights} (bundle) nor ${join(dir, 'checkpoints', 'latest.json')} (training run) exists`,
      );
    }
    const state = await loadCheckpoint(ckpt, model);
    return {
      model,
      tokenizer,
      config,
      layout: tokenizer.layout,
      step: state.step,
      train,
      source: { kind: 'run', dir, weights: join(ckpt, 'model.safetensors') },
    };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

async function mtime(path: string): Promise<number | undefined> {
  return stat(path).then(
    (s) => s.mtimeMs,
    () => undefined,
  );
}

/**
 * The model a command uses without --run: the bundled `data/model` when it exists, else the newest run
 * under `runs/` (by the time of its latest checkpoint); undefined when there is none.
 */
export async function defaultRunDir(cwd = process.cwd()): Promise<string | undefined> {
  const bundled = join(cwd, 'data/model');
  if ((await mtime(join(bundled, 'config.json'))) !== undefined) return bundled;
  const runs = join(cwd, 'runs');
  const names = await readdir(runs).catch(() => [] as string[]);
  let best: { dir: string; time: number } | undefined;
  for (const name of names) {
    const dir = join(runs, name);
    const time = await mtime(join(dir, 'checkpoints', 'latest.json'));
    if (time !== undefined && (!best || time > best.time)) best = { dir, time };
  }
  return best?.dir;
}
