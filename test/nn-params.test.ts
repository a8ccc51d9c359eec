// The shared parameter store: the same seed gives the same weights every time — seed 0 included, which
// tfjs alone treats as "unseeded" — different seeds give different weights, and GPT and VQGAN draw from it.
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { GPT, resolveModelConfig } from '../src/model/index.js';
import { ParamStore } from '../src/nn/index.js';
import { Vqgan, resolveVqganConfig } from '../src/vqgan/index.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

const values = (m: Map<string, tf.Variable>): number[][] => [...m.values()].map((v) => Array.from(v.dataSync()));

test('ParamStore: seed 0 draws the same tensors twice, and differs from seed 1', (t) => {
  const draw = (seed: number) => {
    const s = new ParamStore(seed);
    s.normal('a', [4, 3], 1);
    s.truncatedNormal('b', [5], 0.5);
    return values(s.vars);
  };
  t.deepEqual(draw(0), draw(0));
  t.notDeepEqual(draw(0), draw(1));
  t.throws(
    () => {
      const s = new ParamStore(0);
      s.zeros('x', [1]);
      s.zeros('x', [1]);
    },
    { message: /created twice/ },
  );
});

test('new GPT(config) with the default seed 0 is reproducible', (t) => {
  const config = resolveModelConfig('tiny', { vocabSize: 50 });
  const a = new GPT(config),
    b = new GPT(config),
    c = new GPT(config, 1);
  t.deepEqual(values(a.params()), values(b.params()));
  t.notDeepEqual(values(a.params()), values(c.params()));
  [a, b, c].forEach((m) => m.dispose());
});

test('new Vqgan(config) with seed 0 is reproducible', (t) => {
  const config = resolveVqganConfig('tiny', {});
  const a = new Vqgan(config),
    b = new Vqgan(config);
  t.deepEqual(values(a.params()), values(b.params()));
  a.dispose();
  b.dispose();
});
