// The n-gram baseline of `npm run eval`: interpolated modified Kneser–Ney over token ids (Chen & Goodman
// 1998, "An empirical study of smoothing techniques for language modeling", with its discount estimates;
// order 4 by default), counted by ngram-trainer.ts. For hw of order k with adjusted count a (raw at the
// highest order, continuation count below):
//   P_k(w | h) = [max(a(hw) − D_k(a), 0) + (D_k1·N1(h•) + D_k2·N2(h•) + D_k3+·N3+(h•)) · P_{k−1}(w | h')] / Σ_v a(hv)
// ending in the uniform 1/V; a context unseen at some order falls through to the next lower one. Unlike the
// TF.js models this is a count table queried directly: logProb, the full distribution, greedy continuation.

import { HyperlmError } from '../../errors.js';
import { NgramTrainer, type NgramCountData } from './ngram-trainer.js';

export interface NgramOptions {
  /** n of the highest order; 4 is where Chen & Goodman's modified KN gains flatten on a few million tokens. */
  order: number;
  /** Ids are [0, vocabSize); the uniform floor of the interpolation spreads over all of them. */
  vocabSize: number;
  /**
   * D1, D2, D3+ used at an order whose count-of-counts give no valid estimate (some n_r = 0, or a D outside
   * (0, r]) — common on small corpora. KenLM's --discount_fallback values.
   */
  discountFallback: [number, number, number];
}

export const NGRAM_DEFAULTS: Omit<NgramOptions, 'vocabSize'> = { order: 4, discountFallback: [0.5, 1, 1.5] };

export type Discounts = [number, number, number];

/** Chen & Goodman's estimates from the counts-of-counts n1..n4 of one order, or undefined when they are unusable. */
export function estimateDiscounts(n: readonly [number, number, number, number]): Discounts | undefined {
  const [n1, n2, n3, n4] = n;
  if (n1 === 0 || n2 === 0 || n3 === 0 || n4 === 0) return undefined;
  const Y = n1 / (n1 + 2 * n2);
  const d: Discounts = [1 - (2 * Y * n2) / n1, 2 - (3 * Y * n3) / n2, 3 - (4 * Y * n4) / n3];
  return d.every((x, i) => x > 0 && x <= i + 1) ? d : undefined;
}

function discountOf(d: Discounts, a: number): number {
  return a >= 3 ? d[2] : d[a - 1];
}

export interface GreedyResult {
  tokens: number[];
  /** The last token satisfied the stop predicate (it is included in `tokens`). */
  stopped: boolean;
}

export class KneserNeyModel {
  readonly order: number;
  readonly vocabSize: number;
  readonly documents: number;
  readonly tokens: number;
  private readonly radix: number;
  private readonly data: NgramCountData;
  private readonly disc: Discounts[] = [];
  private readonly fallback: boolean[] = [];
  private readonly cofc: Array<[number, number, number, number]> = [];
  /** Per order k (index k − 1), per context id at order k − 1: Σ_v a(hv), and the backoff numerator γ(h)·Σ. */
  private readonly totals: Float64Array[] = [];
  private readonly gammas: Float64Array[] = [];
  /** Per order k ≥ 2: the tokens following each context, grouped by context (CSR: start[c] .. start[c + 1]). */
  private readonly childStart: Int32Array[] = [];
  private readonly childTokens: Int32Array[] = [];
  /** All ids by discounted unigram mass, largest first (ties: smaller id first): the greedy search's fallback. */
  private readonly unigramRank: Int32Array;

  constructor(data: NgramCountData, discountFallback: Discounts = NGRAM_DEFAULTS.discountFallback) {
    this.data = data;
    this.order = data.order;
    this.vocabSize = data.vocabSize;
    this.radix = data.radix;
    this.documents = data.documents;
    this.tokens = data.tokens;
    for (let k = 1; k <= this.order; k++) {
      const counts = data.counts[k - 1];
      const n: [number, number, number, number] = [0, 0, 0, 0];
      for (let i = 0; i < counts.length; i++) if (counts[i] >= 1 && counts[i] <= 4) n[counts[i] - 1]++;
      const estimate = estimateDiscounts(n);
      this.cofc.push(n);
      this.fallback.push(estimate === undefined);
      const d = estimate ?? discountFallback;
      this.disc.push(d);
      const contexts = k === 1 ? 1 : data.tables[k - 2].size;
      const total = new Float64Array(contexts);
      const gamma = new Float64Array(contexts);
      const start = new Int32Array(contexts + 1);
      for (let id = 0; id < counts.length; id++) {
        const a = counts[id];
        if (a === 0) continue;
        const parent = Math.floor(data.tables[k - 1].keyOf(id) / this.radix);
        total[parent] += a;
        gamma[parent] += Math.min(discountOf(d, a), a);
        start[parent + 1]++;
      }
      this.totals.push(total);
      this.gammas.push(gamma);
      if (k >= 2) this.buildChildren(k, start);
    }
    const mass = new Float64Array(this.vocabSize);
    for (let t = 0; t < this.vocabSize; t++) mass[t] = this.discounted(1, 0, t);
    this.unigramRank = Int32Array.from(mass.keys()).sort((a, b) => mass[b] - mass[a] || a - b);
  }

  private buildChildren(k: number, start: Int32Array): void {
    for (let c = 0; c + 1 < start.length; c++) start[c + 1] += start[c];
    const fill = start.slice(0, start.length - 1);
    const tokens = new Int32Array(start[start.length - 1]);
    const table = this.data.tables[k - 1];
    const counts = this.data.counts[k - 1];
    for (let id = 0; id < counts.length; id++) {
      if (counts[id] === 0) continue;
      const key = table.keyOf(id);
      const parent = Math.floor(key / this.radix);
      tokens[fill[parent]++] = key - parent * this.radix - 1;
    }
    this.childStart[k - 1] = start;
    this.childTokens[k - 1] = tokens;
  }

  /** Counts-of-counts n1..n4 of the adjusted counts at an order. */
  countOfCounts(order: number): [number, number, number, number] {
    return [...this.cofc[this.checkOrder(order) - 1]] as [number, number, number, number];
  }

  /** D1, D2, D3+ at an order, and whether they are the fallback values. */
  discounts(order: number): { discounts: Discounts; fallback: boolean } {
    const k = this.checkOrder(order);
    return { discounts: [...this.disc[k - 1]] as Discounts, fallback: this.fallback[k - 1] };
  }

  /**
   * The adjusted count of an n-gram (1 ≤ length ≤ order): the raw count at the highest order or when
   * `documentStart` (the n-gram opens a document), else the number of distinct left contexts. 0 if unseen.
   */
  count(ngram: readonly number[], documentStart = false): number {
    const seq = ngram.map((t) => this.checkToken(t));
    if (documentStart) seq.unshift(-1); // BOS, stored as 0
    if (ngram.length === 0) this.checkOrder(0);
    this.checkOrder(seq.length);
    let id = 0;
    for (let i = 0; i < seq.length; i++) {
      id = this.data.tables[i].get(id * this.radix + seq[i] + 1);
      if (id < 0) return 0;
    }
    return this.data.counts[seq.length - 1][id];
  }

  /**
   * ln P(token | context). `context` is what precedes the token in its document: only the last order − 1
   * ids matter, and a shorter context is a document start (the BOS marker precedes it).
   */
  logProb(context: ArrayLike<number>, token: number): number {
    return Math.log(this.prob(this.contextIds(context), this.checkToken(token)));
  }

  /** P(· | context) over the whole vocabulary. */
  distribution(context: ArrayLike<number>): Float64Array {
    const ctx = this.contextIds(context);
    const out = new Float64Array(this.vocabSize);
    for (let t = 0; t < this.vocabSize; t++) out[t] = this.prob(ctx, t);
    return out;
  }

  /**
   * Extend `context` by the most probable token, repeatedly (ties: the smaller id), until `maxTokens` tokens
   * or a token for which `stop` holds (kept in the result). Exact argmax without scanning the vocabulary:
   * a token that follows none of the context's suffixes at orders ≥ 2 scores by its unigram mass alone.
   */
  greedyContinue(
    context: ArrayLike<number>,
    maxTokens: number,
    stop: (token: number) => boolean = () => false,
  ): GreedyResult {
    if (!Number.isInteger(maxTokens) || maxTokens < 0) {
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `ngram.greedyContinue: maxTokens must be a non-negative integer, got ${maxTokens}`,
      );
    }
    const keep = this.order - 1; // a context shorter than this is a document start, so trim only down to it
    const history = keep === 0 ? [] : Array.from(context, (t) => this.checkToken(t)).slice(-keep);
    const out: number[] = [];
    const seen = new Uint8Array(this.vocabSize);
    while (out.length < maxTokens) {
      const ctx = this.contextIds(history);
      const candidates: number[] = [];
      for (let k = 2; k <= this.order; k++) {
        const c = ctx[k - 1];
        if (c < 0) break;
        const start = this.childStart[k - 1],
          tokens = this.childTokens[k - 1];
        for (let i = start[c]; i < start[c + 1]; i++)
          if (!seen[tokens[i]]) {
            seen[tokens[i]] = 1;
            candidates.push(tokens[i]);
          }
      }
      for (const t of this.unigramRank)
        if (!seen[t]) {
          candidates.push(t);
          break;
        }
      let best = -1,
        bestP = -1;
      for (const t of candidates) {
        seen[t] = 0;
        const p = this.prob(ctx, t);
        if (p > bestP || (p === bestP && t < best)) {
          best = t;
          bestP = p;
        }
      }
      out.push(best);
      history.push(best);
      if (history.length > keep) history.shift();
      if (stop(best)) return { tokens: out, stopped: true };
    }
    return { tokens: out, stopped: false };
  }

  /** Bytes held by the count tables and the derived arrays. */
  get bytes(): number {
    let b = this.unigramRank.byteLength;
    for (let k = 0; k < this.order; k++) {
      b +=
        this.data.tables[k].bytes +
        this.data.counts[k].byteLength +
        this.totals[k].byteLength +
        this.gammas[k].byteLength;
      if (k >= 1) b += this.childStart[k].byteLength + this.childTokens[k].byteLength;
    }
    return b;
  }

  /** max(a − D(a), 0) for (context c at order k − 1, token t) at order k. */
  private discounted(k: number, c: number, t: number): number {
    const id = this.data.tables[k - 1].get(c * this.radix + t + 1);
    const a = id < 0 ? 0 : this.data.counts[k - 1][id];
    return a === 0 ? 0 : Math.max(a - discountOf(this.disc[k - 1], a), 0);
  }

  /** The interpolation, lowest order first. ctx[k − 1] is the id of the order-k context (−1: unseen). */
  private prob(ctx: Int32Array, t: number): number {
    let p = 1 / this.vocabSize;
    for (let k = 1; k <= this.order; k++) {
      const c = ctx[k - 1];
      if (c < 0) break; // a longer context cannot be known when its suffix is not
      const total = this.totals[k - 1][c];
      if (total === 0) continue;
      p = (this.discounted(k, c, t) + this.gammas[k - 1][c] * p) / total;
    }
    return p;
  }

  /** Ids of the context's suffixes of lengths 0..order−1 at orders 1..order−1 (index L = suffix length). */
  private contextIds(context: ArrayLike<number>): Int32Array {
    const N = this.order;
    const h: number[] = [];
    const from = Math.max(0, context.length - (N - 1));
    if (context.length < N - 1) h.push(-1); // the BOS marker: stored as token id −1 + 1 = 0
    for (let i = from; i < context.length; i++) h.push(this.checkToken(context[i]));
    const ids = new Int32Array(N).fill(-1);
    ids[0] = 0;
    for (let L = 1; L <= Math.min(h.length, N - 1); L++) {
      let id = 0;
      for (let i = h.length - L; i < h.length && id >= 0; i++)
        id = this.data.tables[i - (h.length - L)].get(id * this.radix + h[i] + 1);
      if (id < 0) break;
      ids[L] = id;
    }
    return ids;
  }

  private checkToken(t: number): number {
    if (!Number.isInteger(t) || t < 0 || t >= this.vocabSize) {
      throw new HyperlmError('MODEL_BAD_INPUT', `ngram: token ${t} is outside [0, ${this.vocabSize})`);
    }
    return t;
  }

  private checkOrder(k: number): number {
    if (!Number.isInteger(k) || k < 1 || k > this.order) {
      throw new HyperlmError('CONFIG_BAD_VALUE', `ngram: order ${k} is outside [1, ${this.order}]`);
    }
    return k;
  }
}

/** Train on documents of token ids (each document's first token follows the BOS marker). */
export function trainNgram(
  documents: Iterable<ArrayLike<number>>,
  opts: Partial<NgramOptions> & Pick<NgramOptions, 'vocabSize'>,
): KneserNeyModel {
  const o = resolveNgramOptions(opts);
  const trainer = new NgramTrainer(o);
  for (const doc of documents) trainer.addDocument(doc);
  return new KneserNeyModel(trainer.finish(), o.discountFallback);
}

export function resolveNgramOptions(opts: Partial<NgramOptions> & Pick<NgramOptions, 'vocabSize'>): NgramOptions {
  const known = new Set(['order', 'vocabSize', 'discountFallback']);
  for (const key of Object.keys(opts))
    if (!known.has(key)) throw new HyperlmError('CONFIG_UNKNOWN_KEY', `ngram: unknown option "${key}"`);
  const o = { ...NGRAM_DEFAULTS, ...opts };
  if (!o.discountFallback.every((d, i) => d > 0 && d <= i + 1) || o.discountFallback.length !== 3) {
    const got = JSON.stringify(o.discountFallback);
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `ngram: options.discountFallback must be [D1, D2, D3+] with 0 < Dr ≤ r, got ${got}`,
    );
  }
  return o;
}
