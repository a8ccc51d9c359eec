// The evaluation metrics (src/prompts/metrics): NLTK-exact Porter stems and rouge-score-exact ROUGE against
// Python references run on text from README.md and data/sample (test/fixtures/rouge_reference.py with
// Debian's python3-nltk), BLEU against NLTK's bleu_score (test/fixtures/bleu_reference.py) and against
// hand-worked examples from Papineni et al., CIDEr-D against a hand-worked toy corpus, Levenshtein against a
// brute-force recursion, exact match and the caption tokenizer on edge cases. Python-backed tests are
// registered as skipped when no python3 with nltk is found.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HyperlmError } from '../src/errors.js';
import { Rng } from '../src/rng.js';
import {
  bleuCorpus,
  bleuSentence,
  captionTokens,
  ciderD,
  editSimilarity,
  exactMatch,
  levenshtein,
  porterStem,
  rouge,
  rougeCorpus,
  rougeTokens,
  type RougeScores,
} from '../src/prompts/metrics/index.js';
import { REPO, SAMPLE, walk } from './helpers/fixtures.js';

const FIXTURES = join(REPO, 'test/fixtures');

/** A python3 that can import nltk: pyenv's python3 may shadow Debian's /usr/bin/python3, which has python3-nltk. */
function findPython(): string | undefined {
  for (const exe of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(exe, ['-c', 'import nltk.stem.porter, nltk.translate.bleu_score'], { stdio: 'ignore' });
      return exe;
    } catch {
      // try the next interpreter
    }
  }
  return undefined;
}

const PYTHON = findPython();
if (!PYTHON)
  console.log('prompts-metrics: no python3 with nltk (apt-get install python3-nltk): Python parity tests skipped');
const pyTest = PYTHON ? test : test.skip;

function runPython<T>(script: string, job: unknown): T {
  const out = execFileSync(PYTHON!, [join(FIXTURES, script)], { input: JSON.stringify(job), maxBuffer: 1 << 28 });
  return JSON.parse(out.toString()) as T;
}

/** Visible text of the sample HTML pages plus the README, in sorted path order. */
function sampleText(): string {
  const pages = walk(join(SAMPLE, 'html')).filter((f) => f.endsWith('.html'));
  const text = pages.map((f) =>
    readFileSync(f, 'utf8')
      .replace(/<(script|style)[^]*?<\/\1>/gi, ' ')
      .replace(/<[^>]*>/g, ' ')
      .replace(/&nbsp;/g, ' ')
      .replace(/&amp;/g, '&')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&#?\w+;/g, ' '),
  );
  return [readFileSync(join(REPO, 'README.md'), 'utf8'), ...text].join('\n');
}

function sentences(): string[] {
  return sampleText()
    .split(/(?<=[.!?])\s+|\n\s*\n/)
    .map((s) => s.replace(/\s+/g, ' ').trim())
    .filter((s) => {
      const n = s.split(' ').length;
      return n >= 5 && n <= 40;
    });
}

const INFLECT = ['s', 'es', 'ing', 'ed', 'ly', 'ness', 'ation', 'er'];

/** ~200 deterministic (prediction, reference) pairs of five kinds, plus edge cases. */
function sentencePairs(): Array<[string, string]> {
  const all = sentences();
  const rng = Rng.fromSeed(2024);
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < 200; i++) {
    const k = Math.floor((i * all.length) / 200);
    const ref = all[k];
    const words = ref.split(' ');
    switch (i % 5) {
      case 0:
        pairs.push([all[(k + 1) % all.length], ref]);
        break; // a neighbouring sentence
      case 1:
        pairs.push([words.filter(() => rng.uniform() > 0.3).join(' '), ref]);
        break; // words dropped
      case 2: {
        // two words swapped, one duplicated
        const w = [...words];
        const a = rng.int(w.length),
          b = rng.int(w.length);
        [w[a], w[b]] = [w[b], w[a]];
        w.splice(rng.int(w.length), 0, w[rng.int(w.length)]);
        pairs.push([w.join(' '), ref]);
        break;
      }
      case 3:
        pairs.push([words.map((w) => (rng.uniform() < 0.4 ? w + INFLECT[rng.int(INFLECT.length)] : w)).join(' '), ref]);
        break;
      default:
        pairs.push([ref.toUpperCase(), ref]);
    }
  }
  pairs.push(['', all[0]], [all[1], ''], ['', ''], ['!!! ... ???', 'Flies, skies & dying lies'], ['a a a a', 'a']);
  pairs.push(['Ünïcödé straße 2024', 'unicode strasse 2024']);
  return pairs;
}

/** A few thousand distinct words: every rouge token of the sample text and code, plus stemmer edge cases. */
function stemWords(): string[] {
  const code = walk(join(SAMPLE, 'code'))
    .filter((f) => /\.(js|ts)$/.test(f))
    .map((f) => readFileSync(f, 'utf8'));
  const words = new Set(rougeTokens([sampleText(), ...code].join('\n'), { stem: false }));
  const edge = [
    'sky',
    'skies',
    'dying',
    'lying',
    'tying',
    'news',
    'innings',
    'outings',
    'cannings',
    'howe',
    'proceed',
    'exceed',
    'succeed',
    'ties',
    'dies',
    'spied',
    'died',
    'flies',
    'generously',
    'hopping',
    'filing',
    'failing',
    'conflated',
    'troubled',
    'sized',
    'controll',
    'roll',
    'happy',
    'enjoy',
    'fly',
    'spy',
    'archaeology',
    'geology',
    'radically',
    'conformably',
    'feed',
    'agreed',
    'yyyy',
    'syzygy',
    'toy',
    'by',
    'y',
    'aa',
    'ies',
    'ied',
    'eed',
    'sses',
    'oed',
    '1234',
    'abc123ing',
    'hopefully',
    'formalization',
    'electricity',
    'relational',
    'digitizer',
    'sensibility',
    'callousness',
    'adoption',
    'communism',
    'bowdlerize',
  ];
  for (const w of edge) words.add(w);
  return [...words].sort();
}

function maxRougeDeviation(ours: RougeScores, ref: Record<string, number[]>): number {
  let dev = 0;
  for (const key of ['rouge1', 'rouge2', 'rougeL'] as const) {
    const o = ours[key];
    [o.precision, o.recall, o.f1].forEach((x, i) => {
      dev = Math.max(dev, Math.abs(x - ref[key][i]));
    });
  }
  return dev;
}

pyTest('porterStem equals NLTK PorterStemmer().stem on every word of the sample text and code', (t) => {
  const words = stemWords();
  t.true(words.length > 3000, `only ${words.length} words`);
  const { stems } = runPython<{ stems: string[] }>('rouge_reference.py', { pairs: [], stem: true, words });
  const wrong = words.filter((w, i) => porterStem(w) !== stems[i]);
  t.log(`${words.length} words, ${wrong.length} mismatches`);
  t.deepEqual(
    wrong.map((w) => [w, porterStem(w)]),
    wrong.map((w) => [w, stems[words.indexOf(w)]]),
  );
});

pyTest('ROUGE-1/2/L equal rouge-score (transcribed, NLTK stemmer) on ~200 sentence pairs to 1e-9', (t) => {
  const pairs = sentencePairs();
  t.true(pairs.length >= 200);
  for (const stem of [true, false]) {
    const ref = runPython<{ scores: Array<Record<string, number[]>>; mean: Record<string, number[]> }>(
      'rouge_reference.py',
      { pairs, stem, words: [] },
    );
    let dev = 0;
    let nonTrivial = 0;
    pairs.forEach(([p, r], i) => {
      const ours = rouge(p, r, { stem });
      dev = Math.max(dev, maxRougeDeviation(ours, ref.scores[i]));
      if (ours.rouge2.f1 > 0 && ours.rouge2.f1 < 1) nonTrivial++;
    });
    const meanDev = maxRougeDeviation(
      rougeCorpus(
        pairs.map((x) => x[0]),
        pairs.map((x) => x[1]),
        { stem },
      ),
      ref.mean,
    );
    t.log(
      `stem=${stem}: max |ours − python| per pair ${dev.toExponential(2)}, corpus mean ${meanDev.toExponential(2)}; ` +
        `${nonTrivial} pairs with 0 < ROUGE-2 < 1`,
    );
    t.true(dev <= 1e-9);
    t.true(meanDev <= 1e-9);
    t.true(nonTrivial > 100, 'the pairs should mostly overlap partially');
  }
});

test('ROUGE on a hand-worked pair: tokens, stems, n-gram overlap and LCS', (t) => {
  t.deepEqual(rougeTokens("The cats' runs -- were RUNNING!"), ['the', 'cat', 'run', 'were', 'run']);
  t.deepEqual(rougeTokens('The cats ran', { stem: false }), ['the', 'cats', 'ran']);
  // reference "the cat sat on the mat" (6), prediction "the cat on a mat" (5)
  const s = rouge('the cat on a mat', 'the cat sat on the mat');
  // unigrams: the·1 (min(1,2)), cat, on, mat → 4 matches
  t.is(s.rouge1.precision, 4 / 5);
  t.is(s.rouge1.recall, 4 / 6);
  t.true(Math.abs(s.rouge1.f1 - (2 * (4 / 5) * (4 / 6)) / (4 / 5 + 4 / 6)) < 1e-15);
  // bigrams: "the cat" only → 1 of 4 predicted, 1 of 5 reference
  t.is(s.rouge2.precision, 1 / 4);
  t.is(s.rouge2.recall, 1 / 5);
  // LCS "the cat on mat" = 4
  t.is(s.rougeL.precision, 4 / 5);
  t.is(s.rougeL.recall, 4 / 6);
  t.deepEqual(rouge('', 'the cat').rougeL, { precision: 0, recall: 0, f1: 0 });
  t.throws(() => rougeCorpus(['a'], ['a', 'b']), {
    instanceOf: HyperlmError,
    message: /1 predictions but 2 references/,
  });
});

test('exact match splits on Python whitespace (CodeXGLUE: pred.split() == gt.split())', (t) => {
  t.is(exactMatch('  return  x +\t1\n', 'return x + 1'), 1);
  t.is(exactMatch('return x+1', 'return x + 1'), 0);
  t.is(exactMatch('a\x1cb', 'a b'), 1); // \x1c is whitespace to Python's str.split, not to JS \s
  t.is(exactMatch('a\ufeffb', 'a b'), 0); // and U+FEFF is whitespace to JS \s, not to Python
  t.is(exactMatch('', ' \n '), 1);
});

/** Levenshtein by its recursive definition over code points (exponential: short strings only). */
function bruteLevenshtein(a: string[], b: string[]): number {
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  const cost = a[a.length - 1] === b[b.length - 1] ? 0 : 1;
  return Math.min(
    bruteLevenshtein(a.slice(0, -1), b) + 1,
    bruteLevenshtein(a, b.slice(0, -1)) + 1,
    bruteLevenshtein(a.slice(0, -1), b.slice(0, -1)) + cost,
  );
}

test('levenshtein equals the recursive definition on 400 random short strings, and the bound exits consistently', (t) => {
  const rng = Rng.fromSeed(11);
  const alphabet = ['a', 'b', 'c', '😀']; // an astral character: distances count code points, not UTF-16 units
  const word = (): string => Array.from({ length: rng.int(7) }, () => alphabet[rng.int(alphabet.length)]).join('');
  let nonZero = 0;
  for (let i = 0; i < 400; i++) {
    const a = word(),
      b = word();
    const expected = bruteLevenshtein([...a], [...b]);
    t.is(levenshtein(a, b), expected, `${a} / ${b}`);
    t.is(levenshtein(b, a), expected);
    for (const bound of [0, 1, 2, 3])
      t.is(levenshtein(a, b, bound), Math.min(expected, bound + 1), `${a} / ${b} bound ${bound}`);
    if (expected > 0) nonZero++;
  }
  t.true(nonZero > 300);
  t.is(levenshtein('kitten', 'sitting'), 3);
});

test('edit similarity is 1 − Levenshtein / max length in code points', (t) => {
  t.is(editSimilarity('kitten', 'sitting'), 1 - 3 / 7);
  t.is(editSimilarity('', ''), 1);
  t.is(editSimilarity('abc', ''), 0);
  t.is(editSimilarity('😀b', 'ab'), 1 - 1 / 2);
});

test('BLEU-4 on a hand-worked two-sentence corpus (Papineni et al. 2002)', (t) => {
  // 1: cand "the cat sat on the mat" / ref "the cat is on the mat"
  //    p1: the×2 (ref has 2), cat, on, mat match, sat not → 5/6; p2: "the cat","on the","the mat" → 3/5
  //    p3: "on the mat" → 1/4; p4: none of 3 → 0/3
  // 2: cand "a dog runs in the park" / ref "a dog runs in a big park"
  //    p1: a, dog, runs, in, park (the not) → 5/6; p2: "a dog","dog runs","runs in" → 3/5
  //    p3: "a dog runs","dog runs in" → 2/4; p4: "a dog runs in" → 1/3
  const preds = ['The cat sat on the mat.', 'A dog runs in the park'];
  const refs = ['the cat is on the mat', 'a dog runs in a big park'];
  const c = 6 + 6,
    r = 6 + 7;
  const corpus = bleuCorpus(preds, refs);
  const expected =
    Math.exp(1 - r / c) * Math.exp((Math.log(10 / 12) + Math.log(6 / 10) + Math.log(3 / 8) + Math.log(1 / 6)) / 4);
  t.true(Math.abs(corpus.bleu - expected) < 1e-12, `${corpus.bleu} vs ${expected}`);
  t.deepEqual(corpus.precisions, [10 / 12, 6 / 10, 3 / 8, 1 / 6]);
  t.is(corpus.brevityPenalty, Math.exp(1 - 13 / 12));
  // sentence 1 alone: p4 = 0, so unsmoothed BLEU is 0; method 1 puts ε = 0.1 over the 3 candidate 4-grams
  const s1 = bleuSentence(preds[0], refs[0], { smoothing: 'none' });
  t.is(s1.bleu, 0);
  const eps = bleuSentence(preds[0], refs[0], { smoothing: 'epsilon' }).bleu;
  t.true(
    Math.abs(eps - Math.exp((Math.log(5 / 6) + Math.log(3 / 5) + Math.log(1 / 4) + Math.log(0.1 / 3)) / 4)) < 1e-12,
  );
  // add-one (Lin & Och) for n ≥ 2: 5/6, 4/6, 2/5, 1/4; c = r = 6 so BP = 1
  const add1 = bleuSentence(preds[0], refs[0], { smoothing: 'add1' }).bleu;
  t.true(
    Math.abs(add1 - Math.exp((Math.log(5 / 6) + Math.log(4 / 6) + Math.log(2 / 5) + Math.log(1 / 4)) / 4)) < 1e-12,
  );
  // clipping: the paper's "the the the the the the the" against "the cat is on the mat" → p1 = 2/7
  t.is(bleuSentence('the the the the the the the', 'the cat is on the mat').precisions[0], 2 / 7);
  // several references: clip by the largest count in one reference; r is the closest reference length
  const multi = bleuSentence('the the cat', ['the cat', 'the the dog sat down']);
  t.is(multi.precisions[0], 3 / 3);
  t.is(multi.referenceLength, 2); // |3 − 2| = 1 < |3 − 5|
  t.is(bleuSentence('', 'a b').bleu, 0);
});

pyTest('sentence and corpus BLEU equal NLTK bleu_score on sentence pairs from the sample text', (t) => {
  const pairs = sentencePairs().filter(([p, r]) => captionTokens(p).length >= 4 && captionTokens(r).length >= 1);
  const sentencesJob = pairs.map(([p, r]) => [captionTokens(p), [captionTokens(r)]]);
  const ref = runPython<{ method1: number[]; method2: number[]; none: number[]; corpus: number }>('bleu_reference.py', {
    sentences: sentencesJob,
  });
  let dev = 0;
  let compared = 0;
  pairs.forEach(([p, r], i) => {
    dev = Math.max(dev, Math.abs(bleuSentence(p, r, { smoothing: 'epsilon' }).bleu - ref.method1[i]));
    dev = Math.max(dev, Math.abs(bleuSentence(p, r, { smoothing: 'add1' }).bleu - ref.method2[i]));
    const plain = bleuSentence(p, r, { smoothing: 'none' });
    if (plain.bleu > 0) {
      dev = Math.max(dev, Math.abs(plain.bleu - ref.none[i]));
      compared++;
    }
  });
  const corpusDev = Math.abs(
    bleuCorpus(
      pairs.map((x) => x[0]),
      pairs.map((x) => x[1]),
    ).bleu - ref.corpus,
  );
  t.log(
    `${pairs.length} pairs (${compared} with all precisions > 0): max |ours − nltk| sentence ${dev.toExponential(2)}, ` +
      `corpus ${corpusDev.toExponential(2)}`,
  );
  t.true(dev <= 1e-12);
  t.true(corpusDev <= 1e-12);
  t.true(compared > 20);
});

test('CIDEr-D on a hand-worked three-image corpus (Vedantam et al. 2015, coco-caption)', (t) => {
  // refs: "a cat" | "a dog" | "a bird sings" → |I| = 3, df(a) = 3, every other reference n-gram df = 1,
  // so idf(a) = log 3 − log 3 = 0 and idf = log 3 (=: L) for the rest, including n-grams no reference has (df → 1)
  const pen = Math.exp(-1 / (2 * 36)); // δ = ±1 bigram-count difference, σ = 6
  // 1: "a cat cat" vs "a cat". n=1: g(c) = {a:0, cat:2L}, g(r) = {a:0, cat:L}; clipped dot min(2L,L)·L = L²,
  //    ‖g(c)‖ = 2L, ‖g(r)‖ = L → 1/2. n=2: {a cat: L, cat cat: L} vs {a cat: L} → L²/(√2L·L) = 1/√2.
  //    n=3: the reference has no trigram → 0; n=4: 0. δ = 2 − 1 = 1.
  const s1 = (((0.5 + 1 / Math.SQRT2) * pen) / 4) * 10;
  // 2: "a dog runs" vs "a dog". n=1: {a:0, dog:L, runs:L} vs {a:0, dog:L} → L²/(√2L·L) = 1/√2; n=2 likewise 1/√2.
  const s2 = (((2 / Math.SQRT2) * pen) / 4) * 10;
  // 3: "the bird" vs "a bird sings". n=1: {the:L, bird:L} vs {a:0, bird:L, sings:L} → L²/(√2L·√2L) = 1/2;
  //    n=2: no shared bigram → 0. δ = 1 − 2 = −1.
  const s3 = ((0.5 * pen) / 4) * 10;
  const res = ciderD(['A cat, cat.', 'a dog runs', 'the bird'], ['a cat', ['a dog'], 'a bird sings']);
  [s1, s2, s3].forEach((s, i) => t.true(Math.abs(res.perItem[i] - s) < 1e-12, `item ${i}: ${res.perItem[i]} vs ${s}`));
  t.true(Math.abs(res.cider - (s1 + s2 + s3) / 3) < 1e-12);
  // two references per item average the per-reference similarities
  const two = ciderD(
    ['a cat', 'a dog'],
    [
      ['a cat', 'a dog'],
      ['a dog', 'a cow'],
    ],
  );
  // df: a 2, cat 1, dog 2, cow 1, "a cat" 1, "a dog" 2, "a cow" 1; |I| = 2 so idf(dog) = idf(a dog) = 0
  // item 1 vs "a cat": n=1 {a:0,cat:log2} both → 1, n=2 → 1; vs "a dog": n=1 g(r) = 0 vector → 0 → (2/4 + 0)/2 · 10
  t.true(Math.abs(two.perItem[0] - ((0.5 + 0) / 2) * 10) < 1e-12, String(two.perItem[0]));
  // item 2 "a dog": all its weights are 0 (df = |I|), so every similarity is 0
  t.is(two.perItem[1], 0);
  t.throws(() => ciderD(['a'], [[]]), { instanceOf: HyperlmError, message: /item 0 has an empty list of references/ });
});

test('caption tokens: lowercased, PTB clitics split, punctuation dropped', (t) => {
  t.deepEqual(captionTokens("A man's dog doesn't run, it walks."), [
    'a',
    'man',
    "'s",
    'dog',
    'does',
    "n't",
    'run',
    'it',
    'walks',
  ]);
  t.deepEqual(captionTokens('A black-and-white photo (circa 1950) of the U.S. -- "quiet"!'), [
    'a',
    'black-and-white',
    'photo',
    'circa',
    '1950',
    'of',
    'the',
    'u.s',
    'quiet',
  ]);
  t.deepEqual(captionTokens('Zwei Hunde — über 3.5 Meter'), ['zwei', 'hunde', 'über', '3.5', 'meter']);
  t.deepEqual(captionTokens(' ... '), []);
});
