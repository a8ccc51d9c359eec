// The Kneser–Ney baseline (src/prompts/baselines): continuation counts, discounts and one interpolated
// probability worked by hand on a four-document corpus; every adjusted count against a brute-force count
// over random documents; distributions summing to 1 over the whole vocabulary for seen, unseen, short and
// document-start contexts; greedy continuation against a brute-force argmax and on a memorised sequence;
// training from Megatron shards equal to training on the same documents in memory.

import test from 'ava';
import { join } from 'node:path';
import { HyperlmError } from '../src/errors.js';
import { Rng } from '../src/rng.js';
import {
  estimateDiscounts,
  trainNgram,
  trainNgramFromShards,
  type KneserNeyModel,
} from '../src/prompts/baselines/index.js';
import { tempDir } from './helpers/fixtures.js';
import { LAYOUT, writeSyntheticData } from './helpers/train-shards.js';

const [a, b, c, d, e] = [0, 1, 2, 3, 4];
// ^ marks the document start (BOS); token 5 of the vocabulary never occurs
const HAND_DOCS = [[a, b, a, c, a, d, a], [b, c, b, a], [e], [a, b, a]];

test('hand-worked corpus: unigram and bigram continuation counts, discounts and one interpolated probability', (t) => {
  const m = trainNgram(HAND_DOCS, { order: 3, vocabSize: 6 });
  // unigram continuation counts: distinct predecessors, ^ included
  //   a ← {^, b, c, d} = 4   b ← {a, ^, c} = 3   c ← {a, b} = 2   d ← {a} = 1   e ← {^} = 1
  t.deepEqual(
    [a, b, c, d, e, 5].map((w) => m.count([w])),
    [4, 3, 2, 1, 1, 0],
  );
  // bigram continuation counts from the trigrams (^ a b)×2 (a b a)×2 (b a c) (a c a) (c a d) (a d a) (^ b c) (b c b) (c b a):
  //   "a b" ← {^} = 1 although it occurs twice; "b a" ← {a, c} = 2 although it occurs 3 times
  t.is(m.count([a, b]), 1);
  t.is(m.count([b, a]), 2);
  t.deepEqual(
    [
      [a, c],
      [c, a],
      [a, d],
      [d, a],
      [b, c],
      [c, b],
    ].map((g) => m.count(g)),
    [1, 1, 1, 1, 1, 1],
  );
  t.is(m.count([b, d]), 0);
  // n-grams opening a document cannot be extended to the left: raw counts
  t.deepEqual(
    [[a], [b], [e], [c]].map((g) => m.count(g, true)),
    [2, 1, 1, 0],
  );
  t.is(m.count([a, b], true), 2);
  t.is(m.count([a, b, a]), 2); // highest order: raw
  // unigram counts-of-counts n1..n4 = 2 (d, e), 1 (c), 1 (b), 1 (a): Y = n1 / (n1 + 2 n2) = 1/2,
  // D1 = 1 − 2Y n2/n1 = 1/2, D2 = 2 − 3Y n3/n2 = 1/2, D3+ = 3 − 4Y n4/n3 = 1
  t.deepEqual(m.countOfCounts(1), [2, 1, 1, 1]);
  t.deepEqual(m.discounts(1), { discounts: [0.5, 0.5, 1], fallback: false });
  // bigrams: 1 ×9, 2 ×2 (^ a, b a), none with 3 → no estimate, fallback [0.5, 1, 1.5]; trigrams likewise
  t.deepEqual(m.countOfCounts(2), [9, 2, 0, 0]);
  t.deepEqual(m.discounts(2), { discounts: [0.5, 1, 1.5], fallback: true });
  t.deepEqual(m.countOfCounts(3), [7, 2, 0, 0]);

  // P(c | b a): order 1: Σ = 11, γ·Σ = 0.5·2 + 0.5·1 + 1·2 = 3.5, c keeps 2 − 0.5
  const p1 = (1.5 + 3.5 / 6) / 11;
  // order 2, context "a": a b, a c, a d (continuation 1 each): Σ = 3, γ·Σ = 3·0.5
  const p2 = (0.5 + 1.5 * p1) / 3;
  // order 3, context "b a": only (b a c), raw 1: Σ = 1, γ·Σ = 0.5
  const p3 = (0.5 + 0.5 * p2) / 1;
  t.true(Math.abs(Math.exp(m.logProb([e, b, a], c)) - p3) < 1e-15);
  // P(b | ^ a), a document start: order 3 context (^ a) holds (^ a b) twice: Σ = 2, b keeps 2 − D2 = 1, γ·Σ = 1
  const q1 = (2 + 3.5 / 6) / 11;
  const q2 = (0.5 + 1.5 * q1) / 3;
  t.true(Math.abs(Math.exp(m.logProb([a], b)) - (1 + q2) / 2) < 1e-15);
  t.is(estimateDiscounts([4, 2, 1, 0]), undefined);
  t.throws(() => m.logProb([a], 6), { instanceOf: HyperlmError, code: 'MODEL_BAD_INPUT' });
  t.throws(() => trainNgram([[0, 7]], { vocabSize: 6 }), {
    instanceOf: HyperlmError,
    message: /token 7 at document 0 position 1/,
  });
  t.throws(() => trainNgram([], { vocabSize: 6, ordr: 3 } as never), {
    instanceOf: HyperlmError,
    code: 'CONFIG_UNKNOWN_KEY',
  });
});

/** Documents with repeated structure (a Markov chain over a small vocabulary), so counts of every size occur. */
function markovDocs(seed: number, count: number, vocab: number, maxLen: number): number[][] {
  const rng = Rng.fromSeed(seed);
  const next = Array.from({ length: vocab }, () => Array.from({ length: 3 }, () => rng.int(vocab)));
  return Array.from({ length: count }, () => {
    const doc = [rng.int(vocab)];
    const len = 1 + rng.int(maxLen);
    while (doc.length < len) doc.push(rng.uniform() < 0.85 ? next[doc[doc.length - 1]][rng.int(3)] : rng.int(vocab));
    return doc;
  });
}

test('every adjusted count equals a brute-force count over the documents', (t) => {
  const N = 4;
  const docs = markovDocs(5, 60, 30, 60);
  const m = trainNgram(docs, { order: N, vocabSize: 32 });
  const BOS = -1;
  const raw = new Map<string, number>();
  const left = new Map<string, Set<number>>();
  for (const doc of docs) {
    const s = [BOS, ...doc];
    for (let k = 1; k <= N; k++) {
      for (let i = 0; i + k <= s.length; i++) {
        const g = s.slice(i, i + k);
        if (g.length === 1 && g[0] === BOS) continue;
        const key = g.join(',');
        if (k === N || i === 0) raw.set(key, (raw.get(key) ?? 0) + 1);
        else left.set(key, (left.get(key) ?? new Set()).add(s[i - 1]));
      }
    }
  }
  let checked = 0;
  for (const [key, n] of raw) {
    const g = key.split(',').map(Number);
    t.is(g[0] === BOS ? m.count(g.slice(1), true) : m.count(g), n, key);
    checked++;
  }
  for (const [key, set] of left) {
    t.is(m.count(key.split(',').map(Number)), set.size, key);
    checked++;
  }
  t.log(`${checked} n-grams checked; discounts ${[1, 2, 3, 4].map((k) => JSON.stringify(m.discounts(k))).join(' ')}`);
  for (let k = 1; k <= N; k++) {
    const est = estimateDiscounts(m.countOfCounts(k));
    if (est) t.deepEqual(m.discounts(k).discounts, est);
  }
  t.false(m.discounts(1).fallback && m.discounts(4).fallback, 'this corpus should give estimated discounts');
  t.is(m.count([31]), 0);
});

function assertSumsToOne(t: import('ava').ExecutionContext, m: KneserNeyModel, context: number[]): void {
  const dist = m.distribution(context);
  let sum = 0;
  for (let v = 0; v < dist.length; v++) {
    t.true(dist[v] > 0);
    sum += dist[v];
    if (v % 7 === 0) t.true(Math.abs(Math.exp(m.logProb(context, v)) - dist[v]) < 1e-15);
  }
  t.true(Math.abs(sum - 1) <= 1e-9, `context ${JSON.stringify(context)}: Σ = ${sum}`);
}

test('P(· | context) sums to 1 over the whole vocabulary for seen, unseen, short and document-start contexts', (t) => {
  const docs = markovDocs(9, 80, 40, 80);
  for (const order of [1, 2, 4]) {
    const m = trainNgram(docs, { order, vocabSize: 45 });
    const seen = docs[3].slice(5, 12);
    for (const ctx of [
      [],
      [docs[0][0]],
      docs[1].slice(0, 2),
      seen,
      [...seen.slice(0, 5), 44, 43],
      [44, 44, 44],
      [docs[2][0], 44],
    ]) {
      assertSumsToOne(t, m, ctx);
    }
  }
  // the hand corpus, where every order above the unigrams uses fallback discounts
  const hand = trainNgram(HAND_DOCS, { order: 3, vocabSize: 6 });
  for (const ctx of [[], [a], [b, a], [c, b], [5, 5], [e]]) assertSumsToOne(t, hand, ctx);
});

test('greedy continuation takes the argmax of the full distribution at every step', (t) => {
  const docs = markovDocs(13, 50, 25, 50);
  const m = trainNgram(docs, { vocabSize: 25 });
  const rng = Rng.fromSeed(3);
  for (const start of [[], docs[4].slice(0, 3), [rng.int(25), rng.int(25)], docs[7].slice(10, 20)]) {
    const { tokens, stopped } = m.greedyContinue(start, 25);
    t.false(stopped);
    t.is(tokens.length, 25);
    const history = [...start];
    for (const tok of tokens) {
      const dist = m.distribution(history);
      let best = 0;
      for (let v = 1; v < dist.length; v++) if (dist[v] > dist[best]) best = v;
      t.is(tok, best);
      history.push(tok);
    }
  }
  // the argmax can lie outside every context's followers: with D1 = 1, "1 → 2" (seen once) keeps no mass of
  // its own, and token 0, which follows eleven different tokens, takes the unigram level and the step
  const skew = trainNgram([[1, 2], ...Array.from({ length: 11 }, (_, i) => [5 + i, 0])], {
    order: 2,
    vocabSize: 20,
    discountFallback: [1, 1.5, 2],
  });
  const dist = skew.distribution([1]);
  t.true(dist[0] > dist[2]);
  t.deepEqual(skew.greedyContinue([1], 1).tokens, [0]);
});

test('greedy continuation reproduces a memorised sequence and stops at the stop token', (t) => {
  const rng = Rng.fromSeed(21);
  const V = 64;
  // a sequence over ids [0, 40) whose 3-token contexts never repeat, seen three times among unrelated
  // documents over ids [40, 63) (sharing ids, the noise's frequent bigrams could outvote the sequence
  // where only short contexts exist, at the document start)
  let seq: number[];
  do {
    seq = Array.from({ length: 200 }, () => rng.int(40));
  } while (new Set(seq.slice(0, -1).map((_, i) => seq.slice(i, i + 3).join(','))).size < seq.length - 1);
  const noise = markovDocs(2, 30, 23, 40).map((doc) => doc.map((tok) => tok + 40));
  const m = trainNgram([seq, ...noise, seq, seq], { order: 4, vocabSize: V });
  const out = m.greedyContinue(seq.slice(0, 3), seq.length - 3);
  t.deepEqual(out.tokens, seq.slice(3));
  // from the document start too, when the sequence is all the model has seen (with the noise, a noise id
  // that opens more documents than the sequence's first id rightly wins after the bare BOS context)
  t.deepEqual(trainNgram([seq, seq], { vocabSize: V }).greedyContinue([], seq.length).tokens, seq);
  // stop at the first occurrence (after position 3) of the token at position 50; the stop token is kept
  const stopAt = seq[50];
  const first = seq.indexOf(stopAt, 3);
  const stopped = m.greedyContinue(seq.slice(0, 3), 500, (tok) => tok === stopAt);
  t.true(stopped.stopped);
  t.deepEqual(stopped.tokens, seq.slice(3, first + 1));
  t.deepEqual(m.greedyContinue(seq.slice(0, 3), 0), { tokens: [], stopped: false });
});

test("trainNgramFromShards counts the split's shard documents like trainNgram on the same documents", async (t) => {
  const dir = tempDir('ngram-shards');
  const data = await writeSyntheticData(dir, { train: 30, valid: 6, seed: 4, maxLen: 60 });
  const res = await trainNgramFromShards(dir, 'train', { order: 3 });
  const docs = data.docs.train.map((x) => [...x.tokens, LAYOUT.eos]);
  const mem = trainNgram(docs, { order: 3, vocabSize: LAYOUT.size });
  t.is(res.documents, docs.length);
  t.is(
    res.tokens,
    docs.reduce((s, x) => s + x.length, 0),
  );
  t.false(res.truncated);
  t.is(res.model.vocabSize, LAYOUT.size);
  for (const ctx of [[], docs[0].slice(0, 1), docs[3].slice(4, 9), [30, 31]]) {
    const x = res.model.distribution(ctx);
    const y = mem.distribution(ctx);
    t.true(x.every((p, i) => Math.abs(p - y[i]) < 1e-12));
  }
  // documents split across several sequences (maxDocTokens 24 in the helper) are counted as one stream
  const long = docs.find((x) => x.length > 30)!;
  t.is(res.model.count(long.slice(20, 23)), mem.count(long.slice(20, 23)));
  t.true(res.model.count(long.slice(22, 25)) > 0);
  const cut = await trainNgramFromShards(dir, 'train', { order: 2, maxTokens: 50 });
  t.true(cut.truncated);
  t.true(cut.tokens >= 50 && cut.documents < docs.length);
  await t.throwsAsync(trainNgramFromShards(join(dir, 'missing'), 'train'), {
    instanceOf: HyperlmError,
    code: 'INPUT_NOT_FOUND',
  });
});
