// Beam search: a wide enough beam equals exhaustive search over every continuation (scored independently
// from GPT.forward, float64 log-softmax) under the same length penalty; the host cache, the tensor cache and recomputation give the same beams (reorder moves the cache rows).
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { GPT, generate, resolveModelConfig } from '../src/model/index.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

const V = 6,
  STOP = 5,
  LEN = 3;
const prompt = [1, 2];

/** log p(next | prompt + prefix) for all V tokens, from one full forward pass (float64 log-softmax). */
function nextLogProbs(model: GPT, prefix: number[]): number[] {
  const ids = [...prompt, ...prefix];
  const input = tf.tensor2d([ids], [1, ids.length], 'int32');
  const r = model.forward(input);
  const all = r.logits.dataSync();
  tf.dispose([input, r.logits, r.aux]);
  const row = Array.from(all.slice((ids.length - 1) * V, ids.length * V));
  const max = Math.max(...row);
  const logZ = max + Math.log(row.reduce((z, x) => z + Math.exp(x - max), 0));
  return row.map((x) => x - logZ);
}

/** Every finished continuation (ends in STOP, or reaches LEN tokens), scored Σ log p / len^α, best first. */
function exhaustive(model: GPT, alpha: number): Array<{ tokens: number[]; score: number }> {
  const out: Array<{ tokens: number[]; score: number }> = [];
  const walk = (prefix: number[], logProb: number): void => {
    const lp = nextLogProbs(model, prefix);
    for (let t = 0; t < V; t++) {
      const tokens = [...prefix, t],
        total = logProb + lp[t];
      if (t === STOP || tokens.length === LEN) out.push({ tokens, score: total / Math.pow(tokens.length, alpha) });
      else walk(tokens, total);
    }
  };
  walk([], 0);
  return out.sort((a, b) => b.score - a.score);
}

for (const alpha of [0, 0.6, 1, 2]) {
  test(`a 36-wide beam equals exhaustive search (vocab 6, 3 tokens, length penalty ${alpha})`, (t) => {
    for (const seed of [1, 2]) {
      const model = new GPT(
        resolveModelConfig('tiny', { vocabSize: V, blockSize: 8, initStd: 0.6, moe: { every: 0 } }),
        seed,
      );
      const ref = exhaustive(model, alpha);
      const { beams, tokens } = generate(model, [prompt], {
        maxNewTokens: LEN,
        numBeams: 36,
        lengthPenalty: alpha,
        stopTokens: [STOP],
      });
      t.deepEqual(tokens[0], ref[0].tokens, `seed ${seed}`);
      // the five best hypotheses, in order, with their scores
      for (let i = 0; i < 5; i++) {
        t.deepEqual(beams![0][i].tokens, ref[i].tokens, `seed ${seed} rank ${i}`);
        t.true(
          Math.abs(beams![0][i].score - ref[i].score) < 1e-4,
          `seed ${seed} rank ${i}: ${beams![0][i].score} vs ${ref[i].score}`,
        );
      }
      model.dispose();
    }
  });
}

test('a narrow beam can miss what exhaustive search finds, but never scores above it', (t) => {
  for (let seed = 1; seed <= 4; seed++) {
    const model = new GPT(
      resolveModelConfig('tiny', { vocabSize: V, blockSize: 8, initStd: 0.6, moe: { every: 0 } }),
      seed,
    );
    const best = exhaustive(model, 1)[0].score;
    const beam = generate(model, [prompt], { maxNewTokens: LEN, numBeams: 2, stopTokens: [STOP] }).beams![0][0];
    t.true(beam.score <= best + 1e-5, `seed ${seed}`);
    model.dispose();
  }
});

test('beam search gives the same hypotheses with the host cache, the tensor cache and no cache, and leaks nothing', (t) => {
  const model = new GPT(resolveModelConfig('tiny', { vocabSize: 30, initStd: 0.3 }), 7);
  const opts = { maxNewTokens: 6, numBeams: 4, stopTokens: [3, 9], lengthPenalty: 0.8 };
  const host = generate(model, [[1, 2, 4], [5]], { ...opts, kvCache: 'host' });
  const tensors = generate(model, [[1, 2, 4], [5]], { ...opts, kvCache: 'tensors' });
  const none = generate(model, [[1, 2, 4], [5]], { ...opts, useCache: false });
  const view = (r: typeof host) => r.beams!.map((hs) => hs.map((h) => h.tokens.join(',')));
  t.deepEqual(view(host), view(none));
  t.deepEqual(view(tensors), view(none));
  t.is(host.beams![0].length, 4);
  const before = tf.memory().numTensors;
  generate(model, [[1, 2, 4]], { ...opts, kvCache: 'tensors' });
  generate(model, [[1, 2, 4]], opts);
  t.is(tf.memory().numTensors, before);
  model.dispose();
});

test('beam search rejects options it cannot honour', (t) => {
  const model = new GPT(resolveModelConfig('tiny', { vocabSize: 30 }), 1);
  for (const extra of [{ stopStrings: ['a'], decode: () => '' }, { onToken: () => true }, { numSamples: 2 }]) {
    const err = t.throws(() => generate(model, [[1]], { maxNewTokens: 2, numBeams: 2, ...extra }));
    t.is((err as { code?: string }).code, 'MODEL_BAD_INPUT');
  }
  model.dispose();
});
