// Sum over the leading axes of a float32 tensor ([rows, ...inner] → [...inner]): the bias, LayerNorm and
// embedding-row gradients of every layer are this shape ([B·T, C] → [C]). The published kernel first
// transposes the reduced axes to the end, then sums rows of length B·T — two passes and a scratch copy of
// the whole tensor; here one pass adds each row into a float64 accumulator (BENCHMARKS.md, "Measurements").
// Every other reduction (inner axes, int32, all axes of a tiny tensor) goes to the published kernel.
// Sibling kernels: batch-matmul.ts, fused-ops.ts; heap access in wasm-heap.ts.
import * as tf from '@tensorflow/tfjs';
import { offsetOf, type WasmBackendLike } from './wasm-heap.js';

interface SumAttrs {
  axis: number | number[];
  keepDims: boolean;
}

/** Builds the kernelFunc; `shipped` is the published kernel, used for every other reduction. */
export function makeSum(shipped: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmBackendLike;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as SumAttrs;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (x.dtype !== 'float32' || !leading) return shipped(args);
    const rows = tf.util.sizeFromShape(x.shape.slice(0, axes.length));
    const innerShape = x.shape.slice(axes.length);
    const inner = tf.util.sizeFromShape(innerShape);
    const outShape = keepDims ? [...axes.map(() => 1), ...innerShape] : innerShape;
    const out = backend.makeOutput(outShape, 'float32');
    const heap = backend.wasm.HEAPF32; // after makeOutput: its malloc may have grown the heap
    const xi = offsetOf(backend, x) >>> 2,
      oi = offsetOf(backend, out) >>> 2;
    const acc = new Float64Array(inner);
    for (let r = 0; r < rows; r++) {
      const row = xi + r * inner;
      for (let j = 0; j < inner; j++) acc[j] += heap[row + j];
    }
    for (let j = 0; j < inner; j++) heap[oi + j] = acc[j];
    return out;
  };
}
