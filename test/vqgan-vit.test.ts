// ViT building blocks: patchify puts the top-left p×p pixels in patch 0, and unpatchify inverts it.

import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { patchify, unpatchify } from '../src/vqgan/vit.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

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
