// Host KV-cache decoding (src/model/decode.ts, generate's default on CPU backends) on the WASM backend, where
// its products take tfjs's XNNPACK path with cached packed weights: the next-token logits of every step
// equal GPT.forward over the whole sequence at that position (each prompt alone, unpadded) for dense
// models (rotary and learned positions, tied and untied heads, a head size that is not a multiple of 8)
// and every MoE router; greedy tokens match the tensor cache; the transposed head follows weight updates
// and is freed with the model; nothing leaks.
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { selectBackend } from '../src/backend/index.js';
import { GPT, generate, resolveModelConfig, type GenerateOptions } from '../src/model/index.js';

test.before(async () => {
  await selectBackend('wasm');
});

const prompts = [
  [1, 2, 3, 4, 5],
  [7, 8],
  [9, 3, 1],
];
const V = 30;

/** Largest |decode logit − full-forward logit| over all rows and steps of a greedy generation. */
function decodeError(model: GPT, opts: Partial<GenerateOptions> = {}): { err: number; tokens: number[][] } {
  const g = generate(model, prompts, { maxNewTokens: 8, returnLogits: true, ...opts });
  let err = 0;
  prompts.forEach((p, b) => {
    const seq = [...p, ...g.tokens[b]];
    const ids = tf.tensor2d([seq], [1, seq.length], 'int32');
    const r = model.forward(ids, {
      domains: opts.domains && [opts.domains[b]],
      mixture: opts.mixture && [opts.mixture[b]],
    });
    const full = r.logits.dataSync(); // [1, T, V]
    g.logits![b].forEach((row, s) => {
      const at = (p.length - 1 + s) * V;
      for (let i = 0; i < V; i++) err = Math.max(err, Math.abs(row[i] - full[at + i]));
    });
    tf.dispose([ids, r.logits, r.aux]);
  });
  return { err, tokens: g.tokens };
}

const cases: Array<[string, Record<string, unknown>, Partial<GenerateOptions>?]> = [
  ['dense, rotary, head size 12', { 'moe.every': 0, dModel: 24, nHead: 2 }],
  ['dense, learned positions, untied head', { 'moe.every': 0, positions: 'learned', tieEmbeddings: false }],
  ['switch MoE', { 'moe.router': 'switch' }],
  ['top2 MoE', { 'moe.router': 'top2', 'moe.every': 1 }],
  ['BASE MoE', { 'moe.router': 'base' }],
  [
    'demix MoE, mixture per row',
    { 'moe.router': 'demix', 'moe.experts': 3 },
    {
      mixture: [
        [0.2, 0.8, 0],
        [1, 0, 0],
        [0.3, 0.3, 0.4],
      ],
    },
  ],
  ['demix MoE, domain per row', { 'moe.router': 'demix', 'moe.experts': 3 }, { domains: [2, 0, 1] }],
];

for (const [name, overrides, opts] of cases) {
  test(`decode logits equal the full forward pass at every position: ${name}`, (t) => {
    const model = new GPT(resolveModelConfig('tiny', { vocabSize: V, initStd: 0.2, ...overrides }), 5);
    const host = decodeError(model, opts);
    t.true(host.err < 1e-4, `max |Δlogit| ${host.err}`);
    t.deepEqual(generate(model, prompts, { maxNewTokens: 8, kvCache: 'tensors', ...opts }).tokens, host.tokens);
    model.dispose();
  });
}

test('the transposed head follows weight updates, is freed with the model, and decoding leaks nothing', (t) => {
  const start = tf.memory().numTensors;
  const model = new GPT(resolveModelConfig('tiny', { vocabSize: V, initStd: 0.2 }), 6);
  const params = tf.memory().numTensors - start;
  generate(model, prompts, { maxNewTokens: 4 });
  const before = tf.memory().numTensors;
  t.is(before, start + params + 1, 'one [d, V] head copy besides the parameters');
  generate(model, prompts, { maxNewTokens: 4, temperature: 0.9, topK: 5, seed: 1 });
  t.is(tf.memory().numTensors, before);
  tf.tidy(() => model.wte.assign(model.wte.mul(-1.5)));
  const { err } = decodeError(model);
  t.true(err < 1e-4, `after a weight update: max |Δlogit| ${err}`);
  t.is(tf.memory().numTensors, before);
  model.dispose();
  t.is(tf.memory().numTensors, start);
});
