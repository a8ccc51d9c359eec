// Counter-based dropout (src/model/dropout.ts) on the WASM backend: a mask depends only on (seed, global
// batch row, layer, site), so split rows with their offset reproduce the whole batch's mask; training
// forwards at the same step and seed are identical and differ at another step; a data-parallel slice
// (rowOffset) sees the same masks as those rows of the full batch; inference ignores dropout.
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { selectBackend } from '../src/backend/index.js';
import { RowDropout, dropoutSeed } from '../src/model/dropout.js';
import { GPT, resolveModelConfig } from '../src/model/index.js';

test.before(async () => {
  await selectBackend('wasm');
});

function ids(B: number, T: number, V: number): tf.Tensor2D {
  return tf.tensor2d(
    Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 7 + t * 3) % V)),
    [B, T],
    'int32',
  );
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

test("a row's mask depends only on (seed, global row, layer, site); rate and scale are tf.dropout's", (t) => {
  const rate = 0.25;
  const x = tf.ones([4, 2048]);
  const full = new RowDropout(rate, 42).apply(x, 1, 'mlp-out').dataSync();
  const top = new RowDropout(rate, 42, 0).apply(x.slice([0, 0], [2, -1]), 1, 'mlp-out').dataSync();
  const bottom = new RowDropout(rate, 42, 2).apply(x.slice([2, 0], [2, -1]), 1, 'mlp-out').dataSync();
  t.deepEqual(Array.from(full), [...top, ...bottom], "rows split with their offset give the whole batch's masks");
  const kept = full.filter((v) => v > 0);
  t.true(
    kept.every((v) => Math.abs(v - 1 / (1 - rate)) < 1e-6),
    'kept values are scaled by 1 / (1 - rate)',
  );
  t.true(Math.abs(kept.length / full.length - (1 - rate)) < 0.02, `kept fraction ${kept.length / full.length}`);
  for (const [layer, site] of [
    [2, 'mlp-out'],
    [1, 'attn-out'],
  ] as const) {
    const other = new RowDropout(rate, 42).apply(x, layer, site).dataSync();
    t.true(maxDiff(full, other) > 0, `layer ${layer} site ${site} draws its own mask`);
  }
  t.true(maxDiff(full, new RowDropout(rate, 43).apply(x, 1, 'mlp-out').dataSync()) > 0, 'another seed, another mask');
  t.is(new RowDropout(0, 42).apply(x, 1, 'mlp-out'), x, 'rate 0 is the identity');
  x.dispose();
});

test('training forwards at the same step and seed are identical, and differ at another step', (t) => {
  const model = new GPT(resolveModelConfig('tiny', { dropout: 0.1 }), 3); // MoE at layer 1: dropout after the experts too
  const x = ids(2, 16, model.config.vocabSize);
  const run = (step: number, training = true) => {
    const r = model.forward(x, { training, seed: 9, dropoutSeed: dropoutSeed(5, step, 0) });
    const out = r.logits.dataSync().slice();
    tf.dispose([r.logits, r.aux]);
    return out;
  };
  const a = run(7),
    b = run(7),
    c = run(8);
  t.deepEqual(Array.from(a), Array.from(b));
  t.true(maxDiff(a, c) > 1e-4, `step 8 vs step 7: max |Δlogit| ${maxDiff(a, c)}`);
  const e1 = run(7, false),
    e2 = run(8, false);
  t.deepEqual(Array.from(e1), Array.from(e2), 'inference uses no dropout');
  t.true(maxDiff(a, e1) > 1e-4, 'training applies dropout');
  x.dispose();
  model.dispose();
});

test("a data-parallel slice with its row offset sees the full batch's masks", (t) => {
  const model = new GPT(resolveModelConfig('tiny', { dropout: 0.1, 'moe.every': 0, positions: 'learned' }), 4);
  const x = ids(4, 16, model.config.vocabSize);
  const V = model.config.vocabSize,
    rowSize = 16 * V;
  const logits = (input: tf.Tensor2D, rowOffset: number) => {
    const r = model.forward(input, { training: true, seed: 1, dropoutSeed: 77, rowOffset });
    const out = r.logits.dataSync().slice();
    tf.dispose([r.logits, r.aux]);
    return out;
  };
  const full = logits(x, 0);
  const rows23 = x.slice([2, 0], [2, -1]);
  const slice = logits(rows23, 2);
  const wrong = logits(rows23, 0);
  const want = full.slice(2 * rowSize);
  t.true(maxDiff(slice, want) < 1e-5, `rows 2..3 with rowOffset 2: max |Δlogit| ${maxDiff(slice, want)}`);
  t.true(maxDiff(wrong, want) > 1e-3, "rowOffset 0 would draw rows 0..1's masks");
  tf.dispose([x, rows23]);
  model.dispose();
});
