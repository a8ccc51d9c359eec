// ROUGE-1, ROUGE-2 and ROUGE-L (Lin 2004) as Google's rouge-score package computes them
// (rouge_scorer.py with its DefaultTokenizer): lowercase, every run of characters outside [a-z0-9]
// becomes one space, split on spaces, optionally Porter-stem tokens longer than 3 characters with NLTK's
// stemmer (porter-stemmer.ts). ROUGE-N is clipped n-gram overlap; ROUGE-L is the sentence-level LCS
// F-measure (not the summary-level ROUGE-Lsum). One reference per prediction. Checked to 1e-9 against
// test/fixtures/rouge_reference.py, a Python transcription of rouge-score run with NLTK's stemmer.

import { porterStem } from './porter-stemmer.js';
import { checkPairs, ngramCounts, overlap } from './ngram-counts.js';

export interface RougeScore {
  precision: number;
  recall: number;
  f1: number;
}

export interface RougeScores {
  rouge1: RougeScore;
  rouge2: RougeScore;
  rougeL: RougeScore;
}

export interface RougeOptions {
  /**
   * Porter-stem tokens longer than 3 characters (rouge-score's `use_stemmer`). On by default because the
   * summarisation results we compare with (BART, PEGASUS, HTLM) report stemmed ROUGE; rouge-score's own
   * default is off.
   */
  stem: boolean;
}

export const ROUGE_DEFAULTS: RougeOptions = { stem: true };

/** rouge-score's tokenize.tokenize(text, stemmer). */
export function rougeTokens(text: string, opts: Partial<RougeOptions> = {}): string[] {
  const stem = opts.stem ?? ROUGE_DEFAULTS.stem;
  const out: string[] = [];
  for (const raw of text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .split(' ')) {
    const token = stem && raw.length > 3 ? porterStem(raw) : raw;
    if (/^[a-z0-9]+$/.test(token)) out.push(token);
  }
  return out;
}

/** rouge-score's scoring.fmeasure: the harmonic mean, 0 when both are 0. */
function score(matches: number, predicted: number, target: number): RougeScore {
  const precision = matches / Math.max(predicted, 1);
  const recall = matches / Math.max(target, 1);
  return { precision, recall, f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 };
}

function rougeN(pred: string[], ref: string[], n: number): RougeScore {
  const p = ngramCounts(pred, n);
  const r = ngramCounts(ref, n);
  return score(overlap(p, r), Math.max(pred.length - n + 1, 0), Math.max(ref.length - n + 1, 0));
}

/** Length of the longest common subsequence, O(|a|·|b|) time, O(|b|) space. */
export function lcsLength(a: readonly string[], b: readonly string[]): number {
  let prev = new Int32Array(b.length + 1);
  let cur = new Int32Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

function rougeL(pred: string[], ref: string[]): RougeScore {
  // rouge-score's _score_lcs returns zeros outright when either side has no tokens
  if (pred.length === 0 || ref.length === 0) return { precision: 0, recall: 0, f1: 0 };
  const lcs = lcsLength(ref, pred);
  return score(lcs, pred.length, ref.length);
}

/** ROUGE-1/2/L of one prediction against one reference (rouge-score's `score(target=reference, prediction)`). */
export function rouge(prediction: string, reference: string, opts: Partial<RougeOptions> = {}): RougeScores {
  const pred = rougeTokens(prediction, opts);
  const ref = rougeTokens(reference, opts);
  return { rouge1: rougeN(pred, ref, 1), rouge2: rougeN(pred, ref, 2), rougeL: rougeL(pred, ref) };
}

/**
 * Corpus ROUGE: the exact mean over pairs of each per-pair precision, recall and F1 (rouge-score's
 * BootstrapAggregator reports a resampled estimate of the same mean, with a confidence interval).
 */
export function rougeCorpus(
  predictions: readonly string[],
  references: readonly string[],
  opts: Partial<RougeOptions> = {},
): RougeScores {
  checkPairs('rougeCorpus', predictions, references);
  const sum = (): RougeScore => ({ precision: 0, recall: 0, f1: 0 });
  const total: RougeScores = { rouge1: sum(), rouge2: sum(), rougeL: sum() };
  for (let i = 0; i < predictions.length; i++) {
    const s = rouge(predictions[i], references[i], opts);
    for (const key of ['rouge1', 'rouge2', 'rougeL'] as const) {
      total[key].precision += s[key].precision;
      total[key].recall += s[key].recall;
      total[key].f1 += s[key].f1;
    }
  }
  const n = predictions.length;
  for (const key of ['rouge1', 'rouge2', 'rougeL'] as const) {
    total[key] = { precision: total[key].precision / n, recall: total[key].recall / n, f1: total[key].f1 / n };
  }
  return total;
}
