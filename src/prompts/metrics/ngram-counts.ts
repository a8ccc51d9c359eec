// Word n-gram multisets shared by the overlap metrics (ROUGE-N, BLEU, CIDEr-D): a Map from the n-gram,
// its tokens joined by U+0000, to its count. Tokens come from the metrics' own tokenizers (rouge.ts,
// caption-tokens.ts), which never emit U+0000, so two different n-grams never share a key.
// Unlike src/prompts/baselines (n-grams over token ids, packed into numbers), these are tiny per-sentence
// maps built and dropped within one call.

import { HyperlmError } from '../../errors.js';

export type NgramCounts = Map<string, number>;

const SEP = '\u0000';

/** Counts of the n-grams of exactly length n (none when the sequence is shorter than n). */
export function ngramCounts(tokens: readonly string[], n: number): NgramCounts {
  const counts: NgramCounts = new Map();
  for (let i = 0; i + n <= tokens.length; i++) {
    const key = n === 1 ? tokens[i] : tokens.slice(i, i + n).join(SEP);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Σ over shared n-grams of min(count in a, count in b): the clipped overlap of two multisets. */
export function overlap(a: NgramCounts, b: NgramCounts): number {
  let total = 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const [key, count] of small) {
    const other = large.get(key);
    if (other !== undefined) total += Math.min(count, other);
  }
  return total;
}

/** Throws unless predictions and references pair up one to one (and there is at least one pair). */
export function checkPairs(what: string, predictions: readonly unknown[], references: readonly unknown[]): void {
  if (predictions.length !== references.length) {
    throw new HyperlmError(
      'METRIC_BAD_INPUT',
      `${what}: ${predictions.length} predictions but ${references.length} references`,
    );
  }
  if (predictions.length === 0) throw new HyperlmError('METRIC_BAD_INPUT', `${what}: no prediction/reference pairs`);
}
