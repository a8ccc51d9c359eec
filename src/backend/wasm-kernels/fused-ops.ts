// Fused training ops as kernels of their own, so one pass over the wasm heap replaces a chain of
// tfjs ops (each a full read + write of a large tensor, some — Exp, Pow, Tanh — scalar libm loops):
//   HyperlmSoftmaxXent      logits [N, V], targets int32 [N] → nll [N], e [N, V], inv [N]
//                           nll[n] = logsumexp(logits[n]) − logits[n, targets[n]]; e = exp(logits − rowmax) and
//                           inv = 1/Σ_v e are kept for the gradient (softmax = e·inv, never normalised in place)
//   HyperlmSoftmaxXentGrad  e, inv, targets, dy [N] → dlogits[n, v] = dy[n]·(e[n, v]·inv[n] − [v = targets[n]])
//   HyperlmGelu             x → y = 0.5·x·(1 + tanh(u)), u = c·(x + 0.044715·x³), c = √(2/π) (GPT-2 "gelu_new"),
//                           and e = exp(−2u) kept for the gradient (1 ± tanh(u) follow from it)
//   HyperlmGeluGrad         x, e, dy → dy·(0.5·(1 + t) + 0.5·x·(1 − t²)·c·(1 + 3·0.044715·x²))
// The same maths as composite tfjs ops lives in src/model/fused.ts, which picks these kernels when the
// active backend has them (wasm) and the composite otherwise; test/backend-fused.test.ts checks the two
// agree. Sibling kernels: batch-matmul.ts (matmul fast paths); heap access in wasm-heap.ts.
import * as tf from '@tensorflow/tfjs';
import { offsetOf, type WasmBackendLike } from './wasm-heap.js';

export const SOFTMAX_XENT = 'HyperlmSoftmaxXent';
export const SOFTMAX_XENT_GRAD = 'HyperlmSoftmaxXentGrad';
export const GELU = 'HyperlmGelu';
export const GELU_GRAD = 'HyperlmGeluGrad';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

function checkFloat(kernel: string, name: string, t: tf.TensorInfo): void {
  if (t.dtype !== 'float32') throw new Error(`${kernel} (wasm): ${name} must be float32, got ${t.dtype}`);
}

const softmaxXent: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackendLike;
  const { logits, targets } = args.inputs as { logits: tf.TensorInfo; targets: tf.TensorInfo };
  checkFloat(SOFTMAX_XENT, 'logits', logits);
  const [N, V] = logits.shape;
  if (logits.shape.length !== 2 || targets.shape.length !== 1 || targets.shape[0] !== N) {
    throw new Error(`${SOFTMAX_XENT} (wasm): logits must be [N, V] and targets [N], got [${logits.shape}] and [${targets.shape}]`);
  }
  const nll = backend.makeOutput([N], 'float32');
  const exps = backend.makeOutput([N, V], 'float32');
  const invs = backend.makeOutput([N], 'float32');
  const heap = backend.wasm.HEAPF32; // after makeOutput: its malloc may have grown the heap
  const ids = backend.wasm.HEAP32;
  const x = offsetOf(backend, logits) >>> 2, p = offsetOf(backend, exps) >>> 2, iv = offsetOf(backend, invs) >>> 2;
  const out = offsetOf(backend, nll) >>> 2, tg = offsetOf(backend, targets) >>> 2;
  for (let n = 0; n < N; n++) {
    const row = x + n * V, prow = p + n * V;
    const target = ids[tg + n];
    if (!(target >= 0 && target < V)) throw new Error(`${SOFTMAX_XENT} (wasm): targets[${n}] = ${target} is outside [0, ${V})`);
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (heap[row + v] > max) max = heap[row + v];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += (heap[prow + v] = Math.exp(heap[row + v] - max));
    heap[iv + n] = 1 / sum;
    heap[out + n] = max + Math.log(sum) - heap[row + target];
  }
  return [nll, exps, invs];
};

const softmaxXentGrad: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackendLike;
  const { e, inv, targets, dy } = args.inputs as { e: tf.TensorInfo; inv: tf.TensorInfo; targets: tf.TensorInfo; dy: tf.TensorInfo };
  checkFloat(SOFTMAX_XENT_GRAD, 'dy', dy);
  const [N, V] = e.shape;
  const dx = backend.makeOutput([N, V], 'float32');
  const heap = backend.wasm.HEAPF32;
  const ids = backend.wasm.HEAP32;
  const p = offsetOf(backend, e) >>> 2, iv = offsetOf(backend, inv) >>> 2, g = offsetOf(backend, dy) >>> 2;
  const o = offsetOf(backend, dx) >>> 2, tg = offsetOf(backend, targets) >>> 2;
  for (let n = 0; n < N; n++) {
    const dyn = heap[g + n], scale = dyn * heap[iv + n], prow = p + n * V, orow = o + n * V;
    for (let v = 0; v < V; v++) heap[orow + v] = heap[prow + v] * scale;
    heap[orow + ids[tg + n]] -= dyn;
  }
  return dx;
};

/**
 * 1 + tanh(u) = 2/(1 + e^{−2u}) and 1 − tanh(u) = 2e^{−2u}/(1 + e^{−2u}), each without cancellation, so
 * GELU keeps its relative accuracy on the far negative side (where 1 + tanh underflows in float32 ops).
 */
function onePlusTanh(e: number): number {
  return 2 / (1 + e);
}

const gelu: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackendLike;
  const { x } = args.inputs as { x: tf.TensorInfo };
  checkFloat(GELU, 'x', x);
  const y = backend.makeOutput(x.shape, 'float32');
  const exps = backend.makeOutput(x.shape, 'float32');
  const heap = backend.wasm.HEAPF32;
  const xi = offsetOf(backend, x) >>> 2, yi = offsetOf(backend, y) >>> 2, ei = offsetOf(backend, exps) >>> 2;
  const size = tf.util.sizeFromShape(x.shape);
  for (let i = 0; i < size; i++) {
    const v = heap[xi + i];
    const e = Math.exp(-2 * GELU_C * (v + GELU_A * v * v * v));
    heap[ei + i] = e;
    heap[yi + i] = 0.5 * v * onePlusTanh(e);
  }
  return [y, exps];
};

const geluGrad: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackendLike;
  const { x, e: exps, dy } = args.inputs as { x: tf.TensorInfo; e: tf.TensorInfo; dy: tf.TensorInfo };
  checkFloat(GELU_GRAD, 'dy', dy);
  const dx = backend.makeOutput(x.shape, 'float32');
  const heap = backend.wasm.HEAPF32;
  const xi = offsetOf(backend, x) >>> 2, ei = offsetOf(backend, exps) >>> 2;
  const gi = offsetOf(backend, dy) >>> 2, oi = offsetOf(backend, dx) >>> 2;
  const size = tf.util.sizeFromShape(x.shape);
  for (let i = 0; i < size; i++) {
    const v = heap[xi + i];
    const e = heap[ei + i];
    const p = onePlusTanh(e), m = e > 1 ? 2 - p : p * e; // 1 + t, 1 − t (each side where it does not cancel)
    heap[oi + i] = heap[gi + i] * (0.5 * p + 0.5 * v * p * m * GELU_C * (1 + 3 * GELU_A * v * v));
  }
  return dx;
};

/** Kernel configs for backend 'wasm' (installed by register.ts). */
export const FUSED_WASM_KERNELS: tf.KernelConfig[] = [
  { kernelName: SOFTMAX_XENT, backendName: 'wasm', kernelFunc: softmaxXent },
  { kernelName: SOFTMAX_XENT_GRAD, backendName: 'wasm', kernelFunc: softmaxXentGrad },
  { kernelName: GELU, backendName: 'wasm', kernelFunc: gelu },
  { kernelName: GELU_GRAD, backendName: 'wasm', kernelFunc: geluGrad },
];
