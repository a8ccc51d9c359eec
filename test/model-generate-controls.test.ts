// Decoding controls: allowed-id ranges are never left (many seeds, every sampling mode, beams), N samples
// equal the prompt repeated N times, stop strings are found across piece boundaries (checked against a naive
// search of the decoded prefixes; the matcher is src/model/stop-strings.ts), onToken stops its row only, and the time budget stops every row.
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { GPT, generate, resolveModelConfig } from '../src/model/index.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

const prompts = [
  [1, 2, 3, 4, 5],
  [7, 8],
];

test('constrained decoding never leaves its id ranges', (t) => {
  const model = new GPT(resolveModelConfig('tiny', { vocabSize: 40, initStd: 0.5 }), 3);
  const ranges: Array<Array<[number, number]>> = [
    [[10, 18]],
    [
      [0, 2],
      [35, 40],
    ],
    [[20, 21]],
  ];
  const modes = [
    { temperature: 0 },
    { temperature: 1 },
    { temperature: 2, topK: 30 },
    { temperature: 1.5, topP: 0.9 },
    { temperature: 3, topK: 5, topP: 0.5 },
  ];
  let emitted = 0;
  for (const allowedIds of ranges) {
    const inside = (id: number) => allowedIds.some(([lo, hi]) => id >= lo && id < hi);
    for (const mode of modes) {
      for (let seed = 0; seed < 4; seed++) {
        const { tokens } = generate(model, prompts, { maxNewTokens: 6, allowedIds, seed, numSamples: 2, ...mode });
        for (const row of tokens)
          for (const id of row) t.true(inside(id), `id ${id} outside ${JSON.stringify(allowedIds)}`);
        emitted += tokens.flat().length;
      }
    }
    const beams = generate(model, prompts, { maxNewTokens: 5, allowedIds, numBeams: 3 });
    for (const hs of beams.beams!) for (const h of hs) for (const id of h.tokens) t.true(inside(id), `beam id ${id}`);
  }
  t.is(emitted, ranges.length * modes.length * 4 * 4 * 6);
  // without a mask the same model does emit ids outside the first range, so the mask is what holds them in
  const free = generate(model, prompts, { maxNewTokens: 6, temperature: 1, numSamples: 4, seed: 1 }).tokens.flat();
  t.true(free.some((id) => id < 10 || id >= 18));
  t.throws(() => generate(model, prompts, { maxNewTokens: 2, allowedIds: [[5, 5]] }), { message: /allowedIds/ });
  t.throws(() => generate(model, prompts, { maxNewTokens: 2, allowedIds: [[30, 41]] }), { message: /allowedIds/ });
  model.dispose();
});

test('numSamples rows equal the prompts repeated, prompt-major; a shared prompt is prefilled once', (t) => {
  const model = new GPT(resolveModelConfig('tiny', { vocabSize: 30, initStd: 0.3 }), 2);
  const opts = { maxNewTokens: 6, temperature: 1.2, seed: 11 };
  const samples = generate(model, prompts, { ...opts, numSamples: 3 });
  const repeated = generate(model, [prompts[0], prompts[0], prompts[0], prompts[1], prompts[1], prompts[1]], opts);
  t.deepEqual(samples.tokens, repeated.tokens);
  t.is(samples.tokens.length, 6);
  t.true(new Set(samples.tokens.slice(0, 3).map((r) => r.join(','))).size > 1, 'samples of one prompt differ');
  // one prompt for every row runs it once and copies its cache: same tokens and logits as recomputing
  const one = { ...opts, numSamples: 4, returnLogits: true };
  const none = generate(model, [prompts[0]], { ...one, useCache: false });
  for (const kvCache of ['host', 'tensors'] as const) {
    const shared = generate(model, [prompts[0]], { ...one, kvCache });
    t.deepEqual(shared.tokens, none.tokens, kvCache);
    let maxErr = 0;
    shared.logits!.forEach((rows, b) =>
      rows.forEach((row, s) => row.forEach((v, i) => (maxErr = Math.max(maxErr, Math.abs(v - none.logits![b][s][i]))))),
    );
    t.true(maxErr < 1e-4, `${kvCache}: max |Δlogit| ${maxErr}`);
  }
  model.dispose();
});

// A stand-in vocabulary text: id i decodes to two letters, so every piece boundary is a letter pair.
const piece = (id: number) => String.fromCharCode(97 + (id % 26)) + String.fromCharCode(65 + (id % 26));
const decode = (ids: number[]) => ids.map(piece).join('');

test('stop strings are found across piece boundaries and end the row on the completing token', (t) => {
  const model = new GPT(resolveModelConfig('tiny', { vocabSize: 26, initStd: 0.4 }), 6);
  const free = generate(model, prompts, { maxNewTokens: 10, temperature: 1, seed: 4 });
  for (let b = 0; b < prompts.length; b++) {
    const g = free.tokens[b];
    // straddles g[2] | g[3]; and one spanning three pieces g[4] g[5] g[6]
    for (const stop of [piece(g[2])[1] + piece(g[3])[0], piece(g[4])[1] + piece(g[5]) + piece(g[6])[0]]) {
      const first = g.findIndex((_, k) => decode(g.slice(0, k + 1)).includes(stop)); // naive reference
      const r = generate(model, prompts, {
        maxNewTokens: 10,
        temperature: 1,
        seed: 4,
        stopStrings: ['zzzz', stop],
        decode,
      });
      t.deepEqual(r.tokens[b], g.slice(0, first + 1), `row ${b} stop ${stop}`);
      t.is(r.finish[b], 'stop-string');
      t.is(r.stopString![b], stop);
      const whole = decode(g.slice(0, first + 1));
      t.is(r.text![b], whole.slice(0, whole.indexOf(stop)), 'text is cut before the stop string');
    }
  }
  // a row that never meets its stop string keeps all its text
  const none = generate(model, prompts, { maxNewTokens: 10, temperature: 1, seed: 4, stopStrings: ['zzzz'], decode });
  t.deepEqual(none.text, free.tokens.map(decode));
  t.deepEqual(none.finish, ['length', 'length']);
  t.throws(() => generate(model, prompts, { maxNewTokens: 2, stopStrings: ['a'] }), { message: /decode/ });
  model.dispose();
});

test('onToken returning false stops only its row; the time budget stops every row', (t) => {
  const model = new GPT(resolveModelConfig('tiny', { vocabSize: 30, initStd: 0.3 }), 8);
  const greedy = generate(model, prompts, { maxNewTokens: 6 });
  t.deepEqual(greedy.finish, ['length', 'length']);
  const seen: Array<[number, number]> = [];
  const r = generate(model, prompts, {
    maxNewTokens: 6,
    onToken: (row, token) => {
      seen.push([row, token]);
      return !(row === 1 && seen.filter(([b]) => b === 1).length === 2);
    },
  });
  t.deepEqual(r.tokens[0], greedy.tokens[0]);
  t.deepEqual(r.tokens[1], greedy.tokens[1].slice(0, 2));
  t.deepEqual(r.finish, ['length', 'callback']);
  t.deepEqual(
    seen.filter(([b]) => b === 0).map(([, tok]) => tok),
    greedy.tokens[0],
    'streamed tokens are the output',
  );
  // a budget of 0 ms is spent by the first step: one token per row
  const timed = generate(model, prompts, { maxNewTokens: 6, maxTimeMs: 0 });
  t.deepEqual(
    timed.tokens,
    greedy.tokens.map((row) => row.slice(0, 1)),
  );
  t.deepEqual(timed.finish, ['time', 'time']);
  const beamTimed = generate(model, prompts, { maxNewTokens: 6, maxTimeMs: 0, numBeams: 2 });
  t.true(beamTimed.tokens.every((row) => row.length === 1));
  model.dispose();
});
