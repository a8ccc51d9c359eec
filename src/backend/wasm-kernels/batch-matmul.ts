// BatchMatMul for the WASM backend that stays on XNNPACK's fast path. The published kernel
// (tfjs-backend-wasm 4.22.0, src/cc/batch_mat_mul_impl.cc) uses XNNPACK only when neither operand is
// transposed AND both batches are 1; everything else — every matmul gradient, every attention matmul —
// runs a scalar blocked loop about 10× slower. Here: (1) a transposed operand is materialised with the
// wasm Transpose kernel (memory-bound, cheap next to the O(MKN) product); (2) when b has batch 1 (a
// linear layer on [B, T, C] activations) a's batch folds into rows: one [B*M, K]×[K, N] call; (3)
// otherwise each batch slice calls XNNPACK on pointer offsets into the heap (no copies).
// Sibling kernels: unsorted-segment-sum.ts, conv2d-backprop-filter.ts; heap access in wasm-heap.ts.
import * as tf from '@tensorflow/tfjs';
import { matmulAt, offsetOf, scratchF32, transposeAt, type WasmBackendLike } from './wasm-heap.js';

// Below this many multiply-adds per slice the per-call cost of creating an XNNPACK operator (packing b)
// outweighs the faster inner loop, so tiny products keep the shipped kernel.
const MIN_SLICE_MACS = 8 * 8 * 8;

interface BatchMatMulAttrs { transposeA: boolean; transposeB: boolean }

/** Builds the kernelFunc; `shipped` is the published kernel, used for cases we do not speed up. */
export function makeBatchMatMul(shipped: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as WasmBackendLike;
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as BatchMatMulAttrs;
    const aRank = a.shape.length;
    const bRank = b.shape.length;
    const m = transposeA ? a.shape[aRank - 1] : a.shape[aRank - 2];
    const k = transposeA ? a.shape[aRank - 2] : a.shape[aRank - 1];
    const kB = transposeB ? b.shape[bRank - 1] : b.shape[bRank - 2];
    const n = transposeB ? b.shape[bRank - 2] : b.shape[bRank - 1];
    const outerA = a.shape.slice(0, -2);
    const outerB = b.shape.slice(0, -2);
    const batchA = tf.util.sizeFromShape(outerA);
    const batchB = tf.util.sizeFromShape(outerB);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || k !== kB || m * k * n < MIN_SLICE_MACS) {
      return shipped(args); // the shipped kernel also raises the dtype and shape errors
    }
    const outOuter = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
    const batch = tf.util.sizeFromShape(outOuter);
    // Each operand must either fill the output batch (same layout) or be a single matrix reused by all.
    if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return shipped(args);
    const out = backend.makeOutput([...outOuter, m, n], 'float32');
    const wasm = backend.wasm;

    // Operands in no-transpose layout: a as [batchA, M, K], b as [batchB, K, N].
    const aT = transposeA ? scratchF32(wasm, batchA * m * k) : null;
    const bT = transposeB ? scratchF32(wasm, batchB * k * n) : null;
    try {
      if (aT) transposeAt(wasm, offsetOf(backend, a), aT.offset, batchA, k, m);
      if (bT) transposeAt(wasm, offsetOf(backend, b), bT.offset, batchB, n, k);
      const aOff = aT ? aT.offset : offsetOf(backend, a);
      const bOff = bT ? bT.offset : offsetOf(backend, b);
      const outOff = offsetOf(backend, out);
      if (batchB === 1) {
        matmulAt(wasm, aOff, bOff, outOff, batchA * m, k, n); // [B*M, K]×[K, N]
      } else {
        for (let s = 0; s < batch; s++) {
          const aS = batchA === 1 ? aOff : aOff + s * m * k * 4;
          matmulAt(wasm, aS, bOff + s * k * n * 4, outOff + s * m * n * 4, m, k, n);
        }
      }
    } finally {
      aT?.free();
      bT?.free();
    }
    return out;
  };
}
