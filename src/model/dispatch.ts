// Moving token rows between the [N, d] token layout and per-expert buffers for the MoE layer.
// `moveRows` is a gather whose index map sends every source row to at most one destination, so its
// gradient is the inverse gather — no unsortedSegmentSum (which is O(segments × rows) on the cpu
// backend and missing on wasm). This is what keeps MoE compute proportional to tokens, both ways.

import * as tf from '@tensorflow/tfjs';
import { HyperlmError } from '../errors.js';

/**
 * out[i] = x[from[i]] (a zero row where from[i] = -1). x: [R, d] → [from.length, d].
 * Each source row may appear at most once in `from`; the gradient is dx[j] = dy[i] where from[i] = j.
 */
export function moveRows(x: tf.Tensor2D, from: Int32Array): tf.Tensor2D {
  const [R, d] = x.shape;
  const back = new Int32Array(R).fill(from.length); // index of the zero row appended to dy
  const fwd = new Int32Array(from.length);
  for (let i = 0; i < from.length; i++) {
    const j = from[i];
    if (j >= 0) {
      if (back[j] !== from.length) throw new HyperlmError('INTERNAL', `moveRows: source row ${j} used twice`);
      back[j] = i;
    }
    fwd[i] = j < 0 ? R : j;
  }
  const op = tf.customGrad((...args: Array<tf.Tensor | unknown>) => {
    const input = args[0] as tf.Tensor;
    const value = tf.gather(tf.concat([input, tf.zeros([1, d])], 0), tf.tensor1d(fwd, 'int32')); // [M, d]
    const gradFunc = (dy: tf.Tensor) => tf.gather(tf.concat([dy, tf.zeros([1, d])], 0), tf.tensor1d(back, 'int32')); // [R, d]
    return { value, gradFunc };
  }) as (t: tf.Tensor) => tf.Tensor;
  return op(x) as tf.Tensor2D;
}
