// ViT building blocks: the explicit-transpose matMul has exactly tfjs's MatMul gradient (2-D and
// batched), patchify puts the top-left p×p pixels in patch 0, and unpatchify inverts it.

import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { matMul, patchify, unpatchify } from '../src/vqgan/encoder.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

for (const [sa, sb] of [[[5, 3], [3, 4]], [[2, 3, 5, 3], [2, 3, 3, 4]]]) {
  test(`matMul ${JSON.stringify(sa)}·${JSON.stringify(sb)}: value and gradients equal tf.matMul`, (t) => {
    const a = tf.randomNormal(sa, 0, 1, 'float32', 1), b = tf.randomNormal(sb, 0, 1, 'float32', 2);
    const w = tf.randomNormal([...sa.slice(0, -1), sb[sb.length - 1]], 0, 1, 'float32', 3);
    const ours = tf.grads((x: tf.Tensor, y: tf.Tensor) => matMul(x, y).mul(w).sum())([a, b]);
    const ref = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y).mul(w).sum())([a, b]);
    const close = (p: tf.Tensor, q: tf.Tensor) => p.sub(q).abs().max().dataSync()[0] < 1e-5;
    t.true(close(matMul(a, b), tf.matMul(a, b)));
    t.true(close(ours[0], ref[0]) && close(ours[1], ref[1]));
  });
}

test('patchify: patch 0 is the top-left p×p block in HWC order; unpatchify inverts', (t) => {
  const x = tf.range(0, 2 * 8 * 8 * 3).reshape([2, 8, 8, 3]) as tf.Tensor4D;
  const p = patchify(x, 4);
  t.deepEqual(p.shape, [2, 4, 48]);
  const img = x.arraySync()[0];
  const expected = [];
  for (let y = 0; y < 4; y++) for (let xx = 0; xx < 4; xx++) expected.push(...img[y][xx]);
  t.deepEqual(p.arraySync()[0][0], expected);
  t.deepEqual(Array.from(unpatchify(p, 4, 3).dataSync()), Array.from(x.dataSync()));
});
