// DataParallel (src/backend/data-parallel.ts): replicas stay byte-identical over several steps, one
// data-parallel step equals one full-batch SGD step computed independently in this process on the
// 'cpu' backend, and misuse (wrong slice count, replicas built differently) is a named error.
// The replica module is written to a temp dir: a 2-layer MLP with a JS SGD update.
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { DataParallel, reduceShard } from '../src/backend/data-parallel.js';
import { selectBackend } from '../src/backend/index.js';
import { HyperlmError } from '../src/errors.js';

const tfUrl = pathToFileURL(createRequire(import.meta.url).resolve('@tensorflow/tfjs')).href;
const IN = 4;
const HID = 8;
const LR = 0.05;

// The replica: params [W1 IN×HID | b1 HID | W2 HID×1 | b2 1]; loss = mean squared error.
const replicaSource = `
import * as tf from '${tfUrl}';
const IN = ${IN}, HID = ${HID}, LR = ${LR};
function rng(seed) { let s = seed >>> 0; return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32 - 0.5; }; }
export function forward(p, x) {
  const w1 = tf.tensor(p.subarray(0, IN * HID), [IN, HID]);
  const b1 = tf.tensor(p.subarray(IN * HID, IN * HID + HID), [HID]);
  const w2 = tf.tensor(p.subarray(IN * HID + HID, IN * HID + 2 * HID), [HID, 1]);
  const b2 = tf.tensor(p.subarray(IN * HID + 2 * HID), [1]);
  return { vars: [w1, b1, w2, b2], f: (a, b, c, d) => tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x, a), b)), c), d) };
}
export async function createReplica(init) {
  const r = init.seed === undefined ? Math.random : rng(init.seed);
  const params = Float32Array.from({ length: IN * HID + 2 * HID + 1 }, () => r());
  return {
    getParams: () => params,
    async lossAndGrads(slice) {
      const out = tf.tidy(() => {
        const x = tf.tensor(slice.x, [slice.x.length / IN, IN]);
        const y = tf.tensor(slice.y, [slice.y.length, 1]);
        const { vars, f } = forward(params, x);
        const { value, grads } = tf.valueAndGrads((a, b, c, d) => tf.mean(tf.square(tf.sub(f(a, b, c, d), y))))(vars);
        return [value, tf.concat(grads.map((g) => g.reshape([-1])))];
      });
      const loss = (await out[0].data())[0];
      const grads = new Float32Array(await out[1].data());
      tf.dispose(out);
      return { loss, grads };
    },
    applyGrads(g) { for (let i = 0; i < params.length; i++) params[i] -= LR * g[i]; },
  };
}
`;
const dir = mkdtempSync(path.join(tmpdir(), 'hyperlm-dp-'));
const modulePath = path.join(dir, 'replica.mjs');
writeFileSync(modulePath, replicaSource);

function batch(n: number, seed: number): { x: number[]; y: number[] } {
  let s = seed;
  const r = () => (s = (s * 16807) % 2147483647) / 2147483647 - 0.5;
  const x = Array.from({ length: n * IN }, r);
  const y = Array.from({ length: n }, (_, i) => Math.sin(3 * x[i * IN]) + x[i * IN + 1]);
  return { x, y };
}
const split = (b: { x: number[]; y: number[] }, parts: number) => {
  const n = b.y.length / parts;
  return Array.from({ length: parts }, (_, i) => ({
    x: b.x.slice(i * n * IN, (i + 1) * n * IN),
    y: b.y.slice(i * n, (i + 1) * n),
  }));
};

test.serial('one step equals a full-batch SGD step; replicas stay byte-identical over steps', async (t) => {
  const dp = await DataParallel.start({ workers: 2, modulePath, init: { seed: 7 } });
  try {
    const [p0] = await dp.params();
    const b = batch(16, 3);
    const first = await dp.step(split(b, 2));
    const [p1] = await dp.params();

    // Independent reference: the full batch of 16 on the cpu backend in this process.
    await selectBackend('cpu');
    const { forward } = (await import(pathToFileURL(modulePath).href)) as {
      forward: (p: Float32Array, x: tf.Tensor) => { vars: tf.Tensor[]; f: (...v: tf.Tensor[]) => tf.Tensor };
    };
    const [loss, grads] = tf.tidy(() => {
      const { vars, f } = forward(p0, tf.tensor(b.x, [16, IN]));
      const { value, grads: g } = tf.valueAndGrads((...v: tf.Tensor[]) =>
        tf.mean(tf.square(tf.sub(f(...v), tf.tensor(b.y, [16, 1])))),
      )(vars);
      return [value.dataSync()[0], tf.concat(g.map((x) => x.reshape([-1]))).dataSync() as Float32Array];
    });
    t.true(Math.abs(first.loss - loss) < 1e-5, `loss ${first.loss} vs full batch ${loss}`);
    const norm = Math.sqrt(grads.reduce((a, g) => a + g * g, 0));
    t.true(Math.abs(first.gradNorm - norm) < 1e-5 * (1 + norm), `gradNorm ${first.gradNorm} vs ${norm}`);
    for (let i = 0; i < p0.length; i++) t.true(Math.abs(p1[i] - (p0[i] - LR * grads[i])) < 1e-6, `param ${i}`);

    let last = first.loss;
    for (let k = 0; k < 5; k++) last = (await dp.step(split(batch(16, 10 + k), 2))).loss;
    const all = await dp.params();
    t.true(Buffer.from(all[0].buffer).equals(Buffer.from(all[1].buffer)), 'replica params differ after 6 steps');
    t.false(Buffer.from(all[0].buffer).equals(Buffer.from(p1.buffer)), 'params did not move');
    t.true(Number.isFinite(last));
  } finally {
    await dp.close();
  }
});

test.serial('misuse: wrong number of slices, and replicas that start different', async (t) => {
  const dp = await DataParallel.start({ workers: 2, modulePath, init: { seed: 1 } });
  try {
    const err = await t.throwsAsync(dp.step([batch(4, 1)]), { instanceOf: HyperlmError });
    t.is((err as HyperlmError).code, 'CONFIG_BAD_VALUE');
  } finally {
    await dp.close();
  }
  const err2 = await t.throwsAsync(DataParallel.start({ workers: 2, modulePath, init: {} }), {
    instanceOf: HyperlmError,
  });
  t.regex(err2!.message, /differ/);
});

// reduceShard, the workers' share of the all-reduce, against the plain definition: float64 sum over the
// slots in slot order, rounded once to float32 (÷ k for the mean), folded into g, Σ g² of the stored values.
function reference(
  slots: Float32Array[],
  g0: Float32Array,
  lo: number,
  hi: number,
  mean: boolean,
  acc?: { first: boolean; divide: number; normRanges?: Array<[number, number]> },
): { g: Float32Array; sq: number } {
  const g = g0.slice();
  for (let j = lo; j < hi; j++) {
    let s = 0;
    for (const slot of slots) s += slot[j];
    const r = Math.fround(mean ? s / slots.length : s);
    g[j] = acc ? (acc.first ? 0 : g[j]) + r / acc.divide : r;
  }
  let sq = 0;
  for (const [a, b] of acc?.normRanges ?? [[lo, hi]])
    for (let j = Math.max(a, lo); j < Math.min(b, hi); j++) sq += g[j] * g[j];
  return { g, sq };
}

test('reduceShard equals the plain slot-order sum for 1–3 slots, mean, accumulation and norm ranges', (t) => {
  let s = 7;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 3;
  const n = 257;
  const cases: Array<[boolean, { first: boolean; divide: number; normRanges?: Array<[number, number]> } | undefined]> =
    [
      [false, undefined],
      [true, undefined],
      [false, { first: true, divide: 1 }],
      [false, { first: true, divide: 3 }],
      [true, { first: false, divide: 2 }],
      [
        false,
        {
          first: true,
          divide: 1,
          normRanges: [
            [0, 40],
            [100, 300],
          ],
        },
      ],
    ];
  let checked = 0;
  for (const k of [1, 2, 3]) {
    const slots = Array.from({ length: k }, () => Float32Array.from({ length: n }, rand));
    for (const [mean, acc] of cases) {
      for (const [lo, hi] of [
        [0, n],
        [13, 200],
      ] as const) {
        const g0 = Float32Array.from({ length: n }, rand);
        const want = reference(slots, g0, lo, hi, mean, acc);
        const got = g0.slice();
        const sq = reduceShard(slots, got, lo, hi, mean, acc);
        t.deepEqual(Buffer.from(got.buffer), Buffer.from(want.g.buffer), `k ${k} mean ${mean} ${JSON.stringify(acc)}`);
        t.is(sq, want.sq);
        checked++;
      }
    }
  }
  t.is(checked, 36);
});
