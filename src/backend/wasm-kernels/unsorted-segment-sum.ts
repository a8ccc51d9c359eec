// UnsortedSegmentSum for the WASM backend, which ships without it — so the gradient of `tf.gather`
// (an embedding lookup) fails there. out[s, ...] = Σ_{i : ids[i] = s} x[i, ...], with ids shaped like a
// prefix of x (TF semantics); ids outside [0, numSegments) are skipped, as TensorFlow does for negative
// ids. One pass in JS directly over typed views of the wasm heap: O(size(x)), no temporaries.
// Sibling kernels: batch-matmul.ts, conv2d-backprop-filter.ts; heap access in wasm-heap.ts.
import * as tf from '@tensorflow/tfjs';
import { offsetOf, type WasmBackendLike } from './wasm-heap.js';
import { HyperlmError } from '../../errors.js';

export const unsortedSegmentSum: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackendLike;
  const { x, segmentIds } = args.inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const { numSegments } = args.attrs as unknown as { numSegments: number };
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new HyperlmError('INTERNAL', `UnsortedSegmentSum (wasm): x.dtype must be float32 or int32, got ${x.dtype}`);
  }
  const idsRank = segmentIds.shape.length;
  if (!segmentIds.shape.every((d, i) => d === x.shape[i])) {
    throw new HyperlmError(
      'INTERNAL',
      `UnsortedSegmentSum (wasm): segmentIds shape [${segmentIds.shape}] must be a prefix of x shape [${x.shape}]`,
    );
  }
  const rows = tf.util.sizeFromShape(segmentIds.shape);
  const inner = tf.util.sizeFromShape(x.shape.slice(idsRank)); // elements summed per id
  const out = backend.makeOutput([numSegments, ...x.shape.slice(idsRank)], x.dtype);
  const wasm = backend.wasm;
  // Views are taken after makeOutput, whose malloc may have grown (and replaced) the heap buffer.
  const heap = x.dtype === 'float32' ? wasm.HEAPF32 : wasm.HEAP32;
  const ids = wasm.HEAP32;
  const xBase = offsetOf(backend, x) >>> 2;
  const idBase = offsetOf(backend, segmentIds) >>> 2;
  const outBase = offsetOf(backend, out) >>> 2;
  heap.fill(0, outBase, outBase + numSegments * inner);
  for (let i = 0; i < rows; i++) {
    const s = ids[idBase + i];
    if (s < 0 || s >= numSegments) continue;
    const src = xBase + i * inner;
    const dst = outBase + s * inner;
    for (let j = 0; j < inner; j++) heap[dst + j] += heap[src + j];
  }
  return out;
};
