// BatchMatMul for the WASM backend that stays on a fast path. The published kernel (tfjs-backend-wasm
// 4.22.0, batch_mat_mul_impl.cc) uses XNNPACK only when neither operand is transposed and both batches
// are 1; every matmul gradient and attention product falls to a scalar loop (BENCHMARKS.md, "Measurements
// behind design choices"). In order: (0) with a system BLAS loaded (../blas.ts) every float32 product is
// its sgemm on the heap, transposes as flags; else (1) a transposed operand is materialised by Transpose;
// (2) a batch-1 b folds a's batch into rows; (3) other batches call XNNPACK per slice on heap offsets;
// (3b) a vocabulary-long inner dimension is summed in K_BLOCK blocks; (4) a few rows against a batch-1 b
// (a decode step) is a JS loop, since packing all of b for one row costs more than the product.
// Sibling kernels: unsorted-segment-sum.ts, conv2d-backprop-filter.ts; heap access in wasm-heap.ts.
import * as tf from '@tensorflow/tfjs';
import { activeBlas, type Blas } from '../blas.js';
import { matmulAt, offsetOf, scratchF32, transposeAt, type WasmBackendLike } from './wasm-heap.js';

// Below this many multiply-adds per slice the per-call cost of creating an XNNPACK operator (packing b)
// outweighs the faster inner loop, so tiny products keep the shipped kernel.
const MIN_SLICE_MACS = 8 * 8 * 8;
// Up to this many output rows (over the whole batch) against a batch-1 b, the JS loop beats packing b.
const SMALL_ROWS = 4;
// Inner dimensions above K_BLOCK are summed in blocks of K_BLOCK (see (3b) above).
const K_BLOCK = 1024;

interface BatchMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

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
    const blas = activeBlas();
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || k !== kB || (m * k * n < MIN_SLICE_MACS && !blas)) {
      return shipped(args); // the shipped kernel also raises the dtype and shape errors
    }
    const outOuter = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
    const batch = tf.util.sizeFromShape(outOuter);
    // Each operand must either fill the output batch (same layout) or be a single matrix reused by all.
    if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return shipped(args);
    const out = backend.makeOutput([...outOuter, m, n], 'float32');
    const wasm = backend.wasm;
    if (blas) {
      blasMatMul(
        blas,
        wasm.HEAPF32,
        offsetOf(backend, a) >>> 2,
        offsetOf(backend, b) >>> 2,
        offsetOf(backend, out) >>> 2,
        { batch, batchA, batchB, m, k, n, transposeA, transposeB },
      );
      return out;
    }
    if (batchB === 1 && batchA * m <= SMALL_ROWS) {
      smallRows(
        wasm.HEAPF32,
        offsetOf(backend, a) >>> 2,
        offsetOf(backend, b) >>> 2,
        offsetOf(backend, out) >>> 2,
        batchA * m,
        m,
        k,
        n,
        transposeA,
        transposeB,
      );
      return out;
    }

    if (batchB === 1 && k > K_BLOCK && (batchA === 1 || !transposeA)) {
      blockedOverK(backend, a, b, out, batchA * m, k, n, transposeA, transposeB);
      return out;
    }
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

interface Product {
  batch: number;
  batchA: number;
  batchB: number;
  m: number;
  k: number;
  n: number;
  transposeA: boolean;
  transposeB: boolean;
}

/** out = op(a)·op(b) by sgemm on heap views (float indices); k = 0 (an empty sum) writes zeros. */
function blasMatMul(blas: Blas, heap: Float32Array, aBase: number, bBase: number, oBase: number, p: Product): void {
  const { batch, batchA, batchB, m, k, n, transposeA: ta, transposeB: tb } = p;
  const view = (base: number, size: number) => heap.subarray(base, base + size);
  const lda = ta ? m : k,
    ldb = tb ? k : n;
  if (m * n === 0) return;
  if (k === 0) {
    heap.fill(0, oBase, oBase + batch * m * n);
    return;
  }
  if (batchB === 1 && !ta) {
    // rows of every a slice are contiguous: one [batchA·M, K]·[K, N] call
    blas.sgemm(
      false,
      tb,
      batchA * m,
      n,
      k,
      1,
      view(aBase, batchA * m * k),
      lda,
      view(bBase, k * n),
      ldb,
      0,
      view(oBase, batchA * m * n),
      n,
    );
    return;
  }
  for (let s = 0; s < batch; s++) {
    const aS = aBase + (batchA === 1 ? 0 : s * m * k),
      bS = bBase + (batchB === 1 ? 0 : s * k * n);
    blas.sgemm(ta, tb, m, n, k, 1, view(aS, m * k), lda, view(bS, k * n), ldb, 0, view(oBase + s * m * n, m * n), n);
  }
}

/**
 * out[r, :] = a[r, :]·b for `rows` rows (a's batch folded into rows, b one matrix), read in place with
 * either operand transposed; sums in float64. Offsets are float indices into `heap`.
 */
function smallRows(
  heap: Float32Array,
  aBase: number,
  bBase: number,
  oBase: number,
  rows: number,
  m: number,
  k: number,
  n: number,
  ta: boolean,
  tb: boolean,
): void {
  const acc = new Float64Array(tb ? 0 : n);
  for (let r = 0; r < rows; r++) {
    const s = Math.floor(r / m),
      i = r - s * m;
    const aS = aBase + s * m * k;
    const aStart = ta ? aS + i : aS + i * k,
      aStep = ta ? m : 1; // a[r, kk] = heap[aStart + kk·aStep]
    const o = oBase + r * n;
    if (tb) {
      // b is [n, k]: rows of b are contiguous dot products
      for (let j = 0; j < n; j++) {
        const bRow = bBase + j * k;
        let sum = 0;
        for (let kk = 0, ai = aStart; kk < k; kk++, ai += aStep) sum += heap[ai] * heap[bRow + kk];
        heap[o + j] = sum;
      }
    } else {
      // b is [k, n]: accumulate a[r, kk]·b[kk, :]
      acc.fill(0);
      for (let kk = 0, ai = aStart; kk < k; kk++, ai += aStep) {
        const av = heap[ai];
        if (av === 0) continue;
        const bRow = bBase + kk * n;
        for (let j = 0; j < n; j++) acc[j] += av * heap[bRow + j];
      }
      for (let j = 0; j < n; j++) heap[o + j] = acc[j];
    }
  }
}

/**
 * out[rows, N] = Σ over K blocks of a[:, block]·b[block, :], b one matrix. a is [rows, K] (or [K, rows]
 * when transposed, batch 1), b is [K, N] (or [N, K] when transposed, materialised once).
 */
function blockedOverK(
  backend: WasmBackendLike,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  out: tf.TensorInfo,
  rows: number,
  k: number,
  n: number,
  ta: boolean,
  tb: boolean,
): void {
  const wasm = backend.wasm;
  const bT = tb ? scratchF32(wasm, k * n) : null;
  const aBlock = scratchF32(wasm, rows * K_BLOCK); // [rows, kc]
  const partial = scratchF32(wasm, rows * n);
  try {
    if (bT) transposeAt(wasm, offsetOf(backend, b), bT.offset, 1, n, k);
    const bOff = bT ? bT.offset : offsetOf(backend, b);
    const outOff = offsetOf(backend, out);
    for (let k0 = 0; k0 < k; k0 += K_BLOCK) {
      const kc = Math.min(K_BLOCK, k - k0);
      const aOff = offsetOf(backend, a); // re-read: scratch mallocs may have grown the heap
      if (ta) {
        transposeAt(wasm, aOff + k0 * rows * 4, aBlock.offset, 1, kc, rows); // rows k0..k0+kc of [K, rows] → [rows, kc]
      } else {
        const h = wasm.HEAPF32,
          src = aOff >>> 2,
          dst = aBlock.offset >>> 2;
        for (let r = 0; r < rows; r++) h.copyWithin(dst + r * kc, src + r * k + k0, src + r * k + k0 + kc);
      }
      matmulAt(wasm, aBlock.offset, bOff + k0 * n * 4, k0 === 0 ? outOff : partial.offset, rows, kc, n);
      if (k0 > 0) {
        const h = wasm.HEAPF32,
          o = outOff >>> 2,
          p = partial.offset >>> 2;
        for (let i = 0; i < rows * n; i++) h[o + i] += h[p + i];
      }
    }
  } finally {
    bT?.free();
    aBlock.free();
    partial.free();
  }
}
