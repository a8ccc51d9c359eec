// The sampler's partial selection (src/model/sampling.ts) against a full sort of the vocabulary: for
// top-k, top-p and both, with many tied logits, the same random draws pick the same tokens; topIndices
// returns a sorted prefix of the stable descending order.
import test from 'ava';
import { sampleToken, topIndices, type SamplingOptions } from '../src/model/sampling.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Sampling over the fully sorted vocabulary (stable sort, so ties rank by id). */
function reference(row: Float32Array, opts: SamplingOptions, random: () => number): number {
  const temperature = opts.temperature!;
  let order = Array.from(row.keys()).sort((a, b) => row[b] - row[a]);
  if (opts.topK && opts.topK > 0) order = order.slice(0, opts.topK);
  const max = row[order[0]];
  let probs = order.map((i) => Math.exp((row[i] - max) / temperature));
  let z = probs.reduce((a, b) => a + b, 0);
  if ((opts.topP ?? 1) < 1) {
    let cum = 0,
      keep = 0;
    while (keep < probs.length && cum < opts.topP! * z) cum += probs[keep++];
    order = order.slice(0, keep);
    probs = probs.slice(0, keep);
    z = cum;
  }
  let u = random() * z;
  for (let j = 0; j < order.length; j++) if ((u -= probs[j]) <= 0) return order[j];
  return order[order.length - 1];
}

test('top-k / top-p by partial selection pick the same tokens as a full sort', (t) => {
  const r = lcg(11);
  const V = 3000;
  const settings: SamplingOptions[] = [
    { temperature: 0.8, topK: 40 },
    { temperature: 1, topK: 1 },
    { temperature: 1.3, topK: 2999 },
    { temperature: 0.7, topP: 0.9 },
    { temperature: 2, topP: 0.999 },
    { temperature: 0.8, topK: 40, topP: 0.95 },
  ];
  let compared = 0;
  for (let n = 0; n < 9; n++) {
    // logits on a coarse grid, so many ids tie; the spread decides how wide the nucleus is
    const spread = [0.5, 2, 8][n % 3];
    const row = Float32Array.from({ length: V }, () => Math.round(r() * spread * 4) / 4);
    for (const opts of settings) {
      const seed = 100 * n + compared;
      for (let k = 0, a = lcg(seed), b = lcg(seed); k < 5; k++) {
        t.is(sampleToken(row, opts, a), reference(row, opts, b), `row ${n}, ${JSON.stringify(opts)}, draw ${k}`);
        compared++;
      }
    }
  }
  t.is(compared, 9 * settings.length * 5);
});

test('topIndices is the stable descending order, cut at m', (t) => {
  const r = lcg(3);
  const row = Float32Array.from({ length: 500 }, () => Math.floor(r() * 20));
  const sorted = Array.from(row.keys()).sort((a, b) => row[b] - row[a]);
  for (const m of [1, 7, 64, 500]) t.deepEqual(Array.from(topIndices(row, m)), sorted.slice(0, m), `m = ${m}`);
});
