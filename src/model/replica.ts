// A GPT + AdamW replica implementing the contract of src/backend/data-parallel.ts (createReplica →
// getParams / lossAndGrads / applyGrads with flat Float32Arrays in a fixed parameter order). Every
// worker builds the same seeded model and applies the same averaged gradient with the same AdamW
// update, so replicas stay bit-identical. Used by scripts/bench-train.ts for the 2-worker numbers.

import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config.js';
import { GPT } from './gpt.js';
import { AdamW, learningRate, type OptimConfig } from './optimizer.js';

export interface ReplicaInit {
  model: ModelConfig;
  optim: OptimConfig;
  seed: number;
  /** Steps of the schedule (for the learning rate at each step). */
  totalSteps: number;
}

/** One worker's share of a batch: `rows` rows of blockSize tokens, row-major. */
export interface ReplicaSlice {
  ids: Int32Array;
  targets: Int32Array;
  weights: Float32Array;
  domains: Int32Array;
  seed: number;
}

export async function createReplica(init: ReplicaInit) {
  const model = new GPT(init.model, init.seed);
  const optimizer = new AdamW(init.optim);
  const params = model.params();
  const names = [...params.keys()];
  const sizes = names.map((n) => params.get(n)!.size);
  const total = sizes.reduce((a, b) => a + b, 0);
  return {
    getParams(): Float32Array {
      const out = new Float32Array(total);
      let o = 0;
      for (const n of names) { const d = params.get(n)!.dataSync() as Float32Array; out.set(d, o); o += d.length; }
      return out;
    },
    async lossAndGrads(slice: ReplicaSlice): Promise<{ loss: number; grads: Float32Array }> {
      const B = slice.domains.length, T = init.model.blockSize;
      const ids = tf.tensor2d(slice.ids, [B, T], 'int32');
      const targets = tf.tensor2d(slice.targets, [B, T], 'int32');
      const weights = tf.tensor2d(slice.weights, [B, T], 'float32');
      const r = model.lossAndGrads(ids, targets, weights, { training: true, domains: slice.domains, seed: slice.seed });
      const grads = new Float32Array(total);
      let o = 0;
      names.forEach((n, i) => {
        const g = r.grads.get(n);
        if (g) grads.set(g.dataSync() as Float32Array, o);
        o += sizes[i];
      });
      tf.dispose([ids, targets, weights, ...r.grads.values()]);
      return { loss: r.loss, grads };
    },
    applyGrads(mean: Float32Array, step: number): void {
      let sq = 0;
      for (let i = 0; i < mean.length; i++) sq += mean[i] * mean[i];
      const grads = new Map<string, tf.Tensor>();
      let o = 0;
      names.forEach((n, i) => {
        grads.set(n, tf.tensor(mean.subarray(o, o + sizes[i]), params.get(n)!.shape, 'float32'));
        o += sizes[i];
      });
      optimizer.apply(params, grads, learningRate(step - 1, init.totalSteps, init.optim), Math.sqrt(sq));
      tf.dispose([...grads.values()]);
    },
  };
}
