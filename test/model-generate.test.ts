// Generation: KV-cached decoding equals full recomputation (tokens and logits), a left-padded batch equals
// each prompt run alone, stop tokens end a row, sampling options behave, and no tensors leak.
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { GPT, generate, resolveModelConfig, sampleToken } from '../src/model/index.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

const prompts = [
  [1, 2, 3, 4, 5],
  [7, 8],
  [9, 3, 1],
];

for (const positions of ['rotary', 'learned'] as const) {
  test(`KV cache gives the same tokens and logits as recomputation (${positions}, switch MoE)`, (t) => {
    const model = new GPT(resolveModelConfig('tiny', { vocabSize: 30, positions, initStd: 0.2 }), 2);
    const opts = { maxNewTokens: 8, returnLogits: true, temperature: 0.8, seed: 3 };
    const cached = generate(model, prompts, { ...opts, useCache: true });
    const full = generate(model, prompts, { ...opts, useCache: false });
    t.deepEqual(cached.tokens, full.tokens);
    let maxErr = 0;
    cached.logits!.forEach((rows, b) =>
      rows.forEach((row, s) => row.forEach((v, i) => (maxErr = Math.max(maxErr, Math.abs(v - full.logits![b][s][i]))))),
    );
    t.true(maxErr < 1e-4, `max |Δlogit| ${maxErr}`);
    // each prompt alone (no padding) gives the same greedy continuation as inside the padded batch
    const batch = generate(model, prompts, { maxNewTokens: 6 });
    prompts.forEach((p, b) =>
      t.deepEqual(generate(model, [p], { maxNewTokens: 6 }).tokens[0], batch.tokens[b], `prompt ${b}`),
    );
    model.dispose();
  });
}

test('stop tokens, top-k = 1 equals greedy, and generation does not leak tensors', (t) => {
  const model = new GPT(resolveModelConfig('tiny', { vocabSize: 30, initStd: 0.2 }), 4);
  const greedy = generate(model, prompts, { maxNewTokens: 6 });
  t.deepEqual(generate(model, prompts, { maxNewTokens: 6, temperature: 1.5, topK: 1, seed: 9 }).tokens, greedy.tokens);
  const stop = greedy.tokens[0][2];
  const stopped = generate(model, prompts, { maxNewTokens: 6, stopTokens: [stop] });
  const first = greedy.tokens[0].indexOf(stop);
  t.deepEqual(stopped.tokens[0], greedy.tokens[0].slice(0, first + 1));
  const before = tf.memory().numTensors;
  generate(model, prompts, { maxNewTokens: 4 });
  t.is(tf.memory().numTensors, before);
  model.dispose();
});

test('sampleToken: top-p keeps the nucleus, temperature sampling follows the softmax', (t) => {
  const row = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
  let s = 1;
  const random = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[sampleToken(row, { maxNewTokens: 1, temperature: 1, topP: 0.75 }, random)]++;
  t.is(counts[2] + counts[3], 0, 'tokens outside the 0.8 nucleus never appear');
  t.true(Math.abs(counts[0] / 4000 - 0.625) < 0.04, `p(0) ≈ 0.5/0.8, got ${counts[0] / 4000}`);
  const all = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) all[sampleToken(row, { maxNewTokens: 1, temperature: 1 }, random)]++;
  t.true(Math.abs(all[3] / 4000 - 0.05) < 0.02);
  t.is(sampleToken(row, { maxNewTokens: 1 }, random), 0);
});
