// Raw access to the WASM backend's heap for our kernels: typed views of a tensor's bytes, temporary
// tensor ids that point INTO an existing buffer (a batch slice), and the two exported C functions we
// reuse — XNNPACK's fully-connected matmul (`BatchMatMul` with batch 1, no transposes) and `Transpose`.
// The published backend keeps `dataIdMap.get(dataId).memoryOffset` per tensor and the C side looks
// tensors up by an integer id registered with `tfjs.registerTensor(id, size, offset)`; registering a
// fresh id over a sub-range lets us call the fast C path on slices with zero copies.
import * as tf from '@tensorflow/tfjs';

/** The parts of the Emscripten module (`backend.wasm`) our kernels touch. */
export interface WasmModuleLike {
  HEAPU8: Uint8Array;
  HEAPF32: Float32Array;
  HEAP32: Int32Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
  tfjs: {
    registerTensor(id: number, size: number, memoryOffset: number): void;
    disposeData(id: number): void;
  };
}

interface TensorDataLike {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: tf.DataType;
}

/** The parts of `BackendWasm` (tfjs-backend-wasm 4.22.0) our kernels touch. */
export interface WasmBackendLike {
  wasm: WasmModuleLike;
  dataIdMap: { get(dataId: object): TensorDataLike };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/**
 * A float32 tensor's values as a live view of the WASM heap (no copy), or undefined when the active
 * backend is not WASM or the tensor is not float32. Use it at once: the heap's buffer is replaced when
 * it grows.
 */
export function heapViewF32(t: tf.Tensor): Float32Array | undefined {
  if (t.dtype !== 'float32' || tf.getBackend() !== 'wasm') return undefined;
  const backend = tf.backend() as unknown as WasmBackendLike;
  return new Float32Array(backend.wasm.HEAPU8.buffer, offsetOf(backend, t), t.size);
}

/** Byte offset of a tensor's data on the wasm heap. */
export function offsetOf(backend: WasmBackendLike, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

// Ids for temporary slice tensors. The backend's own ids count up from 1; ours count down from 2^31-1
// so the two ranges never meet in practice, and each temporary id is unregistered right after use
// (which also frees the XNNPACK operator cached on it — the C side caches packed weights per b-id).
let nextTempId = 0x7fffffff;

interface CFuncs {
  batchMatMul: (...args: unknown[]) => void;
  transpose: (...args: unknown[]) => void;
}
const cfuncs = new WeakMap<WasmModuleLike, CFuncs>();

function cFuncsOf(wasm: WasmModuleLike): CFuncs {
  let f = cfuncs.get(wasm);
  if (f === undefined) {
    f = {
      // (a_id, a_shape[], a_rank, b_id, b_shape[], b_rank, transpose_a, transpose_b, out_id)
      batchMatMul: wasm.cwrap('BatchMatMul', null, [
        'number',
        'array',
        'number',
        'number',
        'array',
        'number',
        'number',
        'number',
        'number',
      ]),
      // (x_id, x_shape[], x_rank, dtype, out_id, perm[], perm_len)
      transpose: wasm.cwrap('Transpose', null, ['number', 'array', 'number', 'number', 'number', 'array', 'number']),
    };
    cfuncs.set(wasm, f);
  }
  return f;
}

function int32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(values).buffer);
}

/** Runs `fn` with temporary C-side ids registered over [offset, offset + size*4) ranges. */
function withIds<T>(wasm: WasmModuleLike, ranges: Array<[offset: number, size: number]>, fn: (ids: number[]) => T): T {
  const ids = ranges.map(([offset, size]) => {
    const id = nextTempId--;
    wasm.tfjs.registerTensor(id, size, offset);
    return id;
  });
  try {
    return fn(ids);
  } finally {
    for (const id of ids) wasm.tfjs.disposeData(id);
  }
}

/**
 * out[M, N] = a[M, K] · b[K, N], float32, all row-major at byte offsets on the heap. XNNPACK's
 * fully-connected path (its speed: `npm run bench:kernels`); it packs `b` once per call.
 */
export function matmulAt(
  wasm: WasmModuleLike,
  aOff: number,
  bOff: number,
  outOff: number,
  m: number,
  k: number,
  n: number,
): void {
  const { batchMatMul } = cFuncsOf(wasm);
  withIds(
    wasm,
    [
      [aOff, m * k],
      [bOff, k * n],
      [outOff, m * n],
    ],
    ([a, b, out]) => {
      batchMatMul(a, int32Bytes([1, m, k]), 3, b, int32Bytes([1, k, n]), 3, 0, 0, out);
    },
  );
}

/** out[batch, cols, rows] = in[batch, rows, cols]ᵀ, float32, via the published Transpose kernel. */
export function transposeAt(
  wasm: WasmModuleLike,
  inOff: number,
  outOff: number,
  batch: number,
  rows: number,
  cols: number,
): void {
  const { transpose } = cFuncsOf(wasm);
  const size = batch * rows * cols;
  withIds(
    wasm,
    [
      [inOff, size],
      [outOff, size],
    ],
    ([x, out]) => {
      if (batch === 1) transpose(x, int32Bytes([rows, cols]), 2, 0, out, int32Bytes([1, 0]), 2);
      else transpose(x, int32Bytes([batch, rows, cols]), 3, 0, out, int32Bytes([0, 2, 1]), 3);
    },
  );
}

/** Scratch float32 buffer on the heap; call the returned `free` when done. */
export function scratchF32(wasm: WasmModuleLike, size: number): { offset: number; free: () => void } {
  const offset = wasm._malloc(Math.max(1, size) * 4) >>> 0;
  return { offset, free: () => wasm._free(offset) };
}
