// BLEU-4 (Papineni et al. 2002): modified (clipped) n-gram precisions p_1..p_4, their geometric mean with
// uniform weights, times the brevity penalty BP = min(1, exp(1 − r/c)). Corpus BLEU sums clipped matches and
// candidate n-grams over all sentences before dividing, and r, c over all sentences (r = the reference length
// closest to the candidate's, shorter on ties, as in NLTK); it is 0 when some p_n has no match, unsmoothed as
// in the paper. Sentence BLEU smooths zero precisions (see BleuSmoothing). Tokens come from captionTokens
// unless a tokenizer is given. Unlike cider.ts, every n-gram weighs the same.

import { HyperlmError } from '../../errors.js';
import { captionTokens } from './caption-tokens.js';
import { checkPairs, ngramCounts, overlap, type NgramCounts } from './ngram-counts.js';

/**
 * - 'epsilon': Chen & Cherry (2014) method 1 — a p_n with no match becomes ε / max(1, candidate n-grams),
 *   ε = 0.1 (NLTK's SmoothingFunction().method1).
 * - 'add1': Lin & Och (2004) — p_n = (m_n + 1) / (max(1, candidate n-grams) + 1) for n ≥ 2, p_1 unchanged
 *   (NLTK's method2).
 * - 'none': the paper's BLEU, 0 whenever some p_n is 0.
 * With any of them a sentence with no unigram match scores 0, as in NLTK.
 */
export type BleuSmoothing = 'epsilon' | 'add1' | 'none';

export interface BleuOptions {
  /** Largest n-gram order; 4 is BLEU-4, the score every captioning and code-summarisation table reports. */
  maxOrder: number;
  /** Sentence-level smoothing; 'epsilon' is NLTK's documented default choice for short segments. Corpus BLEU is never smoothed. */
  smoothing: BleuSmoothing;
  /** Tokenizer for both sides; captionTokens approximates coco-caption's PTB tokenization. */
  tokenize: (text: string) => string[];
}

export const BLEU_DEFAULTS: BleuOptions = { maxOrder: 4, smoothing: 'epsilon', tokenize: captionTokens };

/** One or several references per prediction. */
export type References = string | readonly string[];

export interface BleuResult {
  bleu: number;
  /** p_1..p_maxOrder before smoothing. */
  precisions: number[];
  brevityPenalty: number;
  candidateLength: number;
  referenceLength: number;
}

interface Stats {
  matches: number[];
  totals: number[];
  candidateLength: number;
  referenceLength: number;
}

function resolve(opts: Partial<BleuOptions>): BleuOptions {
  const o = { ...BLEU_DEFAULTS, ...opts };
  if (!Number.isInteger(o.maxOrder) || o.maxOrder < 1) {
    throw new HyperlmError('CONFIG_BAD_VALUE', `bleu: options.maxOrder must be a positive integer, got ${o.maxOrder}`);
  }
  if (!['epsilon', 'add1', 'none'].includes(o.smoothing)) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `bleu: options.smoothing must be 'epsilon', 'add1' or 'none', got ${String(o.smoothing)}`,
    );
  }
  return o;
}

function sentenceStats(prediction: string, references: References, o: BleuOptions): Stats {
  const cand = o.tokenize(prediction);
  const refs = (typeof references === 'string' ? [references] : references).map(o.tokenize);
  if (refs.length === 0)
    throw new HyperlmError('METRIC_BAD_INPUT', 'bleu: a prediction has an empty list of references');
  // closest reference length, the shorter one on ties
  let referenceLength = refs[0].length;
  for (const r of refs) {
    const d = Math.abs(r.length - cand.length) - Math.abs(referenceLength - cand.length);
    if (d < 0 || (d === 0 && r.length < referenceLength)) referenceLength = r.length;
  }
  const matches: number[] = [];
  const totals: number[] = [];
  for (let n = 1; n <= o.maxOrder; n++) {
    const c = ngramCounts(cand, n);
    // clip each candidate count by its largest count in any one reference
    const maxRef: NgramCounts = new Map();
    for (const r of refs) for (const [k, v] of ngramCounts(r, n)) maxRef.set(k, Math.max(maxRef.get(k) ?? 0, v));
    matches.push(overlap(c, maxRef));
    totals.push(Math.max(cand.length - n + 1, 0));
  }
  return { matches, totals, candidateLength: cand.length, referenceLength };
}

function combine(s: Stats, smoothing: BleuSmoothing): BleuResult {
  const c = s.candidateLength;
  const r = s.referenceLength;
  const brevityPenalty = c === 0 ? 0 : c > r ? 1 : Math.exp(1 - r / c);
  const precisions = s.matches.map((m, i) => (s.totals[i] === 0 ? 0 : m / s.totals[i]));
  const result = { bleu: 0, precisions, brevityPenalty, candidateLength: c, referenceLength: r };
  if (c === 0 || s.matches[0] === 0) return result;
  let logSum = 0;
  for (let i = 0; i < s.matches.length; i++) {
    const m = s.matches[i];
    const total = Math.max(1, s.totals[i]);
    let p: number;
    if (smoothing === 'add1' && i > 0) p = (m + 1) / (total + 1);
    else if (m > 0) p = m / total;
    else if (smoothing === 'epsilon') p = 0.1 / total;
    else return result; // an unsmoothed zero precision: BLEU is 0
    logSum += Math.log(p) / s.matches.length;
  }
  result.bleu = brevityPenalty * Math.exp(logSum);
  return result;
}

/** Corpus BLEU over prediction/reference pairs (unsmoothed: statistics are summed first). */
export function bleuCorpus(
  predictions: readonly string[],
  references: readonly References[],
  opts: Partial<BleuOptions> = {},
): BleuResult {
  checkPairs('bleuCorpus', predictions, references);
  const o = resolve(opts);
  const total: Stats = {
    matches: new Array(o.maxOrder).fill(0),
    totals: new Array(o.maxOrder).fill(0),
    candidateLength: 0,
    referenceLength: 0,
  };
  for (let i = 0; i < predictions.length; i++) {
    const s = sentenceStats(predictions[i], references[i], o);
    for (let n = 0; n < o.maxOrder; n++) {
      total.matches[n] += s.matches[n];
      total.totals[n] += s.totals[n];
    }
    total.candidateLength += s.candidateLength;
    total.referenceLength += s.referenceLength;
  }
  return combine(total, 'none');
}

/** Sentence BLEU of one prediction, smoothed as options.smoothing says. */
export function bleuSentence(prediction: string, references: References, opts: Partial<BleuOptions> = {}): BleuResult {
  const o = resolve(opts);
  return combine(sentenceStats(prediction, references, o), o.smoothing);
}
