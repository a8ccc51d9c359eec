// A VQGAN replica for the data-parallel workers of src/backend/data-parallel.ts (the image twin of
// src/model/replica.ts): createReplica → getParams / setParams over one flat Float32Array in
// Vqgan.params() order (generator then discriminator, flat-params.ts), lossAndGrads on a slice of the
// batch, and run for the adaptive-weight statistics. The optimizers, the dead-code tracker and the data
// stay in the main thread (step-workers.ts), which broadcasts the updated params after every step, so a
// replica holds the main thread's bytes and needs nothing in a checkpoint.

import * as tf from '@tensorflow/tfjs';
import { flatten } from '../train/flat-params.js';
import { flatParamAccess } from '../train/replicas.js';
import type { VqganConfig } from './config.js';
import { adaptiveWeightGrads, disposeStepGradients, stepGradients, type LossParts } from './train-step.js';
import { Vqgan } from './vqgan.js';

export interface VqganReplicaInit {
  model: VqganConfig;
  seed: number;
}

/** One worker's share of a batch: `rows` images [rows, R, R, 3] in [-1, 1], row-major NHWC. */
export interface VqganSlice {
  pixels: Float32Array;
  rows: number;
  /** 0-based step (decides whether the GAN is on). */
  step: number;
  /** rows / batch rows: the slice's losses are weighted by it, so the workers' gradients sum to the batch's. */
  share: number;
  /** λ of the whole batch (GAN phase). */
  lambda?: number;
}

/** What lossAndGrads reports besides the gradient (structured-cloneable). */
export interface VqganSliceInfo {
  /** Unweighted loss terms of the slice. */
  parts: LossParts;
  /** Chosen codes [rows·N] and normalized encoder outputs [rows·N, codeDim]: the main thread's dead-code restart needs the batch's. */
  indices: Int32Array;
  zFlat: Float32Array;
}

/** `run` request: the slice's two last-layer gradients of eq. 7 (train-step.ts adaptiveWeightGrads). */
export interface VqganAdaptiveRequest {
  pixels: Float32Array;
  rows: number;
}

export async function createReplica(init: VqganReplicaInit) {
  const model = new Vqgan(init.model, init.seed);
  const params = model.params();
  const { layout, getParams, setParams } = flatParamAccess(params);
  const R = model.resolution;
  const internal = (s: { pixels: Float32Array; rows: number }) =>
    tf.tidy(() => model.toInternal(tf.tensor4d(s.pixels, [s.rows, R, R, 3])).clone());
  return {
    getParams,
    setParams,
    async lossAndGrads(
      slice: VqganSlice,
      out?: Float32Array,
    ): Promise<{ loss: number; grads: Float32Array; info: VqganSliceInfo }> {
      const x = internal(slice);
      try {
        const g = stepGradients(model, x, slice.step, { share: slice.share, lambda: slice.lambda });
        const byName = new Map<string, tf.Tensor>();
        for (const [name, v] of params) {
          const t = g.generator[v.name] ?? g.discriminator?.[v.name];
          if (t) byName.set(name, t); // absent (discriminator before discStart): flatten writes zeros
        }
        const grads = flatten(layout, byName, out);
        const zFlat = g.zFlat.dataSync() as Float32Array;
        disposeStepGradients(g);
        return { loss: g.parts.loss, grads, info: { parts: g.parts, indices: g.indices, zFlat } };
      } finally {
        x.dispose();
      }
    },
    run(request: VqganAdaptiveRequest): { rec: Float32Array; gan: Float32Array } {
      const x = internal(request);
      try {
        return adaptiveWeightGrads(model, x);
      } finally {
        x.dispose();
      }
    },
  };
}
