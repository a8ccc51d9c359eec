// Quantizer: nearest code against a brute-force loop, straight-through gradient is the identity,
// the custom codebook gradient matches tfjs's own gather gradient, usage statistics, dead-code restart.

import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import {
  codeUsage,
  createQuantizer,
  DeadCodeTracker,
  l2Normalize,
  nearestCodes,
  normalizedCodebook,
  quantize,
  straightThrough,
} from '../src/vqgan/quantizer.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

function bruteNearest(codes: number[][], z: number[]): number {
  let best = -1,
    bestD = Infinity;
  codes.forEach((c, k) => {
    const d = c.reduce((s, v, i) => s + (v - z[i]) ** 2, 0);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  });
  return best;
}

test('nearestCodes picks the brute-force nearest code (plain l2 and on the unit sphere)', (t) => {
  const codes = tf.randomNormal([37, 5], 0, 1, 'float32', 11) as tf.Tensor2D;
  const z = tf.randomNormal([50, 5], 0, 1, 'float32', 12) as tf.Tensor2D;
  for (const [c, x] of [
    [codes, z],
    [l2Normalize(codes), l2Normalize(z)],
  ] as const) {
    const got = Array.from(nearestCodes(c, x).dataSync());
    const cs = c.arraySync(),
      xs = x.arraySync();
    t.deepEqual(
      got,
      xs.map((row) => bruteNearest(cs, row)),
    );
  }
});

test('quantize: indices are the nearest unit codes and zq carries their values', (t) => {
  const q = createQuantizer(16, 4, 3);
  const z = tf.randomNormal([2, 6, 4], 0, 1, 'float32', 4) as tf.Tensor3D;
  const out = quantize(q, z, 0.25);
  const codes = normalizedCodebook(q).arraySync();
  const zn = l2Normalize(z.reshape([12, 4])).arraySync() as number[][];
  const idx = Array.from(out.indices.dataSync());
  t.deepEqual(out.indices.shape, [2, 6]);
  t.deepEqual(
    idx,
    zn.map((row) => bruteNearest(codes, row)),
  );
  const zq = out.zq.reshape([12, 4]).arraySync() as number[][];
  zq.forEach((row, i) => row.forEach((v, j) => t.true(Math.abs(v - codes[idx[i]][j]) < 1e-5)));
  // commitment = β · mean‖zn − e‖², codebook = mean‖zn − e‖²
  const mse = zn.reduce((s, row, i) => s + row.reduce((a, v, j) => a + (v - codes[idx[i]][j]) ** 2, 0), 0) / 48;
  t.true(Math.abs(out.codebookLoss.dataSync()[0] - mse) < 1e-5);
  t.true(Math.abs(out.commitLoss.dataSync()[0] - 0.25 * mse) < 1e-5);
  q.codebook.dispose();
});

test('straight-through gradient is the identity: d(sum(w*zq))/dz == w', (t) => {
  const z = tf.randomNormal([7, 3], 0, 1, 'float32', 5);
  const e = tf.randomNormal([7, 3], 0, 1, 'float32', 6);
  const w = tf.randomNormal([7, 3], 0, 1, 'float32', 7);
  const [gz, ge] = tf.grads((a: tf.Tensor, b: tf.Tensor) => straightThrough(a, b).mul(w).sum())([z, e]);
  t.deepEqual(Array.from(gz.dataSync()), Array.from(w.dataSync()));
  t.true(ge.abs().max().dataSync()[0] === 0);
  t.deepEqual(
    Array.from(straightThrough(z, e).dataSync()).map((v) => v.toFixed(5)),
    Array.from(e.dataSync()).map((v) => v.toFixed(5)),
  );
});

test('quantize: gradient to the codebook equals tfjs gather gradient (custom op is exact)', (t) => {
  const q = createQuantizer(10, 4, 8);
  const z = tf.randomNormal([3, 5, 4], 0, 1, 'float32', 9) as tf.Tensor3D;
  const w = tf.randomNormal([15, 4], 0, 1, 'float32', 10);
  const idx = quantize(q, z, 0.25).indices.reshape([-1]) as tf.Tensor1D;
  const ours = tf.variableGrads(() => {
    const out = quantize(q, z, 0.25);
    return out.codebookLoss.add(out.zq.reshape([15, 4]).mul(w).sum()) as tf.Scalar;
  }, [q.codebook]).grads[q.codebook.name];
  const ref = tf.grad((cb: tf.Tensor) => {
    const e = tf.gather(l2Normalize(cb), idx);
    return l2Normalize(z.reshape([15, 4]))
      .sub(e)
      .square()
      .mean();
  })(q.codebook);
  const a = ours.dataSync(),
    b = ref.dataSync();
  t.true(b.some((v) => v !== 0));
  for (let i = 0; i < a.length; i++) t.true(Math.abs(a[i] - b[i]) < 1e-6, `codebook grad ${i}: ${a[i]} vs ${b[i]}`);
  q.codebook.dispose();
});

test('codeUsage: fraction used and perplexity of a known histogram', (t) => {
  const u = codeUsage([0, 0, 1, 1, 2, 2, 3, 3], 8);
  t.is(u.usedFraction, 0.5);
  t.true(Math.abs(u.perplexity - 4) < 1e-9);
  t.true(Math.abs(codeUsage([5, 5, 5], 8).perplexity - 1) < 1e-9);
});

test('dead-code restart re-seeds only codes unused for `patience` steps, from batch encoder outputs', (t) => {
  const q = createQuantizer(6, 3, 1);
  const tracker = new DeadCodeTracker(6, 2, 0);
  const zFlat = l2Normalize(tf.randomNormal([4, 3], 0, 1, 'float32', 2)) as tf.Tensor2D;
  const before = q.codebook.arraySync() as number[][];
  t.is(tracker.update(q, [0, 1], zFlat, 0), 0);
  t.is(tracker.update(q, [0, 1], zFlat, 1), 0);
  t.is(tracker.update(q, [0, 1], zFlat, 2), 4); // codes 2..5 last seen at step 0
  const after = q.codebook.arraySync() as number[][];
  const rows = zFlat.arraySync() as number[][];
  t.deepEqual(after.slice(0, 2), before.slice(0, 2));
  for (const k of [2, 3, 4, 5])
    t.true(
      rows.some((r) => r.every((v, j) => Math.abs(v - after[k][j]) < 1e-6)),
      `code ${k} restarted from a batch row`,
    );
  t.is(tracker.update(q, [0, 1], zFlat, 3), 0); // just restarted: patience starts again
  q.codebook.dispose();
});
