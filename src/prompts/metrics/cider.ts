// CIDEr-D (Vedantam et al. 2015) as coco-caption computes it (pycocoevalcap/cider/cider_scorer.py, which
// is the -D variant): for n = 1..4, each sentence becomes a TF-IDF vector g_n with weights
// tf · (log |I| − log max(1, df)), where df counts the items whose references contain the n-gram and |I|
// is the number of items; the score of a candidate against a reference is
//   (1/4) Σ_n  Σ_k min(g_n(c)_k, g_n(r)_k) · g_n(r)_k / (‖g_n(c)‖ ‖g_n(r)‖)  ·  exp(−δ² / 2σ²),  σ = 6,
// averaged over the item's references and multiplied by 10. Unlike bleu.ts, rare n-grams weigh more.

import { HyperlmError } from '../../errors.js';
import { captionTokens } from './caption-tokens.js';
import { checkPairs, ngramCounts } from './ngram-counts.js';
import type { References } from './bleu.js';

export interface CiderOptions {
  /** Largest n-gram order; coco-caption uses 4. */
  maxOrder: number;
  /** Width of the Gaussian length penalty, in words; 6 in the paper and coco-caption. */
  sigma: number;
  /** Tokenizer for both sides; captionTokens approximates coco-caption's PTB tokenization. */
  tokenize: (text: string) => string[];
}

export const CIDER_DEFAULTS: CiderOptions = { maxOrder: 4, sigma: 6, tokenize: captionTokens };

export interface CiderResult {
  /** The corpus score: the mean of the per-item scores. */
  cider: number;
  perItem: number[];
}

interface Vec {
  /** Per order: n-gram → tf·idf weight. */
  weights: Array<Map<string, number>>;
  norms: number[];
  /** coco-caption's "length": the number of bigrams, i.e. words − 1 for a non-empty sentence. */
  length: number;
}

export function ciderD(
  predictions: readonly string[],
  references: readonly References[],
  opts: Partial<CiderOptions> = {},
): CiderResult {
  checkPairs('ciderD', predictions, references);
  const o = { ...CIDER_DEFAULTS, ...opts };
  if (!Number.isInteger(o.maxOrder) || o.maxOrder < 1) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `ciderD: options.maxOrder must be a positive integer, got ${o.maxOrder}`,
    );
  }
  if (!(o.sigma > 0))
    throw new HyperlmError('CONFIG_BAD_VALUE', `ciderD: options.sigma must be positive, got ${o.sigma}`);
  const counts = (text: string): Array<Map<string, number>> => {
    const tokens = o.tokenize(text);
    return Array.from({ length: o.maxOrder }, (_, i) => ngramCounts(tokens, i + 1));
  };
  const cands = predictions.map(counts);
  const refs = references.map((r, i) => {
    const list = typeof r === 'string' ? [r] : r;
    if (list.length === 0)
      throw new HyperlmError('METRIC_BAD_INPUT', `ciderD: item ${i} has an empty list of references`);
    return list.map(counts);
  });
  // document frequency: in how many items' reference sets each n-gram occurs
  const df = new Map<string, number>();
  for (const itemRefs of refs) {
    const seen = new Set<string>();
    for (const ref of itemRefs) for (const order of ref) for (const k of order.keys()) seen.add(k);
    for (const k of seen) df.set(k, (df.get(k) ?? 0) + 1);
  }
  const logItems = Math.log(predictions.length);
  const vectorOf = (c: Array<Map<string, number>>): Vec => {
    const weights = c.map((order) => {
      const w = new Map<string, number>();
      for (const [k, tf] of order) w.set(k, tf * (logItems - Math.log(Math.max(1, df.get(k) ?? 0))));
      return w;
    });
    const norms = weights.map((w) => Math.sqrt([...w.values()].reduce((s, x) => s + x * x, 0)));
    const length = o.maxOrder >= 2 ? [...c[1].values()].reduce((s, x) => s + x, 0) : 0;
    return { weights, norms, length };
  };
  const perItem = cands.map((cand, i) => {
    const vc = vectorOf(cand);
    let sum = 0;
    for (const ref of refs[i]) {
      const vr = vectorOf(ref);
      const delta = vc.length - vr.length;
      const penalty = Math.exp(-(delta * delta) / (2 * o.sigma * o.sigma));
      for (let n = 0; n < o.maxOrder; n++) {
        let dot = 0;
        for (const [k, wc] of vc.weights[n]) {
          const wr = vr.weights[n].get(k) ?? 0;
          dot += Math.min(wc, wr) * wr; // the "-D" clipping: a repeated n-gram earns no more than the reference holds
        }
        // coco-caption leaves the sum undivided (so 0) when either vector is all zeros
        if (vc.norms[n] !== 0 && vr.norms[n] !== 0) dot /= vc.norms[n] * vr.norms[n];
        sum += (dot * penalty) / o.maxOrder;
      }
    }
    return (sum / refs[i].length) * 10;
  });
  return { cider: perItem.reduce((s, x) => s + x, 0) / perItem.length, perItem };
}
