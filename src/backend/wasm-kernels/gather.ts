// GatherV2 for the WASM backend, for the embedding lookup: rows of a table (axis 0, no batch dims,
// float32 or int32) copied with one `copyWithin` per index. The published kernel reads the indices back,
// then walks every element through generic strides: ~25 ms for 2,048 rows of 256 floats here, against
// ~1 ms for the row copies (BENCHMARKS.md, "Measurements"). Every other gather goes to the published
// kernel. Out-of-range indices are an error naming the index, as the published kernel's assertion is.
// Sibling kernels: unsorted-segment-sum.ts (the gradient), sum.ts; heap access in wasm-heap.ts.
import * as tf from '@tensorflow/tfjs';
import { offsetOf, type WasmBackendLike } from './wasm-heap.js';
import { HyperlmError } from '../../errors.js';

interface GatherAttrs {
  axis: number;
  batchDims: number;
}

export function makeGather(shipped: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmBackendLike;
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as unknown as GatherAttrs;
    const rowsAxis = tf.util.parseAxisParam(axis, x.shape)[0];
    if (
      rowsAxis !== 0 ||
      batchDims !== 0 ||
      (x.dtype !== 'float32' && x.dtype !== 'int32') ||
      indices.dtype !== 'int32'
    )
      return shipped(args);
    const n = x.shape[0];
    const inner = tf.util.sizeFromShape(x.shape.slice(1));
    const count = tf.util.sizeFromShape(indices.shape);
    const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    if (count === 0 || inner === 0) return out;
    // views after makeOutput: its malloc may have grown (and replaced) the heap buffer
    const heap = x.dtype === 'float32' ? backend.wasm.HEAPF32 : backend.wasm.HEAP32;
    const ids = backend.wasm.HEAP32;
    const xi = offsetOf(backend, x) >>> 2,
      ii = offsetOf(backend, indices) >>> 2,
      oi = offsetOf(backend, out) >>> 2;
    for (let k = 0; k < count; k++) {
      const row = ids[ii + k];
      if (!(row >= 0 && row < n)) {
        backend.disposeData(out.dataId);
        throw new HyperlmError('MODEL_BAD_INPUT', `GatherV2 (wasm): index ${k} is ${row}, outside [0, ${n})`);
      }
      heap.copyWithin(oi + k * inner, xi + row * inner, xi + (row + 1) * inner);
    }
    return out;
  };
}
