// The fused WASM kernels (src/backend/wasm-kernels/fused-ops.ts, used through src/model/fused.ts)
// against independent references: softmax cross-entropy against the composite tfjs ops on the pure-JS
// 'cpu' backend, tanh-GELU against float64 JS (the float32 composite loses 1 + tanh(u) to cancellation
// for x < −4, so it is only checked loosely; the fused kernel computes x·σ(z), z = 2u rounded to float32
// before XNNPACK's sigmoid — as any float32 GELU rounds its tanh argument — so its bound grows with |z|); values and gradients (of Σ r·f with random r, so dy is not
// uniform), including extreme inputs; an out-of-range target is an error; no tensors leak.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/index.js';
import { embeddingLookup, gelu, layerNorm, softmaxCrossEntropy } from '../src/nn/fused.js';
import { LAYER_NORM, SOFTMAX_XENT } from '../src/backend/wasm-kernels/fused-ops.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

const N = 48,
  V = 1000;
const r = rng(5);
const logits = Float32Array.from({ length: N * V }, (_, i) => (r() - 0.5) * 8 + (i % V === 7 ? 30 : 0)); // one dominant class
const targets = Int32Array.from({ length: N }, (_, n) => (n % 3 === 0 ? 7 : Math.floor(r() * V)));
const rowW = Float32Array.from({ length: N }, () => r() * 2 - 0.5);
const xs = Float32Array.from({ length: 4096 }, (_, i) =>
  i < 8 ? [-30, -10, -3, -1e-3, 0, 1e-3, 3, 30][i] : (r() - 0.5) * 12,
);
const xW = Float32Array.from({ length: xs.length }, () => r() - 0.5);

async function run(backend: 'cpu' | 'wasm'): Promise<Float32Array[]> {
  await selectBackend(backend);
  const out = tf.tidy(() => {
    const x = tf.tensor2d(logits, [N, V]);
    const nll = softmaxCrossEntropy(x, targets);
    const dx = tf.grad((l: tf.Tensor) =>
      softmaxCrossEntropy(l as tf.Tensor2D, targets)
        .mul(tf.tensor1d(rowW))
        .sum(),
    )(x);
    const g = tf.tensor1d(xs);
    const y = gelu(g);
    const dg = tf.grad((v: tf.Tensor) => gelu(v).mul(tf.tensor1d(xW)).sum())(g);
    return [nll, dx, y, dg];
  });
  const data = out.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(out);
  return data;
}

function worstRel(got: Float32Array, ref: Float32Array, floor: number): number {
  let worst = 0;
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref[i]) / (Math.abs(ref[i]) + floor));
  return worst;
}

/** float64 GELU and its derivative (the formulas of fused-ops.ts, independently in Math.tanh). */
function gelu64(x: number): [number, number] {
  const c = Math.sqrt(2 / Math.PI),
    a = 0.044715;
  const t = Math.tanh(c * (x + a * x ** 3));
  return [0.5 * x * (1 + t), 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * a * x * x)];
}

test.serial('fused cross-entropy and GELU on wasm equal the references, values and gradients', async (t) => {
  const ref = await run('cpu');
  const got = await run('wasm');
  t.truthy(tf.getKernel(SOFTMAX_XENT, 'wasm'), 'the fused kernel is registered on wasm');
  const ce = worstRel(got[0], ref[0], 1e-3),
    dce = worstRel(got[1], ref[1], 1e-6);
  t.true(ce < 2e-4, `nll: worst relative difference ${ce}`);
  t.true(dce < 2e-4, `d nll/d logits: worst relative difference ${dce}`);
  t.true(got[0].every(Number.isFinite));
  t.true(got[0][0] < 1e-3, 'a dominant correct class gives nll ≈ 0');
  const U = 2 ** -24;
  let fused = 0,
    composite = 0;
  xs.forEach((x, i) => {
    const [y, dy] = gelu64(x);
    const w = xW[i];
    // Rounding z to float32 changes σ(z) by a relative |z|·(1 − σ)·u ≤ |z|·u; the rest is a few roundings.
    const z = Math.abs(2 * Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3));
    // 1e-14: the float64 reference's own error where 1 + tanh(u) cancels (u ≪ 0)
    // The derivative σ + x·σ(1 − σ)·dz/dx cancels near its root (x ≈ −0.75): bound it by its terms' size.
    const sig = 1 / (1 + Math.exp(z * Math.sign(-x))),
      dz = 2 * Math.sqrt(2 / Math.PI) * (1 + 3 * 0.044715 * x * x);
    const terms = Math.abs(w) * (sig + Math.abs(x) * sig * (1 - sig) * dz);
    fused = Math.max(
      fused,
      Math.abs(got[2][i] - y) / ((4 + z) * U * Math.abs(y) + 1e-14),
      Math.abs(got[3][i] - w * dy) / ((16 + 4 * z) * U * terms + 1e-14),
    );
    composite = Math.max(
      composite,
      Math.abs(ref[2][i] - y) / (4 * U * (1 + x * x)),
      Math.abs(ref[3][i] - w * dy) / (16 * U * (1 + x * x)),
    );
  });
  t.true(fused <= 1, `fused gelu off by ${fused.toFixed(2)}× its float32 bound`);
  t.true(composite <= 1, `composite gelu off by ${composite.toFixed(2)}× its loose bound`);
});

test.serial('an out-of-range target is an error, and the fused ops leak no tensors', async (t) => {
  await selectBackend('wasm');
  const x = tf.tensor2d(logits, [N, V]);
  t.throws(
    () =>
      softmaxCrossEntropy(
        x,
        Int32Array.from(targets, (v, i) => (i === 3 ? V : v)),
      ),
    { message: /targets\[3\] = 1000/ },
  );
  const step = (): void => {
    const dx = tf.grad((l: tf.Tensor) =>
      softmaxCrossEntropy(l as tf.Tensor2D, targets)
        .sum()
        .add(gelu(l).sum()),
    )(x);
    dx.dispose();
  };
  step();
  const before = tf.memory().numTensors;
  step();
  t.is(tf.memory().numTensors, before);
  x.dispose();
});

// embeddingLookup (the token / position embedding, src/nn/fused.ts) and our wasm GatherV2 kernel
// (src/backend/wasm-kernels/gather.ts) against plain JS: rows copied exactly, the gradient the exact
// per-row sums of dy in index order (float32 adds, as a segment sum does), on wasm and on cpu.
test.serial(
  'embeddingLookup: rows and their gradient equal plain JS on wasm and cpu; a bad id is a named error',
  async (t) => {
    const [n, d, B, T] = [40, 6, 3, 7];
    const rr = rng(17);
    const table = Float32Array.from({ length: n * d }, () => rr() - 0.5);
    const ids = Int32Array.from({ length: B * T }, () => Math.floor(rr() * n * 0.4)); // repeats
    const w = Float32Array.from({ length: B * T * d }, () => rr() - 0.5);
    const wantRows = new Float32Array(B * T * d);
    const wantGrad = new Float32Array(n * d);
    ids.forEach((id, k) => {
      for (let j = 0; j < d; j++) {
        wantRows[k * d + j] = table[id * d + j];
        wantGrad[id * d + j] = Math.fround(wantGrad[id * d + j] + w[k * d + j]);
      }
    });
    for (const backend of ['wasm', 'cpu'] as const) {
      await selectBackend(backend);
      const before = tf.memory().numTensors;
      const [rows, grad, viaGather] = tf.tidy(() => {
        const tb = tf.tensor2d(table, [n, d]);
        const idT = tf.tensor2d(ids, [B, T], 'int32');
        const wt = tf.tensor3d(w, [B, T, d]);
        const f = (x: tf.Tensor) =>
          embeddingLookup(x as tf.Tensor2D, idT)
            .mul(wt)
            .sum();
        const g = (x: tf.Tensor) => tf.gather(x, idT).mul(wt).sum();
        return [embeddingLookup(tb, idT), tf.grad(f)(tb), tf.grad(g)(tb)];
      });
      t.deepEqual(rows.shape, [B, T, d]);
      t.deepEqual(Array.from(rows.dataSync()), Array.from(wantRows), `${backend}: rows`);
      // wasm: our segment sum adds in index order in float32, as the JS reference; cpu's own kernel sums
      // differently, so there the gradient must equal tf.gather's (the same kernel) and the JS sums closely
      const got = grad.dataSync();
      if (backend === 'wasm') t.deepEqual(Array.from(got), Array.from(wantGrad), 'wasm: gradient');
      t.deepEqual(Array.from(got), Array.from(viaGather.dataSync()), `${backend}: gradient = tf.gather's`);
      t.true(
        got.every((v, i) => Math.abs(v - wantGrad[i]) <= 1e-6),
        `${backend}: gradient ≈ JS`,
      );
      tf.dispose([rows, grad, viaGather]);
      t.is(tf.memory().numTensors, before, `${backend}: no tensors leak`);
    }
    await selectBackend('wasm');
    // the kernel for int32 tables and 1-D indices too, and an id outside the table
    const ints = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], 'int32');
    t.deepEqual(Array.from(tf.gather(ints, tf.tensor1d([2, 0, 2], 'int32')).dataSync()), [5, 6, 1, 2, 5, 6]);
    const err = t.throws(() => tf.gather(tf.tensor2d(table, [n, d]), tf.tensor1d([3, n], 'int32')));
    t.regex(err!.message, new RegExp(`index 1 is ${n}, outside \\[0, ${n}\\)`));
  },
);

// LayerNorm: the fused wasm kernels and the composite ops (on cpu) against float64 JS, values and the
// gradients of Σ w·LN(x) for x, gain and bias; rows with a large offset (cancellation in the variance)
// and a constant row (variance 0: eps alone) included.
function layerNorm64(x: Float32Array, g: Float32Array, b: Float32Array, w: Float32Array, C: number, eps: number) {
  const N = x.length / C;
  const y = new Float64Array(x.length),
    dx = new Float64Array(x.length),
    dg = new Float64Array(C),
    db = new Float64Array(C);
  for (let n = 0; n < N; n++) {
    const row = Array.from(x.subarray(n * C, (n + 1) * C));
    const mu = row.reduce((a, v) => a + v, 0) / C;
    const r = 1 / Math.sqrt(row.reduce((a, v) => a + (v - mu) ** 2, 0) / C + eps);
    const xh = row.map((v) => (v - mu) * r);
    const gh = xh.map((_, c) => w[n * C + c] * g[c]);
    const mG = gh.reduce((a, v) => a + v, 0) / C;
    const mGX = gh.reduce((a, v, c) => a + v * xh[c], 0) / C;
    for (let c = 0; c < C; c++) {
      y[n * C + c] = xh[c] * g[c] + b[c];
      dx[n * C + c] = r * (gh[c] - mG - xh[c] * mGX);
      dg[c] += w[n * C + c] * xh[c];
      db[c] += w[n * C + c];
    }
  }
  return [y, dx, dg, db];
}

test.serial(
  'layerNorm: fused kernels (wasm) and composite ops (cpu) equal float64 LayerNorm and its gradients',
  async (t) => {
    const [B, T, C, eps] = [3, 5, 64, 1e-5];
    const rr = rng(23);
    const x = Float32Array.from({ length: B * T * C }, (_, i) => {
      const n = Math.floor(i / C);
      return n === 4 ? 0.75 : (rr() - 0.5) * 4 + (n === 7 ? 300 : 0); // row 4 constant, row 7 offset by 300
    });
    const g = Float32Array.from({ length: C }, () => rr() + 0.5);
    const b = Float32Array.from({ length: C }, () => rr() - 0.5);
    const w = Float32Array.from({ length: x.length }, () => rr() - 0.5);
    const want = layerNorm64(x, g, b, w, C, eps);
    const worst: Record<string, number[]> = {};
    for (const backend of ['wasm', 'cpu'] as const) {
      await selectBackend(backend);
      t.is(tf.getKernel(LAYER_NORM, backend) !== undefined, backend === 'wasm', `${backend}: kernel registered`);
      const before = tf.memory().numTensors;
      const outs = tf.tidy(() => {
        const xt = tf.tensor3d(x, [B, T, C]),
          gt = tf.tensor1d(g),
          bt = tf.tensor1d(b),
          wt = tf.tensor3d(w, [B, T, C]);
        const f = (a: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) =>
          layerNorm(a, gg as tf.Tensor1D, bb as tf.Tensor1D, eps)
            .mul(wt)
            .sum();
        const y = layerNorm(xt, gt, bt, eps);
        return [y, ...tf.grads(f)([xt, gt, bt])];
      });
      t.deepEqual(outs[0].shape, [B, T, C]);
      t.deepEqual(outs[1].shape, [B, T, C]);
      const got = outs.map((o) => o.dataSync());
      tf.dispose(outs);
      t.is(tf.memory().numTensors, before, `${backend}: no tensors leak`);
      // error relative to the size of each output's typical value (its row / column scale)
      worst[backend] = got.map((o, k) => {
        const scale = Math.max(...Array.from(want[k], Math.abs));
        return Math.max(...Array.from(o, (v, i) => Math.abs(v - want[k][i]) / scale));
      });
    }
    // fused: float64 sums, so a few float32 roundings of the largest value
    t.true(
      worst.wasm.every((e) => e < 1e-6),
      `wasm vs float64: ${worst.wasm.map((e) => e.toExponential(1))}`,
    );
    // composite float32 ops lose accuracy in the offset row's variance: a looser bound
    t.true(
      worst.cpu.every((e) => e < 1e-3),
      `cpu vs float64: ${worst.cpu.map((e) => e.toExponential(1))}`,
    );
  },
);
