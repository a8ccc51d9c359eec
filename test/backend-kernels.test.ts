// Parity of our WASM kernels (src/backend/wasm-kernels) with the pure-JS 'cpu' backend as the
// independent reference: BatchMatMul in all four transpose combos, batch 1 / batched / broadcast, and
// its gradients, the ≤ 4-row decode path and the K-blocked path; Identity without a copy; UnsortedSegmentSum and the gradient of tf.gather; Conv2D, Conv2DBackpropInput and our
// Conv2DBackpropFilter. Tolerance: both sides are float32 dot products of n terms, each within
// γ_n·Σ|terms| of the exact value (Higham, Accuracy and Stability, §3.1, γ_n = n·u, u = 2^-24), so we
// allow 2·n·u·Σ|terms| elementwise, computing Σ|terms| by running the same op on |inputs| on cpu.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { activeBlas, selectBackend, setBlasEnabled } from '../src/backend/index.js';

const U = 2 ** -24;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randn(shape: number[], seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  return out;
}

type Compute = (abs: boolean) => tf.Tensor[];

/** Runs `f` on backend `name` and returns plain arrays; inputs must be built inside `f`. */
async function runOn(name: 'cpu' | 'wasm', f: Compute, abs = false): Promise<Float32Array[]> {
  await selectBackend(name);
  const ts = tf.tidy(() => f(abs));
  const data = await Promise.all(ts.map(async (t) => new Float32Array(await t.data())));
  tf.dispose(ts);
  return data;
}

/** Asserts wasm(f) ≈ cpu(f) within 2·n·u·Σ|terms| (Σ|terms| = cpu(f on |inputs|), n = terms per sum). */
async function assertParity(
  t: import('ava').ExecutionContext,
  f: Compute,
  nTerms: number,
  what: string,
): Promise<void> {
  const ref = await runOn('cpu', f);
  const absRef = await runOn('cpu', f, true);
  const got = await runOn('wasm', f);
  for (let o = 0; o < ref.length; o++) {
    t.is(got[o].length, ref[o].length, `${what}: output ${o} size`);
    let worst = 0;
    for (let i = 0; i < ref[o].length; i++) {
      const tol = 2 * nTerms * U * Math.abs(absRef[o][i]) + 1e-30;
      worst = Math.max(worst, Math.abs(got[o][i] - ref[o][i]) / tol);
    }
    t.true(worst <= 1, `${what}: output ${o} off by ${worst.toFixed(2)}× the float32 bound`);
  }
}

/**
 * Runs `body` once per matmul path: XNNPACK always, and the system BLAS when one was loaded; the BLAS
 * switch is back on afterwards, whatever `body` does.
 */
async function forEachMatmulPath(body: (path: string) => Promise<void>): Promise<void> {
  await selectBackend('wasm');
  setBlasEnabled(true);
  const blas = activeBlas();
  try {
    setBlasEnabled(false);
    await body('xnnpack');
    if (blas) {
      setBlasEnabled(true);
      await body(`blas ${blas.library}`);
    }
  } finally {
    setBlasEnabled(true);
  }
}

const maybeAbs = (x: tf.Tensor, abs: boolean): tf.Tensor => (abs ? tf.abs(x) : x);

const combos: Array<[boolean, boolean]> = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];
// [batch dims of a, batch dims of b]: plain 2-D, equal batch, b broadcast (linear layer), a broadcast.
const batchings: Array<[number[], number[]]> = [
  [[], []],
  [[3], [3]],
  [[2, 3], []],
  [[], [4]],
  [
    [2, 2],
    [2, 2],
  ],
];

test.serial('matMul matches cpu for all transpose combos and batchings', async (t) => {
  await forEachMatmulPath(async (path) => {
    const [m, k, n] = [37, 29, 23];
    for (const [ta, tb] of combos) {
      for (const [ba, bb] of batchings) {
        const aShape = [...ba, ...(ta ? [k, m] : [m, k])];
        const bShape = [...bb, ...(tb ? [n, k] : [k, n])];
        const a = randn(aShape, 1);
        const b = randn(bShape, 2);
        await assertParity(
          t,
          (abs) => [tf.matMul(maybeAbs(tf.tensor(a, aShape), abs), maybeAbs(tf.tensor(b, bShape), abs), ta, tb)],
          k,
          `${path} matMul ta=${ta} tb=${tb} a=[${aShape}] b=[${bShape}]`,
        );
      }
    }
  });
});

test.serial('decode-shaped matmuls (≤ 4 rows against one matrix, the JS loop path) match cpu', async (t) => {
  await forEachMatmulPath(async (path) => {
    const [k, n] = [48, 300];
    for (const [ta, tb] of combos) {
      for (const [ba, m] of [
        [[], 1],
        [[2], 2],
        [[], 4],
        [[4], 1],
      ] as Array<[number[], number]>) {
        const aShape = [...ba, ...(ta ? [k, m] : [m, k])];
        const bShape = tb ? [n, k] : [k, n];
        const a = randn(aShape, 21);
        const b = randn(bShape, 22);
        await assertParity(
          t,
          (abs) => [tf.matMul(maybeAbs(tf.tensor(a, aShape), abs), maybeAbs(tf.tensor(b, bShape), abs), ta, tb)],
          k,
          `${path} small matMul ta=${ta} tb=${tb} a=[${aShape}] b=[${bShape}]`,
        );
      }
    }
  });
});

test.serial('long inner dimension (K > 1024, summed in blocks) matches cpu for all transpose combos', async (t) => {
  await forEachMatmulPath(async (path) => {
    const [m, k, n] = [40, 2500, 24];
    for (const [ta, tb] of combos) {
      for (const ba of [[], [2]]) {
        const aShape = [...ba, ...(ta ? [k, m] : [m, k])];
        const bShape = tb ? [n, k] : [k, n];
        const a = randn(aShape, 23);
        const b = randn(bShape, 24);
        await assertParity(
          t,
          (abs) => [tf.matMul(maybeAbs(tf.tensor(a, aShape), abs), maybeAbs(tf.tensor(b, bShape), abs), ta, tb)],
          k,
          `${path} blocked matMul ta=${ta} tb=${tb} a=[${aShape}] b=[${bShape}]`,
        );
      }
    }
  });
});

test.serial('matMul gradients match cpu for all transpose combos, batch 1 and batch 3', async (t) => {
  await forEachMatmulPath(async (path) => {
    const [m, k, n] = [24, 40, 16];
    for (const [ta, tb] of combos) {
      for (const batch of [[], [3]]) {
        const aShape = [...batch, ...(ta ? [k, m] : [m, k])];
        const bShape = [...batch, ...(tb ? [n, k] : [k, n])];
        const a = randn(aShape, 3);
        const b = randn(bShape, 4);
        const dy = randn([...batch, m, n], 5);
        // Gradient of Σ(dy ⊙ matMul(a, b)) is (dy·bᵀ, aᵀ·dy) up to transposes: sums of n resp. m terms.
        await assertParity(
          t,
          (abs) => {
            const g = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
              tf.sum(tf.mul(tf.matMul(x, y, ta, tb), maybeAbs(tf.tensor(dy, [...batch, m, n]), abs))),
            );
            return g([maybeAbs(tf.tensor(a, aShape), abs), maybeAbs(tf.tensor(b, bShape), abs)]);
          },
          Math.max(m, n),
          `${path} grad matMul ta=${ta} tb=${tb} batch=[${batch}]`,
        );
      }
    }
  });
});

test.serial('attention-shaped batched matmuls (QKᵀ and AV) match cpu', async (t) => {
  const [bh, T, hd] = [8, 32, 16];
  const q = randn([bh, T, hd], 6);
  const kk = randn([bh, T, hd], 7);
  const p = randn([bh, T, T], 8);
  await assertParity(
    t,
    (abs) => [
      tf.matMul(maybeAbs(tf.tensor(q, [bh, T, hd]), abs), maybeAbs(tf.tensor(kk, [bh, T, hd]), abs), false, true),
    ],
    hd,
    'QKᵀ',
  );
  await assertParity(
    t,
    (abs) => [tf.matMul(maybeAbs(tf.tensor(p, [bh, T, T]), abs), maybeAbs(tf.tensor(kk, [bh, T, hd]), abs))],
    T,
    'AV',
  );
});

test.serial('unsortedSegmentSum sums rows per id, skips out-of-range ids, float32 and int32', async (t) => {
  await selectBackend('wasm');
  const x = tf.tensor2d([
    [1, 2],
    [3, 4],
    [5, 6],
    [7, 8],
    [9, 10],
  ]);
  const ids = tf.tensor1d([2, 0, 2, -1, 7], 'int32');
  t.deepEqual(await tf.unsortedSegmentSum(x, ids, 4).array(), [
    [3, 4],
    [0, 0],
    [6, 8],
    [0, 0],
  ]);
  const xi = tf.tensor1d([5, -2, 9], 'int32');
  const si = tf.unsortedSegmentSum(xi, tf.tensor1d([1, 1, 0], 'int32'), 2);
  t.is(si.dtype, 'int32');
  t.deepEqual(await si.array(), [9, 3]);
  // ids of rank 2 over a rank-3 x: ids shape is a prefix of x shape.
  const x3 = tf.tensor3d([
    [[1], [2]],
    [[3], [4]],
  ]);
  t.deepEqual(
    await tf
      .unsortedSegmentSum(
        x3,
        tf.tensor2d(
          [
            [0, 1],
            [1, 1],
          ],
          undefined,
          'int32',
        ) as unknown as tf.Tensor1D,
        2,
      )
      .array(),
    [[1], [9]],
  );
  tf.dispose([x, ids, xi, si, x3]);
});

test.serial('gradient of tf.gather (embedding lookup) matches cpu, with repeated ids', async (t) => {
  const [vocab, d, n] = [50, 12, 64];
  const emb = randn([vocab, d], 9);
  const r = rng(10);
  const idx = Int32Array.from({ length: n }, () => Math.floor(r() * vocab * 0.5)); // half the vocab: repeats
  const w = randn([n, d], 11);
  await assertParity(
    t,
    (abs) => {
      const g = tf.grad((e: tf.Tensor) =>
        tf.sum(tf.mul(tf.gather(e, tf.tensor1d(idx, 'int32')), maybeAbs(tf.tensor(w, [n, d]), abs))),
      );
      return [g(tf.tensor(emb, [vocab, d]))];
    },
    n,
    'grad gather',
  );
});

interface ConvCase {
  x: [number, number, number, number];
  f: [number, number, number, number];
  s: number | [number, number];
  pad: 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
}
const convCases: ConvCase[] = [
  { x: [2, 9, 9, 3], f: [3, 3, 3, 5], s: 1, pad: 'same' },
  { x: [2, 10, 11, 4], f: [3, 3, 4, 6], s: 2, pad: 'same' },
  { x: [1, 8, 8, 2], f: [4, 4, 2, 3], s: 2, pad: 'valid' },
  { x: [3, 7, 6, 5], f: [1, 1, 5, 7], s: [1, 2], pad: 'valid' },
  {
    x: [2, 6, 6, 3],
    f: [3, 2, 3, 4],
    s: 1,
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
  { x: [1, 7, 7, 2], f: [3, 3, 2, 2], s: 3, pad: 1 },
];

test.serial('conv2d forward, input gradient and filter gradient match cpu', async (t) => {
  for (const c of convCases) {
    const x = randn(c.x, 12);
    const f = randn(c.f, 13);
    const what = `conv x=[${c.x}] f=[${c.f}] s=${JSON.stringify(c.s)} pad=${JSON.stringify(c.pad)}`;
    // Terms per sum: forward fh·fw·Cin; dx ≤ fh·fw·Cout; dW = N·outH·outW ≤ N·H·W.
    const terms = Math.max(c.f[0] * c.f[1] * c.f[2], c.f[0] * c.f[1] * c.f[3], c.x[0] * c.x[1] * c.x[2]);
    await assertParity(
      t,
      (abs) => {
        const conv = (xx: tf.Tensor4D, ff: tf.Tensor4D) => tf.conv2d(xx, ff, c.s, c.pad);
        const xs = maybeAbs(tf.tensor4d(x, c.x), abs) as tf.Tensor4D;
        const fs = maybeAbs(tf.tensor4d(f, c.f), abs) as tf.Tensor4D;
        const y = conv(xs, fs);
        const dy = maybeAbs(tf.tensor(randn(y.shape, 14), y.shape), abs);
        const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), dy)),
        )([xs, fs]);
        return [y, dx, df];
      },
      terms,
      what,
    );
  }
});

test.serial('conv2d filter gradient over several im2col chunks matches cpu', async (t) => {
  // fh·fw·Cin = 2304 and N·outH·outW = 2048: 4.7M im2col floats > one 4M-float chunk.
  const xs: [number, number, number, number] = [2, 32, 32, 256];
  const fsh: [number, number, number, number] = [3, 3, 256, 2];
  const x = randn(xs, 15);
  const dy = randn([2, 32, 32, 2], 16);
  const f = randn(fsh, 17);
  await assertParity(
    t,
    (abs) => {
      const xt = maybeAbs(tf.tensor4d(x, xs), abs) as tf.Tensor4D;
      const dyt = maybeAbs(tf.tensor4d(dy, [2, 32, 32, 2]), abs);
      return [
        tf.grad((ff: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xt, ff as tf.Tensor4D, 1, 'same'), dyt)))(
          tf.tensor4d(f, fsh),
        ),
      ];
    },
    2 * 32 * 32,
    'chunked dW',
  );
});

test.serial(
  'Identity (tf.clone) shares the buffer: equal values, no new data buffer, survives disposing its source',
  async (t) => {
    await selectBackend('wasm');
    const x = tf.tensor2d([
      [1, 2],
      [3, 4],
    ]);
    const before = tf.memory().numDataBuffers;
    const y = tf.clone(x);
    t.is(tf.memory().numDataBuffers, before, 'a clone allocates no data');
    x.dispose();
    t.deepEqual(await y.array(), [
      [1, 2],
      [3, 4],
    ]);
    const w = tf.variable(y); // variables start from a clone too
    y.dispose();
    const v = tf.tensor2d([
      [5, 6],
      [7, 8],
    ]);
    w.assign(v);
    v.dispose();
    t.deepEqual(await w.array(), [
      [5, 6],
      [7, 8],
    ]);
    w.dispose();
    t.is(tf.memory().numDataBuffers, before - 1, 'the buffer is freed with its last reference');
  },
);

test.serial('patched kernels leak neither tensors nor heap bytes', async (t) => {
  await selectBackend('wasm');
  const step = () =>
    tf.tidy(() => {
      const a = tf.randomNormal([32, 24]);
      const b = tf.randomNormal([24, 8]);
      const e = tf.randomNormal([10, 4]);
      const x = tf.randomNormal([1, 6, 6, 2]);
      const f = tf.randomNormal([3, 3, 2, 3]);
      const g1 = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.matMul(p, q)))([a, b]);
      const g2 = tf.grad((p: tf.Tensor) => tf.sum(tf.gather(p, tf.tensor1d([1, 1, 3], 'int32'))))(e);
      const g3 = tf.grad((p: tf.Tensor) => tf.sum(tf.conv2d(x as tf.Tensor4D, p as tf.Tensor4D, 2, 'same')))(f);
      return tf.add(tf.add(tf.sum(g1[0]), tf.sum(g1[1])), tf.add(tf.sum(g2), tf.sum(g3)));
    });
  step().dispose();
  const before = tf.memory();
  for (let i = 0; i < 3; i++) step().dispose();
  const after = tf.memory();
  t.is(after.numTensors, before.numTensors);
  t.is(after.numBytes, before.numBytes);
});

test.serial('an installed OpenBLAS is found and used for matmuls (skipped without libopenblas)', async (t) => {
  const { existsSync } = await import('node:fs');
  const present = [
    '/usr/lib/x86_64-linux-gnu/libopenblas.so.0',
    '/usr/lib/aarch64-linux-gnu/libopenblas.so.0',
    '/usr/lib64/libopenblas.so.0',
  ].some((p) => existsSync(p));
  if (!present || process.env.HYPERLM_BLAS === 'off') {
    t.log('libopenblas.so.0 not installed (Debian: apt-get install libopenblas0); the XNNPACK path was tested above');
    t.pass();
    return;
  }
  const selected = await selectBackend('wasm');
  t.truthy(activeBlas(), 'libopenblas is installed but was not loaded');
  t.regex(selected.device, /matmuls on libopenblas/);
});

test.serial('Sum over leading axes (our one-pass kernel) and other axes (published kernel) matches cpu', async (t) => {
  const shape = [6, 5, 33];
  const x = randn(shape, 31);
  const cases: Array<[number | number[], boolean]> = [
    [0, false],
    [[0, 1], false],
    [[1, 0], true],
    [1, false],
    [2, true],
    [[0, 2], false],
    [[0, 1, 2], false],
  ];
  for (const [axis, keepDims] of cases) {
    const n = tf.util.parseAxisParam(axis, shape).reduce((p, a) => p * shape[a], 1);
    await assertParity(
      t,
      (abs) => [tf.sum(maybeAbs(tf.tensor(x, shape), abs), axis, keepDims)],
      n,
      `sum axis=${JSON.stringify(axis)} keepDims=${keepDims}`,
    );
  }
  await selectBackend('wasm');
  const s = tf.sum(tf.tensor(x, shape), [0, 1], true);
  t.deepEqual(s.shape, [1, 1, 33]);
  s.dispose();
});
