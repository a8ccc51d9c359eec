// A GPT replica for the data-parallel workers of src/backend/data-parallel.ts (createReplica →
// getParams / lossAndGrads / setParams / applyGrads over flat Float32Arrays in the model's parameter
// order, flat-params.ts). Each worker returns the gradient of its slice scaled by the slice's share of
// the batch (ceWeight, auxWeight) and DataParallel sums them. The training loop (train.ts via
// gradient-workers.ts) then runs ZeRO-1 (Rajbhandari et al. 2020, stage 1): this replica owns AdamW's
// moments for its shard of the flat params (AdamWShard) and, on a `run` request, updates that shard of
// the shared params row in place; the trainer gathers the shards' moments for a checkpoint and scatters
// them on resume. `applyGrads` (a replicated AdamW on the mean gradient, DataParallel.step) remains for
// callers that replicate the optimizer instead.

import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config.js';
import { assignFlat, flatten } from '../train/flat-params.js';
import { flatParamAccess } from '../train/replicas.js';
import { GPT } from './gpt.js';
import { AdamW, AdamWShard, defaultOptimConfig, learningRate, type OptimConfig } from '../train/optimizer.js';
import type { SharedViews } from '../backend/data-parallel.js';
import { HyperlmError } from '../errors.js';
import type { MoEStats } from './train.js';

export interface ReplicaInit {
  model: ModelConfig;
  seed: number;
  /** The optimizer (ZeRO shard and applyGrads; default defaultOptimConfig); totalSteps: applyGrads' schedule. */
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

/** `run` requests of the ZeRO-1 optimizer shard (t: the 1-based AdamW step; selected: per layout param, false = leave alone). */
export type ReplicaRequest =
  | { kind: 'adamw'; lr: number; gradNorm: number; t: number; selected?: boolean[] }
  | { kind: 'adamw-state' }
  | { kind: 'adamw-load'; m: Float32Array; v: Float32Array };

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
  let shared: SharedViews | undefined;
  let shard: AdamWShard | undefined;
  return {
    getParams,
    setParams,
    attachShared(views: SharedViews): void {
      shared = views;
      shard = new AdamWShard(init.optim ?? defaultOptimConfig, layout, views.lo, views.hi);
    },
    run(request: ReplicaRequest): { m: Float32Array; v: Float32Array } | null {
      if (!shared || !shard)
        throw new HyperlmError('INTERNAL', 'replica: optimizer shard used before the shared buffer arrived');
      switch (request.kind) {
        case 'adamw':
          shard.update(shared.params, shared.grads, request.lr, request.gradNorm, request.t, request.selected);
          return null;
        case 'adamw-state':
          return { m: shard.m.slice(), v: shard.v.slice() };
        case 'adamw-load':
          shard.load(request.m, request.v);
          return null;
      }
    },
    async lossAndGrads(
      slice: ReplicaSlice,
      out?: Float32Array,
    ): Promise<{ loss: number; grads: Float32Array; info: ReplicaInfo }> {
      const B = slice.domains.length,
        T = init.model.blockSize;
      const ids = tf.tensor2d(slice.ids, [B, T], 'int32');
      const targets = tf.tensor2d(slice.targets, [B, T], 'int32');
      const weights = tf.tensor2d(slice.weights, [B, T], 'float32');
      const opts = {
        training: true,
        domains: slice.domains,
        seed: slice.seed,
        dropoutSeed: slice.dropoutSeed,
        rowOffset: slice.rowOffset,
      };
      const r = model.lossAndGrads(ids, targets, weights, opts, { ce: slice.ceWeight ?? 1, aux: slice.auxWeight ?? 1 });
      const grads = flatten(layout, r.grads, out);
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
