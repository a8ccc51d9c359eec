// Autoregressive decoding from a GPT: greedy, temperature, top-k and top-p (sampling.ts), N samples per
// prompt, allowed-id ranges (a −∞ mask before sampling: image codes only, text only), stop tokens and stop
// strings, a per-token callback that may stop its row, a wall-clock budget, and beam search (beam-search.ts,
// chosen by numBeams > 1). A batch of prompts of different lengths is left-padded, padding masked out of
// attention, with per-sequence positions, so each row behaves as if alone. The KV cache lives in host memory
// on CPU backends (decode.ts: preallocated, written in place, JS vector work) or in backend tensors grown by
// concat through GPT.forward (the generic path, kept for GPU backends); decode-state.ts holds either.

import { HyperlmError } from '../errors.js';
import { beamSearch, type BeamHypothesis } from './beam-search.js';
import { DecodeState } from './decode-state.js';
import { GPT, seededRandom } from './gpt.js';
import { maskAllowed, sampleToken as pickToken, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to append per prompt (fewer if a stop comes first). */
  maxNewTokens: number;
  /** A row stops after emitting any of these (the stop token is included in its output). */
  stopTokens?: number[];
  /** A row stops once its decoded output contains one of these (needs `decode`; the tokens are kept). */
  stopStrings?: string[];
  /** Ids → text for stop strings (e.g. tokenizer.decode.bind(tokenizer)). */
  decode?: (ids: number[]) => string;
  /** Rows per prompt (default 1): N samples of each prompt in one batch; result rows are prompt-major. */
  numSamples?: number;
  /** Only ids in these half-open ranges [lo, hi) may be emitted (default: all). */
  allowedIds?: Array<[number, number]>;
  /** Called after each emitted token with the result row and the token; returning false stops that row. */
  onToken?: (row: number, token: number) => boolean | void;
  /** Wall-clock budget: after a step that ends at or past it, every running row stops ('time'). */
  maxTimeMs?: number;
  /** Beam search with this many beams when > 1 (greedy scoring; temperature/top-k/top-p are ignored). */
  numBeams?: number;
  /** Beam search: hypotheses rank by Σ log p / length^lengthPenalty (fairseq/HF; default 1). */
  lengthPenalty?: number;
  /** Token used for left padding and for rows that already stopped; it is masked out, so any id works. */
  padToken?: number;
  /** Reuse keys/values across steps (default true); false recomputes the whole sequence each step. */
  useCache?: boolean;
  /**
   * Where the cache lives: 'host' (decode.ts; JS arrays, default on wasm, cpu and CPU TensorFlow) or
   * 'tensors' (backend tensors through GPT.forward; default on a GPU).
   */
  kvCache?: 'host' | 'tensors';
  seed?: number;
  /** Keep the next-token logits of every step (for tests and scoring; not with beams). */
  returnLogits?: boolean;
  domains?: number[];
  mixture?: number[][];
}

/** Why a row ended: a stop token, a stop string, maxNewTokens, onToken returned false, or the time budget. */
export type FinishReason = 'stop-token' | 'stop-string' | 'length' | 'callback' | 'time';

export interface GenerateResult {
  /** New tokens per row (prompt not included); with beams, the best hypothesis per prompt. */
  tokens: number[][];
  /** Per row. */
  finish: FinishReason[];
  /** Per row: the stop string that ended it, if one did. */
  stopString?: Array<string | undefined>;
  /** Per row, per step: next-token logits [V], before the allowedIds mask (only with returnLogits). */
  logits?: Float32Array[][];
  /** Beam search: per prompt, the finished hypotheses best first. */
  beams?: BeamHypothesis[][];
}

/** Pick a token id from one row of logits [V] (sampling.ts; accepts a whole GenerateOptions). */
export function sampleToken(row: Float32Array, opts: GenerateOptions | SamplingOptions, random: () => number): number {
  return pickToken(row, opts, random);
}

function validate(model: GPT, prompts: number[][], opts: GenerateOptions): void {
  const V = model.config.vocabSize;
  const bad = (msg: string): never => {
    throw new HyperlmError('MODEL_BAD_INPUT', `generate: ${msg}`);
  };
  if (prompts.some((p) => p.length === 0)) bad('every prompt needs at least one token');
  const L = Math.max(...prompts.map((p) => p.length));
  if (L + opts.maxNewTokens > model.config.blockSize) {
    bad(`prompt length ${L} + maxNewTokens ${opts.maxNewTokens} exceeds blockSize ${model.config.blockSize}`);
  }
  const n = opts.numSamples ?? 1;
  if (!Number.isInteger(n) || n < 1) bad(`options.numSamples must be a positive integer, got ${n}`);
  for (const [lo, hi] of opts.allowedIds ?? []) {
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 0 && lo < hi && hi <= V)) {
      bad(`options.allowedIds range [${lo}, ${hi}) must be non-empty integers within [0, vocabSize ${V})`);
    }
  }
  if (opts.stopStrings?.length && !opts.decode) bad('options.stopStrings needs options.decode (ids → text)');
  if (opts.stopStrings?.some((s) => s.length === 0)) bad('options.stopStrings must not contain the empty string');
}

export function generate(model: GPT, prompts: number[][], opts: GenerateOptions): GenerateResult {
  if (prompts.length === 0) return { tokens: [], finish: [] };
  validate(model, prompts, opts);
  if ((opts.numBeams ?? 1) > 1) return beamSearch(model, prompts, opts);
  const n = opts.numSamples ?? 1;
  const rows = prompts.flatMap((p) => new Array<number[]>(n).fill(p)); // [P·n] prompt-major
  const perRow = <T>(xs: T[] | undefined): T[] | undefined => xs && xs.flatMap((x) => new Array<T>(n).fill(x));
  const B = rows.length;
  const out: number[][] = rows.map(() => []);
  const logitsOut: Float32Array[][] = rows.map(() => []);
  const finish = new Array<FinishReason>(B).fill('length');
  const stopString = new Array<string | undefined>(B).fill(undefined);
  const result = (): GenerateResult => ({
    tokens: out, finish, ...(opts.stopStrings?.length ? { stopString } : {}), ...(opts.returnLogits ? { logits: logitsOut } : {}),
  });
  if (opts.maxNewTokens <= 0) return result();
  const V = model.config.vocabSize;
  const pad = opts.padToken ?? 0;
  const stops = new Set(opts.stopTokens ?? []);
  const allowed = opts.allowedIds ? maskAllowed(V, opts.allowedIds) : undefined;
  const matcher = opts.stopStrings?.length ? new StopStringMatcher(opts.stopStrings, opts.decode!) : undefined;
  const random = seededRandom(opts.seed ?? 0);
  const deadline = opts.maxTimeMs === undefined ? Infinity : performance.now() + opts.maxTimeMs;
  const done = new Array<boolean>(B).fill(false);
  const state = new DecodeState(model, rows, opts.maxNewTokens, { ...opts, domains: perRow(opts.domains), mixture: perRow(opts.mixture) });
  const stopRow = (b: number, why: FinishReason): void => {
    done[b] = true;
    finish[b] = why;
  };
  try {
    for (let step = 0; step < opts.maxNewTokens; step++) {
      const logits = state.next();
      const picked = new Array<number>(B).fill(pad);
      for (let b = 0; b < B; b++) {
        if (done[b]) continue;
        const raw = logits.subarray(b * V, (b + 1) * V);
        const token = sampleToken(allowed ? allowed(raw) : raw, opts, random);
        picked[b] = token;
        out[b].push(token);
        if (opts.returnLogits) logitsOut[b].push(raw.slice());
        if (stops.has(token)) stopRow(b, 'stop-token');
        else if (matcher && (stopString[b] = matcher.find(out[b])) !== undefined) stopRow(b, 'stop-string');
        if (opts.onToken?.(b, token) === false && !done[b]) stopRow(b, 'callback');
      }
      state.push(picked);
      if (performance.now() >= deadline) done.forEach((d, b) => d || stopRow(b, 'time'));
      if (done.every(Boolean)) break;
    }
  } finally {
    state.dispose();
  }
  return result();
}

/**
 * Stop strings, minimal: a row's output is decoded after each token and searched from just before where the
 * previous text ended, so a stop string split across pieces is found once its last piece arrives.
 */
class StopStringMatcher {
  private readonly seen = new Map<number[], number>(); // row tokens → text length already searched
  private readonly longest: number;

  constructor(private readonly stops: string[], private readonly decode: (ids: number[]) => string) {
    this.longest = Math.max(...stops.map((s) => s.length));
  }

  /** The first stop string in decode(ids), if any. */
  find(ids: number[]): string | undefined {
    const text = this.decode(ids);
    // a byte-fallback character completed by this token may rewrite a few chars before the old end
    const from = Math.max(0, (this.seen.get(ids) ?? 0) - this.longest - 4);
    this.seen.set(ids, text.length);
    let best: { at: number; stop: string } | undefined;
    for (const stop of this.stops) {
      const at = text.indexOf(stop, from);
      if (at >= 0 && (!best || at < best.at)) best = { at, stop };
    }
    return best?.stop;
  }
}
