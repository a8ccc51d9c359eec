// Fused forms of the two elementwise-heavy pieces of a training step — softmax cross-entropy over the
// vocabulary and GPT-2's tanh GELU — each with an analytic gradient. On a backend that has our fused
// kernels (wasm, src/backend/wasm-kernels/fused-ops.ts) one heap pass replaces ~10 tfjs ops over
// [B·T, V] or [B·T, ff]; anywhere else (cpu, tensorflow) the composite tfjs ops below compute the
// same maths and tfjs differentiates them. test/backend-fused.test.ts checks the two paths agree.

import * as tf from '@tensorflow/tfjs';
import {
  GELU,
  GELU_GRAD,
  LAYER_NORM,
  LAYER_NORM_GRAD,
  SOFTMAX_XENT,
  SOFTMAX_XENT_GRAD,
} from '../backend/wasm-kernels/fused-ops.js';

function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** Per-row negative log-likelihood: logits [N, V], targets (int ids, length N) → nll [N]. */
export function softmaxCrossEntropy(logits: tf.Tensor2D, targets: Int32Array): tf.Tensor1D {
  const [N, V] = logits.shape;
  if (!hasKernel(SOFTMAX_XENT)) {
    return tf.tidy(
      () =>
        tf
          .logSoftmax(logits, -1)
          .mul(tf.oneHot(tf.tensor1d(targets, 'int32'), V))
          .sum(-1)
          .neg() as tf.Tensor1D,
    );
  }
  const op = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const ids = tf.tensor1d(targets, 'int32');
    const [nll, probs] = tf.engine().runKernel(SOFTMAX_XENT, { logits: x, targets: ids }, {}) as tf.Tensor[];
    save([probs, ids]);
    return {
      value: nll,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(SOFTMAX_XENT_GRAD, { probs: saved[0], targets: saved[1], dy }, {}) as tf.Tensor, // [N, V]
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
  return op(logits.reshape([N, V])) as tf.Tensor1D;
}

const GELU_C = Math.sqrt(2 / Math.PI);

/** GPT-2's tanh approximation of GELU ("gelu_new"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (!hasKernel(GELU)) {
    return tf.tidy(() => {
      const inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(GELU_C); // x³ as products: Pow is a slow kernel
      return x.mul(0.5).mul(tf.tanh(inner).add(1));
    });
  }
  const op = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    const [y, s] = tf.engine().runKernel(GELU, { x: input }, {}) as tf.Tensor[];
    save([input, s]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(GELU_GRAD, { x: saved[0], s: saved[1], dy }, {}) as tf.Tensor,
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (t: tf.Tensor) => tf.Tensor;
  return op(x);
}

/**
 * Rows of `table` [n, d] for integer ids [B, T] → [B, T, d] (tf.gather), with the gradient as one
 * UnsortedSegmentSum of dy into [n, d]. tfjs's own gather gradient brackets that sum with two transposes
 * that are identities for axis 0 but still copy (wasm's Transpose clones a no-op permutation): for the
 * token embedding that is a copy of the [V, d] gradient every step (35 ms of a dense-small step).
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor2D): tf.Tensor3D {
  const [B, T] = ids.shape;
  const [n, d] = table.shape;
  const op = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const flat = ids.reshape([B * T]).toInt();
    save([flat]);
    return {
      value: tf.gather(x, flat).reshape([B, T, d]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.unsortedSegmentSum(dy.reshape([B * T, d]), saved[0] as tf.Tensor1D, n),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (t: tf.Tensor) => tf.Tensor;
  return op(table) as tf.Tensor3D;
}

/**
 * LayerNorm over the last axis: (x − mean)/√(var + eps)·gain + bias (biased variance, as PyTorch). One
 * kernel forward and one back where the backend has them (wasm: HyperlmLayerNorm / HyperlmLayerNormGrad);
 * elsewhere tf.moments and broadcast ops, differentiated by tfjs.
 */
export function layerNorm(x: tf.Tensor, gain: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor {
  if (!hasKernel(LAYER_NORM)) {
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true);
      return x
        .sub(mean)
        .mul(tf.rsqrt(variance.add(eps)))
        .mul(gain)
        .add(bias);
    });
  }
  const shape = x.shape;
  const C = shape[shape.length - 1];
  const op = tf.customGrad(((input: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const x2 = input.reshape([-1, C]);
    const [y, rstd] = tf.engine().runKernel(LAYER_NORM, { x: x2, gain: g, bias: b }, { eps }) as tf.Tensor[];
    save([x2, g, rstd]);
    return {
      value: y.reshape(shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sg, sr] = saved;
        const [dx, dgain, dbias] = tf
          .engine()
          .runKernel(LAYER_NORM_GRAD, { x: sx, gain: sg, rstd: sr, dy: dy.reshape([-1, C]) }, {}) as tf.Tensor[];
        return [dx.reshape(shape), dgain, dbias];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor;
  return op(x, gain, bias);
}
