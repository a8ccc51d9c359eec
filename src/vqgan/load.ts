// Loads a trained image tokenizer for `preprocess --images vqgan --vqgan RUN`, `inspect`, eval and
// reconstruct. RUN is either a bundle (RUN/model.safetensors, F16 or F32, see bundle.ts) or a training
// run (RUN/checkpoints/latest.json → its model.safetensors). The model config comes from the weights'
// __metadata__.config. Loaded models are cached per thread by resolved path, so a worker loads the
// weights once however many documents (or contexts) ask for them.

import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backend/index.js';
import { HyperlmError } from '../errors.js';
import { LoadOnce } from '../io/index.js';
import { latestCheckpoint } from '../train/index.js';
import { decodeAnySafetensors } from './bundle.js';
import { checkVqganConfig, type VqganConfig } from './config.js';
import type { ImageTokenizer } from './image-tokenizer.js';
import { checkVqganRun, type VqganRunConfig } from './train-config.js';
import { Vqgan } from './vqgan.js';

const cache = new LoadOnce<Vqgan>();

/** The weights file of a bundle or of a run's latest checkpoint. */
export async function vqganWeightsPath(run: string): Promise<string> {
  const bundle = join(run, 'model.safetensors');
  if (
    await readFile(bundle).then(
      () => true,
      () => false,
    )
  )
    return bundle;
  const ck = await latestCheckpoint(run);
  if (ck) return join(ck, 'model.safetensors');
  throw new HyperlmError(
    'INPUT_NOT_FOUND',
    `--vqgan ${run}: neither ${bundle} nor ${join(run, 'checkpoints', 'latest.json')} exists (train one with npm run train:vqgan)`,
  );
}

async function load(run: string): Promise<Vqgan> {
  // A caller that picked a backend keeps it; otherwise pick as training does (WASM with our kernels here).
  if (!tf.engine().backendName) await selectBackend('auto');
  const path = await vqganWeightsPath(run);
  const { tensors, metadata } = decodeAnySafetensors(await readFile(path), path);
  let config: VqganConfig;
  try {
    config = checkVqganConfig(JSON.parse(metadata.config) as VqganConfig);
  } catch (err) {
    throw new HyperlmError(
      'CHECKPOINT_CORRUPT',
      `${path}: __metadata__.config is missing or not a VQGAN config (${(err as Error).message})`,
      { cause: err },
    );
  }
  const model = new Vqgan(config);
  model.loadWeights(tensors, path, false);
  return model;
}

/** The trained Vqgan in RUN (cached per thread; do not dispose it). */
export function loadVqgan(run: string): Promise<Vqgan> {
  return cache.get(resolve(run), () => load(run));
}

export async function loadImageTokenizer(run: string): Promise<ImageTokenizer> {
  return loadVqgan(run);
}

/** RUN/config.json (bundle or run), for the held-out fraction used in training. */
export async function readVqganRunConfig(run: string): Promise<VqganRunConfig> {
  const path = join(run, 'config.json');
  const text = await readFile(path, 'utf8').catch(() => {
    throw new HyperlmError('INPUT_NOT_FOUND', `${path}: not found (is ${run} a VQGAN run or bundle?)`);
  });
  return checkVqganRun(JSON.parse(text), path);
}
