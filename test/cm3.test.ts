// CM3 causal masking (src/tokenize/cm3.ts) and the seeded PRNG it draws from (src/rng.ts):
// exact inversion, structure of the output, and sampling distributions checked against exact
// expectations with tolerances derived from their standard errors.

import test from 'ava';
import { Rng, seedFrom } from '../src/rng.js';
import { cm3Transform, cm3Inverse, cm3Parse, lossWeights, CM3_DEFAULTS, type Cm3Vocab } from '../src/tokenize/cm3.js';
import { HyperlmError } from '../src/errors.js';

const VOCAB: Cm3Vocab = { maskBase: 1000, maskCount: 16, eom: 1016 };
const isMask = (t: number) => t >= VOCAB.maskBase && t < VOCAB.maskBase + VOCAB.maskCount;

function randomDoc(rng: Rng, maxLen: number): Int32Array {
  const L = rng.int(maxLen + 1);
  return Int32Array.from({ length: L }, () => rng.int(100));
}

function poissonPmf(lambda: number, k: number): number {
  let p = Math.exp(-lambda);
  for (let i = 1; i <= k; i++) p *= lambda / i;
  return p;
}

test('inverse is exact and length grows by 3 per span, over many seeds', (t) => {
  const gen = Rng.fromSeed(1);
  for (let seed = 0; seed < 3000; seed++) {
    const doc = randomDoc(gen, 120);
    const out = cm3Transform(doc, VOCAB, CM3_DEFAULTS, Rng.fromParts('doc', seed));
    const n = out.filter(isMask).length / 2;
    if (out.length !== doc.length + 3 * n) t.fail(`seed ${seed}: length ${out.length} ≠ ${doc.length} + 3·${n}`);
    if (doc.length > 0 && (n < 1 || n > 16)) t.fail(`seed ${seed}: ${n} spans`);
    const back = cm3Inverse(out, VOCAB);
    if (back.length !== doc.length || back.some((x, i) => x !== doc[i])) t.fail(`seed ${seed}: inverse differs`);
  }
  t.pass();
});

test('sentinels appear in order, spans are non-empty and disjoint, one <eom> per span', (t) => {
  for (let seed = 0; seed < 1000; seed++) {
    const doc = randomDoc(Rng.fromParts('len', seed), 60);
    const out = cm3Transform(doc, VOCAB, { ...CM3_DEFAULTS, lambda: 4 }, Rng.fromParts('doc', seed));
    const masks = [...out].filter(isMask).map((m) => m - VOCAB.maskBase);
    const n = masks.length / 2;
    const expected = [...Array(n).keys(), ...Array(n).keys()];
    t.deepEqual(masks, expected, `seed ${seed}`);
    t.is([...out].filter((x) => x === VOCAB.eom).length, n);
    // every moved span: <mask:i> then ≥ 1 plain token then <eom>
    const suffix = out.subarray(out.indexOf(VOCAB.maskBase, out.indexOf(VOCAB.maskBase) + 1));
    for (let p = 0, i = 0; p < suffix.length; i++) {
      t.is(suffix[p], VOCAB.maskBase + i);
      const e = suffix.indexOf(VOCAB.eom, p);
      t.true(e > p + 1, `seed ${seed}: span ${i} empty`);
      p = e + 1;
    }
    const { spans } = cm3Parse(out, VOCAB);
    for (let i = 0; i < spans.length; i++) {
      t.true(spans[i][0] < spans[i][1]);
      // distinct endpoints: at least one untouched token between consecutive spans
      if (i > 0) t.true(spans[i - 1][1] < spans[i][0], `seed ${seed}: spans ${i - 1},${i} touch or overlap`);
    }
  }
});

test('span count mean matches E[clamp(Poisson(1), 1, 16)] within 4 standard errors', (t) => {
  let mean = 0;
  let second = 0;
  for (let k = 0; k < 60; k++) {
    const v = Math.min(Math.max(k, 1), 16);
    mean += v * poissonPmf(1, k);
    second += v * v * poissonPmf(1, k);
  }
  t.true(Math.abs(mean - (1 + Math.exp(-1))) < 1e-9, 'exact mean is 1 + e^-1 ≈ 1.3679');
  const N = 20000;
  const doc = Int32Array.from({ length: 100 }, (_, i) => i % 50);
  let sum = 0;
  let ones = 0;
  for (let d = 0; d < N; d++) {
    const out = cm3Transform(doc, VOCAB, CM3_DEFAULTS, Rng.fromParts(7, d));
    const n = (out.length - doc.length) / 3;
    sum += n;
    if (n === 1) ones++;
  }
  const se = Math.sqrt((second - mean * mean) / N);
  const observed = sum / N;
  t.log(`mean spans ${observed.toFixed(4)} vs exact ${mean.toFixed(4)} (se ${se.toFixed(4)})`);
  t.true(Math.abs(observed - mean) < 4 * se);
  const p1 = 2 * Math.exp(-1);
  t.true(Math.abs(ones / N - p1) < 4 * Math.sqrt((p1 * (1 - p1)) / N));
});

test('span endpoints are uniform: P(token j masked) = (j+1)(L-j)/C(L+1,2) for one span', (t) => {
  const L = 10;
  const N = 20000;
  const doc = Int32Array.from({ length: L }, (_, i) => i);
  const hits = new Array<number>(L).fill(0);
  for (let d = 0; d < N; d++) {
    const { spans } = cm3Parse(
      cm3Transform(doc, VOCAB, { ...CM3_DEFAULTS, maxMasks: 1 }, Rng.fromParts('u', d)),
      VOCAB,
    );
    t.is(spans.length, 1);
    for (let j = spans[0][0]; j < spans[0][1]; j++) hits[j]++;
  }
  const pairs = ((L + 1) * L) / 2;
  for (let j = 0; j < L; j++) {
    const p = ((j + 1) * (L - j)) / pairs;
    const se = Math.sqrt((p * (1 - p)) / N);
    t.true(Math.abs(hits[j] / N - p) < 4 * se, `token ${j}: ${hits[j] / N} vs ${p}`);
  }
});

test('deterministic by seed; different seeds differ', (t) => {
  const doc = Int32Array.from({ length: 200 }, (_, i) => (i * 7) % 90);
  const a = cm3Transform(doc, VOCAB, CM3_DEFAULTS, Rng.fromParts('shard-3', 42));
  const b = cm3Transform(doc, VOCAB, CM3_DEFAULTS, Rng.fromParts('shard-3', 42));
  t.deepEqual(a, b);
  let differ = 0;
  for (let s = 0; s < 20; s++) {
    const c = cm3Transform(doc, VOCAB, CM3_DEFAULTS, Rng.fromParts('shard-3', 100 + s));
    if (c.length !== a.length || c.some((x, i) => x !== a[i])) differ++;
  }
  t.true(differ >= 19);
});

test('ltrFraction leaves that fraction of documents untouched', (t) => {
  const doc = Int32Array.from({ length: 50 }, (_, i) => i);
  const N = 10000;
  for (const f of [0, 0.3, 1]) {
    let untouched = 0;
    for (let d = 0; d < N; d++) {
      const out = cm3Transform(doc, VOCAB, { ...CM3_DEFAULTS, ltrFraction: f }, Rng.fromParts('ltr', d));
      if (out.length === doc.length) {
        t.deepEqual(out, doc);
        untouched++;
      }
    }
    const se = Math.sqrt((f * (1 - f)) / N);
    t.true(Math.abs(untouched / N - f) <= 4 * se, `ltrFraction ${f}: ${untouched / N}`);
  }
});

test('loss weights are zero exactly at sentinels, one at <eom> and text', (t) => {
  const doc = Int32Array.from({ length: 40 }, (_, i) => i);
  const out = cm3Transform(doc, VOCAB, { ...CM3_DEFAULTS, lambda: 3 }, Rng.fromSeed(5));
  const w = lossWeights(out, VOCAB);
  t.is(w.length, out.length);
  for (let i = 0; i < out.length; i++) t.is(w[i], isMask(out[i]) ? 0 : 1);
  t.true(
    out.includes(VOCAB.eom) && [...w].filter((x) => x === 0).length === 2 * out.filter((x) => x === VOCAB.eom).length,
  );
});

test('edge cases: empty, one token, short documents get fewer spans', (t) => {
  const rng = Rng.fromSeed(9);
  t.is(cm3Transform(new Int32Array(0), VOCAB, CM3_DEFAULTS, rng).length, 0);
  t.deepEqual([...cm3Transform(Int32Array.of(5), VOCAB, CM3_DEFAULTS, rng)], [1000, 1000, 5, 1016]);
  for (let s = 0; s < 200; s++) {
    const out = cm3Transform(Int32Array.of(1, 2, 3), VOCAB, { ...CM3_DEFAULTS, lambda: 10 }, Rng.fromSeed(s));
    t.true(out.length === 6 || out.length === 9, '3 tokens: 4 boundaries allow at most 2 spans');
    t.deepEqual([...cm3Inverse(out, VOCAB)], [1, 2, 3]);
  }
});

test('spans never start or end inside an image block', (t) => {
  const vocab: Cm3Vocab = { ...VOCAB, imageBegin: 900, imageEnd: 901 };
  for (let s = 0; s < 500; s++) {
    const g = Rng.fromParts('img', s);
    const doc: number[] = [];
    const blocks: Array<[number, number]> = [];
    while (doc.length < 80) {
      if (g.uniform() < 0.1) {
        const b = doc.length;
        doc.push(900, ...Array.from({ length: 1 + g.int(8) }, () => 500 + g.int(100)), 901);
        blocks.push([b, doc.length - 1]);
      } else doc.push(g.int(100));
    }
    const tokens = Int32Array.from(doc);
    const out = cm3Transform(tokens, vocab, { ...CM3_DEFAULTS, lambda: 3 }, g);
    const { tokens: back, spans } = cm3Parse(out, vocab);
    t.deepEqual(back, tokens);
    for (const [start, end] of spans) {
      for (const [b, e] of blocks) {
        for (const c of [start, end]) if (b < c && c <= e) t.fail(`seed ${s}: boundary ${c} inside block [${b}, ${e}]`);
      }
    }
  }
  // an image-only document can still be masked whole, never cut
  const only = Int32Array.of(900, 1, 2, 3, 901);
  const out = cm3Transform(only, vocab, CM3_DEFAULTS, Rng.fromSeed(1));
  t.deepEqual([...out], [1000, 1000, 900, 1, 2, 3, 901, 1016]);
});

test('reserved ids in the input and malformed masked sequences are HyperlmErrors', (t) => {
  const e1 = t.throws(() => cm3Transform(Int32Array.of(1, 1003, 2), VOCAB, CM3_DEFAULTS, Rng.fromSeed(0)), {
    instanceOf: HyperlmError,
  });
  t.is((e1 as HyperlmError).code, 'CM3_BAD_TOKENS');
  t.regex(e1!.message, /1003/);
  for (const bad of [
    [1000, 5],
    [1001, 5],
    [1000, 5, 1000, 1016],
    [1000, 1000, 5, 1016, 7],
    [5, 1016],
  ]) {
    const e = t.throws(
      () => cm3Inverse(Int32Array.from(bad), VOCAB),
      { instanceOf: HyperlmError },
      JSON.stringify(bad),
    );
    t.is((e as HyperlmError).code, 'CM3_BAD_TOKENS');
  }
  t.throws(() => cm3Transform(Int32Array.of(1), VOCAB, { ...CM3_DEFAULTS, maxMasks: 17 }, Rng.fromSeed(0)), {
    message: /maskCount/,
  });
});

test('rng: Poisson mean and variance, unbiased int, state round trip, fork and seedFrom', (t) => {
  for (const lambda of [1, 45]) {
    const g = Rng.fromSeed(seedFrom('poisson', lambda));
    const N = 20000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < N; i++) {
      const k = g.poisson(lambda);
      s += k;
      s2 += k * k;
    }
    const mean = s / N;
    const variance = s2 / N - mean * mean;
    t.true(Math.abs(mean - lambda) < 4 * Math.sqrt(lambda / N), `λ=${lambda}: mean ${mean}`);
    // Var of the sample variance for Poisson ≈ (λ + 2λ²)/N
    t.true(
      Math.abs(variance - lambda) < 4 * Math.sqrt((lambda + 2 * lambda * lambda) / N),
      `λ=${lambda}: var ${variance}`,
    );
  }
  const g = Rng.fromSeed(3);
  const counts = new Array<number>(7).fill(0);
  const N = 70000;
  for (let i = 0; i < N; i++) counts[g.int(7)]++;
  const chi2 = counts.reduce((a, c) => a + (c - N / 7) ** 2 / (N / 7), 0);
  t.true(chi2 < 22.46, `chi² ${chi2} (df 6, p = 0.001 cutoff 22.46)`);
  const u = Array.from({ length: 1000 }, () => g.uniform());
  t.true(u.every((x) => x >= 0 && x < 1));

  const saved = g.getState();
  const first = [g.nextU32(), g.nextU32(), g.nextU32()];
  const resumed = Rng.fromState(saved);
  t.deepEqual([resumed.nextU32(), resumed.nextU32(), resumed.nextU32()], first);

  const before = g.getState();
  const child = g.fork('docs');
  t.deepEqual(g.getState(), before, 'fork does not advance the parent');
  t.not(child.nextU32(), g.fork('other').nextU32());
  t.not(seedFrom('1', '2'), seedFrom('12'));
  t.not(seedFrom(1, 2), seedFrom('1', '2'));
  t.is(seedFrom('a', 3), seedFrom('a', 3));
  t.throws(() => g.setState([0, 0, 0, 0]), { instanceOf: HyperlmError });
});
