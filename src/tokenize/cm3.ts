// CM3 causal masking (Aghajanyan et al. 2022, "CM3: A Causal Masked Multimodal Model of the Internet",
// §2.2; the same objective as InCoder's causal masking): a few spans of a document are cut out, each
// replaced in place by a sentinel <mask:i>, and appended at the end as `<mask:i> span <eom>`, so a
// left-to-right model learns to infill with bidirectional context. Pure functions, no I/O; all
// randomness comes from the caller's Rng. Per-window masking (cutting a document into windows that fit
// the training row) is cm3-window.ts; the end-of-document token is appended by the caller.

import { HyperlmError } from '../errors.js';
import type { Rng } from '../rng.js';

export interface Cm3Options {
  /** Upper clamp on the number of spans: CM3 uses clamp(Poisson(λ), 1, 16). */
  maxMasks: number;
  /** Poisson mean of the span count; CM3 uses 1, so most documents get one or two spans. */
  lambda: number;
  /**
   * Fraction of documents left untouched (plain left-to-right). CM3's clamp has a lower bound of 1,
   * i.e. every document is masked and left-to-right skill comes from the unmasked prefix, so the
   * default is 0; raise it when prompting without masks matters more than infilling.
   */
  ltrFraction: number;
}

export const CM3_DEFAULTS: Cm3Options = { maxMasks: 16, lambda: 1, ltrFraction: 0 };

export interface Cm3Vocab {
  /** Id of <mask:0>; <mask:i> is maskBase + i. */
  maskBase: number;
  /** How many sentinel ids are reserved; must be ≥ opts.maxMasks. */
  maskCount: number;
  /** End-of-mask token closing each moved span. */
  eom: number;
  /** Optional image block delimiters: spans never start or end strictly inside a begin…end block. */
  imageBegin?: number;
  imageEnd?: number;
}

function isMask(t: number, v: Cm3Vocab): boolean {
  return t >= v.maskBase && t < v.maskBase + v.maskCount;
}

function validate(vocab: Cm3Vocab, opts: Cm3Options): void {
  const bad = (field: string, value: unknown, why: string): never => {
    throw new HyperlmError('CONFIG_BAD_VALUE', `cm3: ${field} ${why}, got ${JSON.stringify(value)}`);
  };
  if (!Number.isInteger(opts.maxMasks) || opts.maxMasks < 1)
    bad('options.maxMasks', opts.maxMasks, 'must be a positive integer');
  if (!Number.isFinite(opts.lambda) || opts.lambda < 0)
    bad('options.lambda', opts.lambda, 'must be a finite number ≥ 0');
  if (!(opts.ltrFraction >= 0 && opts.ltrFraction <= 1))
    bad('options.ltrFraction', opts.ltrFraction, 'must be in [0, 1]');
  if (!Number.isInteger(vocab.maskBase) || vocab.maskBase < 0)
    bad('vocab.maskBase', vocab.maskBase, 'must be a non-negative integer');
  if (!Number.isInteger(vocab.maskCount) || vocab.maskCount < opts.maxMasks)
    bad('vocab.maskCount', vocab.maskCount, `must be an integer ≥ options.maxMasks (${opts.maxMasks})`);
  if (!Number.isInteger(vocab.eom) || isMask(vocab.eom, vocab))
    bad('vocab.eom', vocab.eom, 'must be an integer outside the mask range');
}

/**
 * Token boundaries where a span may start or end: boundary c sits before token c (0 ≤ c ≤ L).
 * Without image ids every boundary is allowed; with them, boundaries b < c ≤ e inside a block
 * [b = imageBegin position, e = imageEnd position] are removed (an unclosed block runs to the end).
 */
function allowedBoundaries(tokens: Int32Array, vocab: Cm3Vocab): Int32Array | null {
  const { imageBegin, imageEnd } = vocab;
  if (imageBegin === undefined || imageEnd === undefined || !tokens.includes(imageBegin)) return null;
  const out: number[] = [0];
  let inside = false;
  for (let c = 1; c < tokens.length; c++) {
    const prev = tokens[c - 1];
    if (prev === imageBegin) inside = true;
    else if (prev === imageEnd) inside = false;
    if (!inside) out.push(c);
  }
  // the end boundary is always allowed: a span ending there swallows any unclosed block whole
  out.push(tokens.length);
  return Int32Array.from(out);
}

/** k distinct integers from [0, n), sorted (Floyd's algorithm: exactly k draws, uniform over subsets). */
function sampleDistinct(n: number, k: number, rng: Rng): number[] {
  const chosen = new Set<number>();
  for (let j = n - k; j < n; j++) {
    const t = rng.int(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return [...chosen].sort((a, b) => a - b);
}

/** The per-document draws, always made in this order: the left-to-right decision, then the span count. */
export function drawSpanCount(opts: Cm3Options, rng: Rng): { ltr: boolean; n: number } {
  // draw both always, so a document's stream does not depend on its length
  const ltr = rng.uniform() < opts.ltrFraction;
  const drawn = Math.min(Math.max(rng.poisson(opts.lambda), 1), opts.maxMasks);
  return { ltr, n: ltr ? 0 : drawn };
}

function checkInput(tokens: Int32Array, vocab: Cm3Vocab): void {
  for (let i = 0; i < tokens.length; i++) {
    if (isMask(tokens[i], vocab) || tokens[i] === vocab.eom) {
      throw new HyperlmError(
        'CM3_BAD_TOKENS',
        `cm3Transform: input token ${i} is the reserved id ${tokens[i]} (a mask sentinel or <eom>)`,
      );
    }
  }
}

/**
 * Mask up to `n` spans of `tokens` (fewer when it has too few boundaries); the 2n span endpoints are
 * distinct boundaries drawn uniformly, so spans are non-empty and disjoint. With `continues` (a window
 * cut from a longer document, cm3-window.ts) one more sentinel <mask:k>, k = spans masked, follows the
 * visible text, as InCoder's infill prompt marks a truncated suffix; its content is never appended.
 */
export function applySpans(tokens: Int32Array, vocab: Cm3Vocab, n: number, rng: Rng, continues = false): Int32Array {
  checkInput(tokens, vocab);
  const allowed = allowedBoundaries(tokens, vocab);
  const nBoundaries = allowed ? allowed.length : tokens.length + 1;
  n = Math.min(n, Math.floor(nBoundaries / 2), continues ? vocab.maskCount - 1 : vocab.maskCount);
  const marker = continues ? 1 : 0;
  const cuts = n > 0 ? sampleDistinct(nBoundaries, 2 * n, rng).map((k) => (allowed ? allowed[k] : k)) : [];

  const out = new Int32Array(tokens.length + 3 * Math.max(n, 0) + marker);
  let o = 0;
  let prev = 0;
  for (let i = 0; i < n; i++) {
    out.set(tokens.subarray(prev, cuts[2 * i]), o);
    o += cuts[2 * i] - prev;
    out[o++] = vocab.maskBase + i;
    prev = cuts[2 * i + 1];
  }
  out.set(tokens.subarray(prev), o);
  o += tokens.length - prev;
  if (continues) out[o++] = vocab.maskBase + Math.max(n, 0);
  for (let i = 0; i < n; i++) {
    out[o++] = vocab.maskBase + i;
    out.set(tokens.subarray(cuts[2 * i], cuts[2 * i + 1]), o);
    o += cuts[2 * i + 1] - cuts[2 * i];
    out[o++] = vocab.eom;
  }
  return out;
}

/**
 * Apply CM3 causal masking to one document (without its end-of-document token).
 * Span count n = clamp(Poisson(λ), 1, maxMasks), reduced when the document has too few boundaries.
 *
 *   original     a b c d e f g h
 *   transformed  a <mask:0> d e <mask:1> h   <mask:0> b c <eom>   <mask:1> f g <eom>
 *
 * Length grows by exactly 3 tokens per span. `cm3Parse`/`cm3Inverse` undo the transform exactly.
 */
export function cm3Transform(tokens: Int32Array, vocab: Cm3Vocab, opts: Cm3Options, rng: Rng): Int32Array {
  validate(vocab, opts);
  checkInput(tokens, vocab);
  if (tokens.length === 0) return new Int32Array(0);
  const { n } = drawSpanCount(opts, rng);
  return n === 0 ? tokens.slice() : applySpans(tokens, vocab, n, rng);
}

/** Check options and vocabulary once (callers that mask many windows validate up front). */
export function validateCm3(vocab: Cm3Vocab, opts: Cm3Options): void {
  validate(vocab, opts);
}

export interface Cm3Parsed {
  /** The document (or window) before masking. */
  tokens: Int32Array;
  /** Span i covered tokens[start, end) of the original; empty for a left-to-right document. */
  spans: Array<[number, number]>;
  /** The sequence carries the continuation sentinel <mask:n> (a window cut from a longer document). */
  continues: boolean;
}

/** Undo `cm3Transform`/`applySpans`, also reporting where each span was; malformed input → CM3_BAD_TOKENS. */
export function cm3Parse(transformed: Int32Array, vocab: Cm3Vocab): Cm3Parsed {
  const fail = (why: string): never => {
    throw new HyperlmError('CM3_BAD_TOKENS', `cm3Parse: ${why} (sequence of ${transformed.length} tokens)`);
  };
  // prefix: sentinels 0..m-1 in order (m = n, or n + 1 with the continuation sentinel); the suffix starts at the second <mask:0>
  const prefixMasks: number[] = [];
  let suffixAt = transformed.length;
  for (let p = 0; p < transformed.length; p++) {
    const t = transformed[p];
    if (t === vocab.eom) fail(`<eom> at position ${p} before any moved span`);
    if (!isMask(t, vocab)) continue;
    const i = t - vocab.maskBase;
    if (i === prefixMasks.length) prefixMasks.push(p);
    else if (i === 0) {
      suffixAt = p;
      break;
    } else fail(`sentinel <mask:${i}> at position ${p} out of order`);
  }
  const spanTokens: Int32Array[] = [];
  let p = suffixAt;
  while (p < transformed.length) {
    const i = spanTokens.length;
    if (transformed[p] !== vocab.maskBase + i) fail(`expected <mask:${i}> at position ${p}`);
    const end = transformed.indexOf(vocab.eom, p + 1);
    if (end < 0) fail(`moved span ${i} has no <eom>`);
    const span = transformed.subarray(p + 1, end);
    if (span.length === 0) fail(`moved span ${i} is empty`);
    if (span.some((t) => isMask(t, vocab))) fail(`moved span ${i} contains a sentinel`);
    spanTokens.push(span);
    p = end + 1;
  }
  const n = spanTokens.length;
  // one prefix sentinel more than moved spans: the last one is the continuation marker, right before the suffix
  const continues = prefixMasks.length === n + 1 && prefixMasks[n] === suffixAt - 1;
  if (prefixMasks.length !== n && !continues) fail(`${prefixMasks.length} sentinels in the text but ${n} moved spans`);
  const visibleEnd = continues ? suffixAt - 1 : suffixAt;

  const out = new Int32Array(visibleEnd - n + spanTokens.reduce((s, x) => s + x.length, 0));
  const spans: Array<[number, number]> = [];
  let o = 0;
  let prev = 0;
  for (let i = 0; i < n; i++) {
    out.set(transformed.subarray(prev, prefixMasks[i]), o);
    o += prefixMasks[i] - prev;
    spans.push([o, o + spanTokens[i].length]);
    out.set(spanTokens[i], o);
    o += spanTokens[i].length;
    prev = prefixMasks[i] + 1;
  }
  out.set(transformed.subarray(prev, visibleEnd), o);
  return { tokens: out, spans, continues };
}

/** The exact inverse of `cm3Transform` (for tests and `inspect`). */
export function cm3Inverse(transformed: Int32Array, vocab: Cm3Vocab): Int32Array {
  return cm3Parse(transformed, vocab).tokens;
}

/**
 * Per-token loss weights, aligned with `tokens` as prediction targets (the trainer shifts by one):
 * 0 where the token is a sentinel <mask:i> — its position is chosen at random, so predicting it is
 * noise — and 1 elsewhere; <eom> keeps weight 1 because the model must learn where a span ends.
 */
export function lossWeights(tokens: Int32Array, vocab: Cm3Vocab): Float32Array {
  const w = new Float32Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) w[i] = isMask(tokens[i], vocab) ? 0 : 1;
  return w;
}
