// MinHash near-duplicate detection (src/filter/minhash.ts, dedup.ts) measured on a generated test set
// with known near duplicates: pages of invented words under site templates, and copies of some of them
// with another template (different boilerplate), a few words changed, or both. Negatives share a
// template but not a body. Precision and recall of the index's verdicts are measured and logged; the
// MinHash similarity estimate is checked against the exact Jaccard similarity of the shingle sets,
// computed independently with plain string sets.
import test from 'ava';
import { Rng } from '../src/rng.js';
import { DedupIndex } from '../src/filter/dedup.js';
import { DEFAULT_MINHASH, bandKeys, estimatedJaccard, shingles, signature, words } from '../src/filter/minhash.js';

const rng = Rng.fromSeed(20261202);
const syllables = [
  'ka',
  'lo',
  'mi',
  'ne',
  'ru',
  'sa',
  'ti',
  'vo',
  'ze',
  'pa',
  'qui',
  'dor',
  'fen',
  'gal',
  'hum',
  'jor',
  'bex',
  'cy',
  'wu',
  'ish',
];
const vocab = Array.from({ length: 3000 }, () =>
  Array.from({ length: 2 + rng.int(3) }, () => syllables[rng.int(syllables.length)]).join(''),
);
const text = (n: number): string[] => Array.from({ length: n }, () => vocab[rng.int(vocab.length)]);
const templates = Array.from({ length: 6 }, () => ({ head: text(25 + rng.int(20)), foot: text(20 + rng.int(20)) }));

interface Doc {
  id: string;
  body: string[];
  template: number;
  text: string;
  original?: string;
}
const page = (id: string, body: string[], template: number, original?: string): Doc => ({
  id,
  body,
  template,
  original,
  text: [...templates[template].head, ...body, ...templates[template].foot].join(' '),
});

function changeWords(body: string[], n: number): string[] {
  const out = [...body];
  for (let k = 0; k < n; k++) out[rng.int(out.length)] = vocab[rng.int(vocab.length)];
  return out;
}

// 120 originals (300–700 words, 6 templates); 60 near copies of three kinds; 40 unrelated pages on the same templates.
const originals = Array.from({ length: 120 }, (_, i) => page(`p${i}`, text(300 + rng.int(400)), i % 6));
const copies: Doc[] = originals.slice(0, 60).map((o, i) => {
  const kind = i % 3;
  const other = (o.template + 1 + rng.int(5)) % 6;
  if (kind === 0) return page(`${o.id}-template`, o.body, other, o.id);
  if (kind === 1) return page(`${o.id}-words`, changeWords(o.body, 3 + rng.int(3)), o.template, o.id);
  return page(`${o.id}-both`, changeWords(o.body, 3), other, o.id);
});
const unrelated = Array.from({ length: 40 }, (_, i) => page(`u${i}`, text(300 + rng.int(400)), i % 6));
const docs = [...originals, ...unrelated, ...copies];

/** Exact Jaccard similarity of two texts' word 5-gram sets, as plain strings (no hashing). */
function jaccard(a: string, b: string, n = 5): number {
  const grams = (t: string): Set<string> => {
    const w = words(t);
    const s = new Set<string>();
    for (let i = 0; i + n <= w.length; i++) s.add(w.slice(i, i + n).join(' '));
    return s;
  };
  const x = grams(a);
  const y = grams(b);
  let inter = 0;
  for (const g of x) if (y.has(g)) inter++;
  return inter / (x.size + y.size - inter);
}

test('near duplicates (other template, a few words changed): precision and recall of the LSH verdicts', (t) => {
  const index = new DedupIndex('near', DEFAULT_MINHASH.bands);
  const byId = new Map(docs.map((d) => [d.id, d]));
  let flagged = 0;
  let correct = 0;
  let found = 0;
  const missed: string[] = [];
  const wrong: string[] = [];
  for (const d of docs) {
    const sig = signature(shingles(d.text, DEFAULT_MINHASH.ngrams), DEFAULT_MINHASH)!;
    const v = index.check({ exact: d.id, bands: bandKeys(sig, DEFAULT_MINHASH) }, d.id);
    if (!v.keep) {
      flagged++;
      const truth = d.original === v.of || (byId.get(v.of)?.original === d.original && d.original !== undefined);
      if (truth) correct++;
      else wrong.push(`${d.id}≈${v.of} (J=${jaccard(d.text, byId.get(v.of)!.text).toFixed(2)})`);
    }
    if (d.original !== undefined) {
      if (!v.keep && v.of === d.original) found++;
      else missed.push(`${d.id} (J=${jaccard(d.text, byId.get(d.original)!.text).toFixed(2)})`);
    }
  }
  const precision = correct / flagged;
  const recall = found / copies.length;
  t.log(
    `precision ${precision.toFixed(3)} (${correct}/${flagged}), recall ${recall.toFixed(3)} (${found}/${copies.length}); missed: ${missed.join(', ') || 'none'}; wrong: ${wrong.join(', ') || 'none'}`,
  );
  const byKind = ['template', 'words', 'both'].map(
    (k) =>
      `${k}: J ${copies
        .filter((c) => c.id.endsWith(k))
        .map((c) => jaccard(c.text, byId.get(c.original!)!.text))
        .reduce((a, b) => Math.min(a, b), 1)
        .toFixed(2)} min`,
  );
  t.log(`true Jaccard of the copies: ${byKind.join(', ')}`);
  // Theory (datatrove's note): a pair of Jaccard similarity J shares a band with probability 1 − (1 − J⁸)¹⁴.
  const expected =
    copies.reduce((a, c) => a + 1 - (1 - jaccard(c.text, byId.get(c.original!)!.text) ** 8) ** 14, 0) / copies.length;
  const recallOf = (kind: string): number =>
    copies.filter((c) => c.id.endsWith(kind) && !missed.some((m) => m.startsWith(`${c.id} `))).length /
    copies.filter((c) => c.id.endsWith(kind)).length;
  t.log(
    `recall by kind: other template ${recallOf('template').toFixed(2)}, words changed ${recallOf('words').toFixed(2)}, both ${recallOf('both').toFixed(2)}; expected overall from the Jaccard values ${expected.toFixed(3)}`,
  );
  t.true(precision >= 0.98, `precision ${precision}`);
  t.is(recallOf('words'), 1, 'a few changed words (J ≥ 0.89) are always caught');
  t.true(recall >= expected - 0.1, `recall ${recall} vs ${expected} expected`);
  // No original or unrelated page (same templates, other bodies) is flagged.
  t.deepEqual(wrong, []);
});

test('the MinHash estimate tracks the exact Jaccard similarity of the shingle sets', (t) => {
  let err = 0;
  const pairs = copies
    .map((c) => [c, docs.find((d) => d.id === c.original)!] as const)
    .concat(originals.slice(60, 80).map((o, i) => [o, originals[80 + i]] as const));
  for (const [a, b] of pairs) {
    const sa = signature(shingles(a.text, 5), DEFAULT_MINHASH)!;
    const sb = signature(shingles(b.text, 5), DEFAULT_MINHASH)!;
    err += Math.abs(estimatedJaccard(sa, sb) - jaccard(a.text, b.text));
  }
  const mean = err / pairs.length;
  t.log(`mean |estimate − Jaccard| over ${pairs.length} pairs: ${mean.toFixed(4)} (112 hashes: σ ≈ 0.04 at J = 0.5)`);
  t.true(mean < 0.04, String(mean));
});

test('shingles: word 5-grams of lower-cased letter/digit runs; fewer than 5 words give none', (t) => {
  t.deepEqual(words('Hello, WORLD! déjà-vu 42'), ['hello', 'world', 'déjà', 'vu', '42']);
  t.is(shingles('one two three four', 5).length, 0);
  t.is(shingles('a b c d e f', 5).length, 2);
  t.is(shingles('a b c d e a b c d e', 5).length, 5, 'repeated 5-grams count once');
  t.is(signature(new Uint32Array(0), DEFAULT_MINHASH), undefined);
});
