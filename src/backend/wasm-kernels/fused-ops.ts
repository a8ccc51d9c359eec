// Fused training ops as kernels of their own, so one pass over the wasm heap replaces a chain of tfjs ops
// (each a full read + write; Exp, Pow, Tanh scalar libm loops). The transcendental part runs in the
// published backend's XNNPACK Softmax/Sigmoid, the rest is one JS pass (after Megatron-LM's fused kernels):
//   HyperlmSoftmaxXent(logits, targets) → nll, probs      HyperlmSoftmaxXentGrad(probs, targets, dy) → dlogits
//   HyperlmGelu(x) → y = x·σ(2u), u = √(2/π)(x + 0.044715x³) (GPT-2 "gelu_new"), s = σ(2u) kept; HyperlmGeluGrad(x, s, dy)
//   HyperlmLayerNorm(x, gain, bias) → y, rstd (per row, float64 sums)   HyperlmLayerNormGrad(x, gain, rstd, dy) → dx, dgain, dbias
// src/nn/fused.ts holds the same maths as composite tfjs ops and picks these kernels when the backend has
// them; test/backend-fused.test.ts checks the two agree. Heap access in wasm-heap.ts.
import * as tf from '@tensorflow/tfjs';
import { offsetOf, type WasmBackendLike } from './wasm-heap.js';
import { HyperlmError } from '../../errors.js';

export const SOFTMAX_XENT = 'HyperlmSoftmaxXent';
export const SOFTMAX_XENT_GRAD = 'HyperlmSoftmaxXentGrad';
export const GELU = 'HyperlmGelu';
export const GELU_GRAD = 'HyperlmGeluGrad';
export const LAYER_NORM = 'HyperlmLayerNorm';
export const LAYER_NORM_GRAD = 'HyperlmLayerNormGrad';

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;

function checkFloat(kernel: string, name: string, t: tf.TensorInfo): void {
  if (t.dtype !== 'float32')
    throw new HyperlmError('INTERNAL', `${kernel} (wasm): ${name} must be float32, got ${t.dtype}`);
}

/** A published wasm kernel's function (Softmax, Sigmoid: XNNPACK's vectorised versions), called on heap tensors. */
function shipped(name: string): tf.KernelFunc {
  const kernel = tf.getKernel(name, 'wasm');
  if (kernel === undefined)
    throw new HyperlmError('INTERNAL', `fused-ops: @tensorflow/tfjs-backend-wasm has no ${name} kernel`);
  return kernel.kernelFunc;
}

const softmaxXent: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackendLike;
  const { logits, targets } = args.inputs as { logits: tf.TensorInfo; targets: tf.TensorInfo };
  checkFloat(SOFTMAX_XENT, 'logits', logits);
  const [N, V] = logits.shape;
  if (logits.shape.length !== 2 || targets.shape.length !== 1 || targets.shape[0] !== N) {
    throw new HyperlmError(
      'INTERNAL',
      `${SOFTMAX_XENT} (wasm): logits must be [N, V] and targets [N], got [${logits.shape}] and [${targets.shape}]`,
    );
  }
  const tg = offsetOf(backend, targets) >>> 2;
  const ids = backend.wasm.HEAP32.slice(tg, tg + N); // a copy: the outputs' mallocs below may grow the heap
  for (let n = 0; n < N; n++) {
    const target = ids[n];
    if (!(target >= 0 && target < V))
      throw new HyperlmError(
        'MODEL_BAD_INPUT',
        `${SOFTMAX_XENT} (wasm): targets[${n}] = ${target} is outside [0, ${V})`,
      );
  }
  const probs = shipped('Softmax')({ backend: args.backend, inputs: { logits }, attrs: { dim: 1 } }) as tf.TensorInfo;
  const nll = backend.makeOutput([N], 'float32');
  const heap = backend.wasm.HEAPF32; // after makeOutput: its malloc may have grown the heap
  const x = offsetOf(backend, logits) >>> 2,
    p = offsetOf(backend, probs) >>> 2,
    out = offsetOf(backend, nll) >>> 2;
  for (let n = 0; n < N; n++) {
    const target = ids[n];
    const pt = heap[p + n * V + target];
    // −log p is exact to float32 rounding while p is a normal float; below that, recompute the row's
    // logsumexp from the logits (rare: the target is > ~69 nats below the top logit).
    heap[out + n] = pt > 1e-30 ? -Math.log(pt) : rowLogSumExp(heap, x + n * V, V) - heap[x + n * V + target];
  }
  return [nll, probs];
};

function rowLogSumExp(heap: Float32Array, row: number, V: number): number {
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (heap[row + v] > max) max = heap[row + v];
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(heap[row + v] - max);
  return max + Math.log(sum);
}

const softmaxXentGrad: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackendLike;
  const { probs, targets, dy } = args.inputs as { probs: tf.TensorInfo; targets: tf.TensorInfo; dy: tf.TensorInfo };
  checkFloat(SOFTMAX_XENT_GRAD, 'dy', dy);
  const [N, V] = probs.shape;
  const dx = backend.makeOutput([N, V], 'float32');
  const heap = backend.wasm.HEAPF32;
  const ids = backend.wasm.HEAP32;
  const p = offsetOf(backend, probs) >>> 2,
    g = offsetOf(backend, dy) >>> 2;
  const o = offsetOf(backend, dx) >>> 2,
    tg = offsetOf(backend, targets) >>> 2;
  for (let n = 0; n < N; n++) {
    const dyn = heap[g + n],
      prow = p + n * V,
      orow = o + n * V;
    for (let v = 0; v < V; v++) heap[orow + v] = heap[prow + v] * dyn;
    heap[orow + ids[tg + n]] -= dyn;
  }
  return dx;
};

// GELU through a sigmoid: 0.5·(1 + tanh(u)) = σ(2u), so y = x·σ(z) with z = 2c·(x + 0.044715·x³), and
// σ comes from XNNPACK's vectorised Sigmoid (accurate in relative terms on the far negative side, where
// 1 + tanh(u) would cancel), leaving only multiply-adds for the JS loops here.
const gelu: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackendLike;
  const { x } = args.inputs as { x: tf.TensorInfo };
  checkFloat(GELU, 'x', x);
  const y = backend.makeOutput(x.shape, 'float32'); // holds z first, then y
  const size = tf.util.sizeFromShape(x.shape);
  {
    const heap = backend.wasm.HEAPF32;
    const xi = offsetOf(backend, x) >>> 2,
      zi = offsetOf(backend, y) >>> 2;
    for (let i = 0; i < size; i++) {
      const v = heap[xi + i];
      heap[zi + i] = 2 * GELU_C * (v + GELU_A * v * v * v);
    }
  }
  const sig = shipped('Sigmoid')({ backend: args.backend, inputs: { x: y }, attrs: {} }) as tf.TensorInfo;
  const heap = backend.wasm.HEAPF32;
  const xi = offsetOf(backend, x) >>> 2,
    yi = offsetOf(backend, y) >>> 2,
    si = offsetOf(backend, sig) >>> 2;
  for (let i = 0; i < size; i++) heap[yi + i] = heap[xi + i] * heap[si + i];
  return [y, sig];
};

const geluGrad: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackendLike;
  const { x, s: sig, dy } = args.inputs as { x: tf.TensorInfo; s: tf.TensorInfo; dy: tf.TensorInfo };
  checkFloat(GELU_GRAD, 'dy', dy);
  const dx = backend.makeOutput(x.shape, 'float32');
  const heap = backend.wasm.HEAPF32;
  const xi = offsetOf(backend, x) >>> 2,
    si = offsetOf(backend, sig) >>> 2;
  const gi = offsetOf(backend, dy) >>> 2,
    oi = offsetOf(backend, dx) >>> 2;
  const size = tf.util.sizeFromShape(x.shape);
  for (let i = 0; i < size; i++) {
    const v = heap[xi + i],
      s = heap[si + i];
    // d/dx [x·σ(z)] = σ + x·σ·(1 − σ)·dz/dx, dz/dx = 2c·(1 + 3·0.044715·x²)
    heap[oi + i] = heap[gi + i] * (s + v * s * (1 - s) * 2 * GELU_C * (1 + 3 * GELU_A * v * v));
  }
  return dx;
};

// LayerNorm over the last axis of x [N, C]: y = (x − μ)·r·g + b, r = 1/√(σ² + eps), with μ and σ² of each row
// summed in float64 (two passes: the mean, then the squared deviations). The composite (tf.moments, then
// five broadcast ops, and autodiff's ~15 ops back) costs ~18 ms per [2048, 256] forward + backward here.
const layerNorm: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackendLike;
  const { x, gain, bias } = args.inputs as { x: tf.TensorInfo; gain: tf.TensorInfo; bias: tf.TensorInfo };
  const { eps } = args.attrs as unknown as { eps: number };
  for (const [name, t] of [
    ['x', x],
    ['gain', gain],
    ['bias', bias],
  ] as const)
    checkFloat(LAYER_NORM, name, t);
  const [N, C] = x.shape;
  if (x.shape.length !== 2 || gain.shape[0] !== C || bias.shape[0] !== C)
    throw new HyperlmError(
      'INTERNAL',
      `${LAYER_NORM} (wasm): x must be [N, C] and gain, bias [C], got [${x.shape}], [${gain.shape}], [${bias.shape}]`,
    );
  const y = backend.makeOutput([N, C], 'float32');
  const rstd = backend.makeOutput([N], 'float32');
  const heap = backend.wasm.HEAPF32; // after makeOutput: its malloc may have grown the heap
  const xi = offsetOf(backend, x) >>> 2,
    gi = offsetOf(backend, gain) >>> 2,
    bi = offsetOf(backend, bias) >>> 2;
  const yi = offsetOf(backend, y) >>> 2,
    ri = offsetOf(backend, rstd) >>> 2;
  for (let n = 0; n < N; n++) {
    const row = xi + n * C;
    let sum = 0;
    for (let c = 0; c < C; c++) sum += heap[row + c];
    const mu = sum / C;
    let sq = 0;
    for (let c = 0; c < C; c++) {
      const d = heap[row + c] - mu;
      sq += d * d;
    }
    const r = 1 / Math.sqrt(sq / C + eps);
    const out = yi + n * C;
    for (let c = 0; c < C; c++) heap[out + c] = (heap[row + c] - mu) * r * heap[gi + c] + heap[bi + c];
    heap[ri + n] = r;
  }
  return [y, rstd];
};

// x̂ = (x − μ)·r, ĝ = dy·g: dx = r·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), dgain = Σ_rows dy·x̂, dbias = Σ_rows dy
// (float64 row means and column sums). μ is summed again here in float64: the forward's μ rounded to float32
// would shift x̂ by up to ulp(μ)·r, which for a row far from zero (μ ≈ 300) is 3e-5; r is the forward's.
const layerNormGrad: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackendLike;
  const { x, gain, rstd, dy } = args.inputs as Record<'x' | 'gain' | 'rstd' | 'dy', tf.TensorInfo>;
  checkFloat(LAYER_NORM_GRAD, 'dy', dy);
  const [N, C] = x.shape;
  const dx = backend.makeOutput([N, C], 'float32');
  const dgain = backend.makeOutput([C], 'float32');
  const dbias = backend.makeOutput([C], 'float32');
  const heap = backend.wasm.HEAPF32;
  const xi = offsetOf(backend, x) >>> 2,
    gi = offsetOf(backend, gain) >>> 2,
    ri = offsetOf(backend, rstd) >>> 2,
    di = offsetOf(backend, dy) >>> 2;
  const oi = offsetOf(backend, dx) >>> 2,
    dgi = offsetOf(backend, dgain) >>> 2,
    dbi = offsetOf(backend, dbias) >>> 2;
  const dg = new Float64Array(C),
    db = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const row = xi + n * C,
      drow = di + n * C,
      orow = oi + n * C;
    let sum = 0;
    for (let c = 0; c < C; c++) sum += heap[row + c];
    const mu = sum / C,
      r = heap[ri + n];
    let sumG = 0,
      sumGX = 0;
    for (let c = 0; c < C; c++) {
      const xh = (heap[row + c] - mu) * r;
      const d = heap[drow + c];
      const gh = d * heap[gi + c];
      sumG += gh;
      sumGX += gh * xh;
      dg[c] += d * xh;
      db[c] += d;
    }
    const mG = sumG / C,
      mGX = sumGX / C;
    for (let c = 0; c < C; c++) {
      const xh = (heap[row + c] - mu) * r;
      heap[orow + c] = r * (heap[drow + c] * heap[gi + c] - mG - xh * mGX);
    }
  }
  for (let c = 0; c < C; c++) {
    heap[dgi + c] = dg[c];
    heap[dbi + c] = db[c];
  }
  return [dx, dgain, dbias];
};

/** Kernel configs for backend 'wasm' (installed by register.ts). */
export const FUSED_WASM_KERNELS: tf.KernelConfig[] = [
  { kernelName: SOFTMAX_XENT, backendName: 'wasm', kernelFunc: softmaxXent },
  { kernelName: SOFTMAX_XENT_GRAD, backendName: 'wasm', kernelFunc: softmaxXentGrad },
  { kernelName: GELU, backendName: 'wasm', kernelFunc: gelu },
  { kernelName: GELU_GRAD, backendName: 'wasm', kernelFunc: geluGrad },
  { kernelName: LAYER_NORM, backendName: 'wasm', kernelFunc: layerNorm },
  { kernelName: LAYER_NORM_GRAD, backendName: 'wasm', kernelFunc: layerNormGrad },
];
