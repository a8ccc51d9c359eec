// Configuration of a VQGAN training run (the model's own fields are in config.ts): a typed interface
// with a "why" per field, defaults, and `resolveVqganRun` that overlays `--set key=value` pairs on a
// model preset and these defaults, rejecting unknown keys and bad values by name. The resolved object
// is written to RUN/config.json and into every checkpoint.

import { HyperlmError } from '../errors.js';
import { resolveVqganConfig, VQGAN_PRESETS, type VqganConfig } from './config.js';

export interface VqganTrainConfig {
  /** Images per step. 8 fits CM3's 256² on CPU at a usable step time (BENCHMARKS.md, measurements table); larger is smoother but slower. */
  batchSize: number;
  /** Optimizer steps of the run (a resumed run stops at the same total). */
  steps: number;
  /** Seeds the weights, the data order and the crop/flip stream. */
  seed: number;
  /** Steps between checkpoints (also written at the end and on SIGINT). */
  checkpointEvery: number;
  /** Checkpoints kept on disk; older ones are deleted after a new one is in place. */
  keepCheckpoints: number;
  /** Fraction of images (by path hash) held out: never trained on, used by eval. */
  heldOut: number;
  /** Images are loaded at round(resolution × cropScale) and randomly cropped back to resolution (scale/shift augmentation). */
  cropScale: number;
  /** Probability of a horizontal flip per training image (web images are not left/right specific). */
  flipProbability: number;
  /** Steps between held-out PSNR evaluations in metrics.jsonl; 0 disables. */
  evalEvery: number;
  /** Held-out images used by that periodic evaluation (the first ones, always the same). */
  evalImages: number;
  /** Images declaring more pixels than this are skipped (decompression bombs). */
  maxImagePixels: number;
}

export const DEFAULT_VQGAN_TRAIN: VqganTrainConfig = {
  batchSize: 8,
  steps: 500,
  seed: 0,
  checkpointEvery: 50,
  keepCheckpoints: 2,
  heldOut: 0.1,
  cropScale: 1.125,
  flipProbability: 0.5,
  evalEvery: 100,
  evalImages: 16,
  maxImagePixels: 40_000_000,
};

export interface VqganRunConfig {
  /** Preset the model config started from. */
  preset: string;
  model: VqganConfig;
  train: VqganTrainConfig;
}

const bad = (message: string): HyperlmError => new HyperlmError('CONFIG_BAD_VALUE', `vqgan train config: ${message}`);

/** Preset + defaults overlaid with `sets` (each key is a model or a train field; values are numbers). */
export function resolveVqganRun(
  preset: string,
  sets: Record<string, unknown> = {},
  base: Partial<VqganTrainConfig> = {},
): VqganRunConfig {
  const modelSets: Record<string, unknown> = {};
  const train: VqganTrainConfig = { ...DEFAULT_VQGAN_TRAIN, ...base };
  for (const [key, value] of Object.entries(sets)) {
    if (Object.hasOwn(DEFAULT_VQGAN_TRAIN, key)) {
      if (typeof value !== 'number' || !Number.isFinite(value))
        throw bad(`${key} must be a finite number, got ${JSON.stringify(value)}`);
      train[key as keyof VqganTrainConfig] = value;
    } else if (Object.hasOwn(VQGAN_PRESETS.tiny, key)) {
      modelSets[key] = value;
    } else {
      throw new HyperlmError(
        'CONFIG_UNKNOWN_KEY',
        `vqgan train config: unknown key ${JSON.stringify(key)} (neither a model nor a training field)`,
      );
    }
  }
  for (const k of ['batchSize', 'steps', 'checkpointEvery', 'keepCheckpoints', 'evalImages'] as const) {
    if (!Number.isInteger(train[k]) || train[k] < 1) throw bad(`${k} must be a positive integer, got ${train[k]}`);
  }
  for (const k of ['seed', 'evalEvery', 'maxImagePixels'] as const) {
    if (!Number.isInteger(train[k]) || train[k] < 0) throw bad(`${k} must be a non-negative integer, got ${train[k]}`);
  }
  if (!(train.heldOut >= 0 && train.heldOut < 1)) throw bad(`heldOut must be in [0, 1), got ${train.heldOut}`);
  if (!(train.cropScale >= 1 && train.cropScale <= 2)) throw bad(`cropScale must be in [1, 2], got ${train.cropScale}`);
  if (!(train.flipProbability >= 0 && train.flipProbability <= 1))
    throw bad(`flipProbability must be in [0, 1], got ${train.flipProbability}`);
  return { preset, model: resolveVqganConfig(preset, modelSets), train };
}

/** Checks a run config read back from disk (config.json or a checkpoint) and returns it typed. */
export function checkVqganRun(value: unknown, source: string): VqganRunConfig {
  const v = value as Partial<VqganRunConfig> | undefined;
  if (!v || typeof v.preset !== 'string' || typeof v.model !== 'object' || typeof v.train !== 'object') {
    throw new HyperlmError(
      'CHECKPOINT_CORRUPT',
      `${source}: not a VQGAN run config (needs "preset", "model", "train")`,
    );
  }
  return resolveVqganRun(v.preset, { ...v.model, ...v.train } as Record<string, unknown>);
}
