// Fine-tuning: a new run that starts from another model's weights (`npm run train -- --init SOURCE`).
// SOURCE is a training run (RUN/config.json + the latest checkpoint's model.safetensors) or an inference
// bundle (config.json — a model config, or a run config with `model` — + model.safetensors, float16 or
// float32; tokenizer.model and vocab.json beside it). The model config comes from the source; only
// overrides that keep every parameter's shape are accepted; the vocabulary must equal the data's.
// Optimizer state, step and data position start fresh (unlike `--resume`, which continues a run).

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import { latestCheckpoint } from '../train/index.js';
import { resolveModelConfig, type ModelConfig } from './config.js';
import type { DataInfo } from './data-info.js';
import { defaultTrainConfig, resolveTrainConfig, splitSetArgs, type RunConfig } from './train-config.js';

export interface InitSource {
  kind: 'run' | 'bundle';
  /** The source's model config. */
  model: ModelConfig;
  /** The weights file the new run starts from. */
  weights: string;
}

/** Model keys that change no parameter shape (blockSize only with rotary positions, which have no table). */
const SHAPE_FREE = [
  'dropout',
  'embedding',
  'blockSize',
  'moe.capacityFactor',
  'moe.auxLossWeight',
  'moe.zLossWeight',
  'moe.routerInitScale',
];

async function readConfigJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new HyperlmError(
      'INPUT_NOT_FOUND',
      `--init: ${path} not found (a run folder or a bundle holds config.json)`,
      { cause: err },
    );
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new HyperlmError('INPUT_BAD_RECORD', `--init: ${path} is not valid JSON`, { cause: err });
  }
}

/** Find a run's latest weights or a bundle's model.safetensors, and the model config they belong to. */
export async function readInitSource(dir: string): Promise<InitSource> {
  const json = await readConfigJson(join(dir, 'config.json'));
  const model = resolveModelConfig((json.model ?? json) as object);
  const checkpoint = await latestCheckpoint(dir);
  if (checkpoint) return { kind: 'run', model, weights: join(checkpoint, 'model.safetensors') };
  // A bundle's config.json may be a whole run config (exported bundles keep `train`): the weights decide.
  const weights = join(dir, 'model.safetensors');
  if (existsSync(weights)) return { kind: 'bundle', model, weights };
  throw new HyperlmError(
    'INPUT_NOT_FOUND',
    `--init ${dir}: neither a training run with checkpoints (${join(dir, 'checkpoints', 'latest.json')}) nor a bundle (${weights})`,
  );
}

/**
 * The new run's config: the source's model (with shape-free `--set` overrides), training settings from
 * the defaults plus `--set`, the data folder, and `init` naming the weights to start from.
 */
export function initRunConfig(source: InitSource, from: string, sets: string[], data: DataInfo): RunConfig {
  const { model: modelOver, train: trainOver } = splitSetArgs(sets);
  for (const key of Object.keys(modelOver)) {
    const rotaryOnly = key === 'blockSize' && source.model.positions !== 'rotary';
    if (!SHAPE_FREE.includes(key) || rotaryOnly) {
      throw new HyperlmError(
        'CLI_BAD_FLAG',
        `--init ${from}: --set ${key} would change the source model's parameters (allowed: ${SHAPE_FREE.join(', ')}${rotaryOnly ? '; blockSize needs rotary positions' : ''})`,
      );
    }
  }
  if (source.model.vocabSize !== data.layout.size) {
    throw new HyperlmError(
      'TRAIN_VOCAB_MISMATCH',
      `--init ${from}: the model's vocabulary has ${source.model.vocabSize} ids but the data's (${join(data.dir, 'vocab.json')}) has ${data.layout.size}; ` +
        "preprocess the data with the source's tokenizer (--tokenizer SOURCE/tokenizer.model, same --image-codes)",
    );
  }
  const model = resolveModelConfig(source.model, modelOver);
  return { model, train: resolveTrainConfig(defaultTrainConfig, trainOver), data: data.dir, init: source.weights };
}
