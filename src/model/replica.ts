// A GPT replica for the data-parallel workers of src/backend/data-parallel.ts (createReplica →
// getParams / lossAndGrads / setParams / applyGrads over flat Float32Arrays in the model's parameter
// order, flat-params.ts). The training loop (train.ts via gradient-workers.ts) keeps the optimizer in
// the main thread: each worker returns the gradient of its slice scaled by the slice's share of the
// batch (ceWeight, auxWeight), DataParallel sums them, the main thread runs AdamW and broadcasts the
// params with setParams — so replicas hold the main thread's bytes and checkpoints need nothing from
// the workers. `applyGrads` (a replicated AdamW on the mean gradient, DataParallel.step) remains for
// callers without a main-thread optimizer.

import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config.js';
import { assignFlat, flatten } from '../train/flat-params.js';
import { flatParamAccess } from '../train/replicas.js';
import { GPT } from './gpt.js';
import { AdamW, defaultOptimConfig, learningRate, type OptimConfig } from '../train/optimizer.js';
import type { MoEStats } from './train.js';

export interface ReplicaInit {
  model: ModelConfig;
  seed: number;
  /** For applyGrads only: the optimizer and the steps of its schedule. */
  optim?: OptimConfig;
  totalSteps?: number;
}

/** One worker's share of a batch: `rows` rows of blockSize tokens, row-major. */
export interface ReplicaSlice {
  ids: Int32Array;
  targets: Int32Array;
  weights: Float32Array;
  domains: Int32Array;
  /** GShard's second-expert draws. */
  seed: number;
  /** Dropout masks: the full batch's dropout seed, and the index of this slice's first row in that batch. */
  dropoutSeed?: number;
  rowOffset?: number;
  /** The gradient is of ceWeight·ce + auxWeight·aux of this slice (default 1, 1). */
  ceWeight?: number;
  auxWeight?: number;
}

/** What a replica reports besides loss and gradients (structured-cloneable). */
export interface ReplicaInfo {
  ce: number;
  aux: number;
  /** Per MoE layer: expert load fractions, drop rate and router entropy of this slice. */
  moe: MoEStats[];
}

export async function createReplica(init: ReplicaInit) {
  const model = new GPT(init.model, init.seed);
  const params = model.params();
  const { layout, getParams, setParams } = flatParamAccess(params);
  let optimizer: AdamW | undefined;
  return {
    getParams,
    setParams,
    async lossAndGrads(slice: ReplicaSlice): Promise<{ loss: number; grads: Float32Array; info: ReplicaInfo }> {
      const B = slice.domains.length, T = init.model.blockSize;
      const ids = tf.tensor2d(slice.ids, [B, T], 'int32');
      const targets = tf.tensor2d(slice.targets, [B, T], 'int32');
      const weights = tf.tensor2d(slice.weights, [B, T], 'float32');
      const opts = { training: true, domains: slice.domains, seed: slice.seed, dropoutSeed: slice.dropoutSeed, rowOffset: slice.rowOffset };
      const r = model.lossAndGrads(ids, targets, weights, opts, { ce: slice.ceWeight ?? 1, aux: slice.auxWeight ?? 1 });
      const grads = flatten(layout, r.grads);
      tf.dispose([ids, targets, weights, ...r.grads.values()]);
      const moe = r.routing.map((x) => ({ layer: x.layer, load: x.load, dropRate: x.dropRate, entropy: x.entropy }));
      return { loss: r.loss, grads, info: { ce: r.ce, aux: r.aux, moe } };
    },
    applyGrads(mean: Float32Array, step: number): void {
      const optim = init.optim ?? defaultOptimConfig;
      optimizer ??= new AdamW(optim);
      let sq = 0;
      for (let i = 0; i < mean.length; i++) sq += mean[i] * mean[i];
      const flat = flatten(layout, params as Map<string, tf.Tensor>);
      optimizer.applyFlat(layout, flat, mean, learningRate(step - 1, init.totalSteps ?? step, optim), Math.sqrt(sq));
      assignFlat(layout, params, flat);
    },
  };
}
