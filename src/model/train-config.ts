// The training run's typed configuration (how long, how big a batch, how often to evaluate and save,
// AdamW and CM3 settings) beside the model's (config.ts), and `resolveRunConfig`, which turns a preset
// name or config file plus `--set key=value` strings into both, once. `--set` keys starting with
// `optim.`, `cm3.` or naming a TrainConfig field go to training (`train.` may prefix them); every other
// key (optionally prefixed `model.`) goes to the model. The vocabulary size always comes from the data,
// and a `demix` model gets one expert per data domain, named after the domain keys.

import { readFile } from 'node:fs/promises';
import { HyperlmError } from '../errors.js';
import { CM3_DEFAULTS, type Cm3Options } from '../tokenize/cm3.js';
import { modelPresets, parseSetArgs, resolveModelConfig, type ModelConfig } from './config.js';
import type { DataInfo } from './data-info.js';
import { defaultOptimConfig, type OptimConfig } from '../train/optimizer.js';

export interface TrainConfig {
  /** Optimizer steps in the run (the cosine schedule ends here); 600 trains `tiny` on the sample in a few minutes on 2 cores. */
  steps: number;
  /** Rows (of blockSize tokens) per micro-batch; bounded by memory. */
  batchSize: number;
  /** Micro-batches summed per optimizer step: a larger effective batch at the memory of one. */
  gradAccum: number;
  /** Validation loss every N steps (0 = only at the end); it costs evalBatches forward passes. */
  evalEvery: number;
  /** Validation batches per evaluation; the same batches every time, so curves are comparable. */
  evalBatches: number;
  /** Checkpoint (and loss.png) every N steps; a kill loses at most this much work. */
  checkpointEvery: number;
  /** Checkpoints kept on disk; older ones are deleted after a new one is in place. */
  keepCheckpoints: number;
  /** Seeds the weights, the data order, CM3 spans and per-step model randomness. */
  seed: number;
  /** Warn when one expert receives more than this fraction of a layer's tokens (routing collapse). */
  collapseThreshold: number;
  /** Train only this DEMix expert (and only its domain's data); -1 trains everything. */
  trainOnlyExpert: number;
  /** CM3 masking applied by the loader each epoch. */
  cm3: Cm3Options;
  optim: OptimConfig;
}

export const defaultTrainConfig: TrainConfig = {
  steps: 600,
  batchSize: 8,
  gradAccum: 1,
  evalEvery: 100,
  evalBatches: 4,
  checkpointEvery: 200,
  keepCheckpoints: 3,
  seed: 1234,
  collapseThreshold: 0.9,
  trainOnlyExpert: -1,
  cm3: { ...CM3_DEFAULTS },
  optim: { ...defaultOptimConfig },
};

/**
 * Training settings that go with a model preset of the same name (a preset without one uses the
 * defaults); `--set` and a config file's `train` section still override them.
 */
export const trainPresets: Record<string, Partial<TrainConfig>> = {
  'code-small': {
    // 8 rows × 512 tokens = 4k tokens a step: 1,500 steps ≈ 6M tokens, sized to train in one working
    // session when the 2 cores are free
    steps: 1500,
    batchSize: 8,
    evalEvery: 250,
    evalBatches: 8,
    checkpointEvery: 100,
    // a 6-layer model at this batch trains stably at 1e-3 (nanoGPT's small-model rate); warm up over 100 steps
    optim: { ...defaultOptimConfig, lr: 1e-3, minLr: 1e-4, warmupSteps: 100 },
  },
  'cm3-125m': {
    // CM3's smallest model: one 2,048-token row per micro-batch fits a WASM heap; gradAccum builds the batch
    batchSize: 1,
    gradAccum: 8,
    optim: { ...defaultOptimConfig, lr: 6e-4, minLr: 6e-5, warmupSteps: 200 },
  },
};

/** What a run folder's config.json holds. */
export interface RunConfig {
  model: ModelConfig;
  train: TrainConfig;
  /** The preprocessed data folder the run trains on. */
  data: string;
  /** Fine-tuning (`--init`): the weights file a new run starts from (init-from.ts); a resumed run ignores it. */
  init?: string;
}

/** Split `--set` strings into model and training overrides (see the file comment). */
export function splitSetArgs(sets: string[]): { model: Record<string, unknown>; train: Record<string, unknown> } {
  const model: Record<string, unknown> = {};
  const train: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parseSetArgs(sets))) {
    const k = key.replace(/^train\./, '');
    const head = k.split('.')[0];
    if (key.startsWith('model.')) model[key.slice(6)] = value;
    else if (head in defaultTrainConfig) train[k] = value;
    else model[key] = value;
  }
  return { model, train };
}

/** Merge `overrides` into a copy of `base`, coercing strings to each field's type; unknown keys throw naming the key. */
export function resolveTrainConfig(
  base: TrainConfig = defaultTrainConfig,
  overrides: Record<string, unknown> = {},
): TrainConfig {
  const out = structuredClone(base) as unknown as Record<string, unknown>;
  for (const [key, raw] of Object.entries(overrides)) {
    const path = key.split('.');
    let obj = out;
    for (const p of path.slice(0, -1)) {
      if (typeof obj[p] !== 'object' || obj[p] === null)
        throw new HyperlmError('CONFIG_UNKNOWN_KEY', `unknown training config key ${key}`);
      obj = obj[p] as Record<string, unknown>;
    }
    const leaf = path[path.length - 1];
    if (!(leaf in obj) || typeof obj[leaf] === 'object')
      throw new HyperlmError('CONFIG_UNKNOWN_KEY', `unknown training config key ${key}`);
    const v = typeof raw === 'string' ? Number(raw) : raw;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `training config ${key} must be a finite number, got ${JSON.stringify(raw)}`,
      );
    obj[leaf] = v;
  }
  const c = out as unknown as TrainConfig;
  const positiveInt = ['steps', 'batchSize', 'gradAccum', 'evalBatches', 'checkpointEvery', 'keepCheckpoints'] as const;
  for (const k of positiveInt) {
    if (!Number.isInteger(c[k]) || c[k] < 1)
      throw new HyperlmError('CONFIG_BAD_VALUE', `training config ${k} must be a positive integer, got ${c[k]}`);
  }
  if (!Number.isInteger(c.evalEvery) || c.evalEvery < 0)
    throw new HyperlmError('CONFIG_BAD_VALUE', `training config evalEvery must be an integer ≥ 0, got ${c.evalEvery}`);
  if (!(c.optim.lr > 0) || !(c.optim.minLr >= 0))
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `training config optim.lr must be > 0 and optim.minLr ≥ 0, got ${c.optim.lr}, ${c.optim.minLr}`,
    );
  if (!(c.optim.beta1 >= 0 && c.optim.beta1 < 1 && c.optim.beta2 >= 0 && c.optim.beta2 < 1)) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `training config optim.beta1/beta2 must be in [0, 1), got ${c.optim.beta1}, ${c.optim.beta2}`,
    );
  }
  return c;
}

/** A preset name, or a JSON file holding a model config (or a whole RunConfig with `model` and `train`). */
async function loadBase(nameOrFile: string): Promise<{ model: string | object; train?: object }> {
  if (nameOrFile in modelPresets)
    return { model: nameOrFile, ...(trainPresets[nameOrFile] ? { train: trainPresets[nameOrFile] } : {}) };
  let text: string;
  try {
    text = await readFile(nameOrFile, 'utf8');
  } catch (err) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `--config ${JSON.stringify(nameOrFile)} is neither a preset (${Object.keys(modelPresets).join(', ')}) nor a readable JSON file`,
      { cause: err },
    );
  }
  const json = JSON.parse(text) as Record<string, unknown>;
  return 'model' in json ? { model: json.model as object, train: json.train as object | undefined } : { model: json };
}

/** Flatten nested objects to dotted keys, so a config file's `train` section merges like `--set`. */
function flatten(obj: object, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) Object.assign(out, flatten(v, `${prefix}${k}.`));
    else out[`${prefix}${k}`] = v;
  }
  return out;
}

/** Resolve a run's configuration against its data (vocabulary size, DEMix domains). */
export async function resolveRunConfig(nameOrFile: string, sets: string[], data: DataInfo): Promise<RunConfig> {
  const base = await loadBase(nameOrFile);
  const { model: modelOver, train: trainOver } = splitSetArgs(sets);
  const train = resolveTrainConfig(defaultTrainConfig, { ...(base.train ? flatten(base.train) : {}), ...trainOver });
  const model = resolveModelConfig(base.model, { ...modelOver, vocabSize: data.layout.size });
  if (
    model.moe.every > 0 &&
    model.moe.router === 'demix' &&
    !('moe.experts' in modelOver) &&
    !model.moe.domains?.length
  ) {
    const names = Object.entries(data.domains)
      .sort((a, b) => a[1] - b[1])
      .map(([k]) => k);
    if (names.length === 0)
      throw new HyperlmError('CONFIG_BAD_VALUE', `router demix needs domains in ${data.dir}/manifest.json`);
    model.moe.experts = names.length;
    model.moe.domains = names;
  }
  return { model, train, data: data.dir };
}
