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
import { Rng } from '../rng.js';
import type { GPT } from './gpt.js';
import { StopStringMatcher } from './stop-strings.js';
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
  /** With stopStrings, per row: the stop string that ended it, if one did. */
  stopString?: Array<string | undefined>;
  /** With stopStrings, per row: the decoded output cut before the stop string (stop-strings.ts). */
  text?: string[];
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
  const text = new Array<string>(B).fill('');
  const result = (): GenerateResult => ({
    tokens: out,
    finish,
    ...(opts.stopStrings?.length ? { stopString, text } : {}),
    ...(opts.returnLogits ? { logits: logitsOut } : {}),
  });
  if (opts.maxNewTokens <= 0) return result();
  const V = model.config.vocabSize;
  const pad = opts.padToken ?? 0;
  const stops = new Set(opts.stopTokens ?? []);
  const allowed = opts.allowedIds ? maskAllowed(V, opts.allowedIds) : undefined;
  // stop strings: each row's output is decoded after every token and the new text fed to the serve
  // engineer's incremental matcher, which finds a stop string however the pieces split it
  const matchers = opts.stopStrings?.length ? rows.map(() => new StopStringMatcher(opts.stopStrings!)) : undefined;
  const decodedLen = new Array<number>(B).fill(0);
  const stopHit = (b: number, final: boolean): boolean => {
    const m = matchers![b];
    let r;
    if (final) r = m.flush();
    else {
      const full = opts.decode!(out[b]);
      r = m.push(full.slice(decodedLen[b]));
      decodedLen[b] = full.length;
    }
    text[b] += r.text;
    if (r.stop !== undefined) stopString[b] = r.stop;
    return r.stop !== undefined;
  };
  const random = Rng.fromSeed(opts.seed ?? 0).uniformFn();
  const deadline = opts.maxTimeMs === undefined ? Infinity : performance.now() + opts.maxTimeMs;
  const done = new Array<boolean>(B).fill(false);
  const state = new DecodeState(model, rows, opts.maxNewTokens, {
    ...opts,
    domains: perRow(opts.domains),
    mixture: perRow(opts.mixture),
  });
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
        else if (matchers && stopHit(b, false)) stopRow(b, 'stop-string');
        if (opts.onToken?.(b, token) === false && !done[b]) stopRow(b, 'callback');
      }
      state.push(picked);
      if (performance.now() >= deadline) done.forEach((d, b) => d || stopRow(b, 'time'));
      if (done.every(Boolean)) break;
    }
  } finally {
    state.dispose();
  }
  // release what the matchers still hold (a stop string may be confirmed only now)
  if (matchers)
    for (let b = 0; b < B; b++)
      if (!matchers[b].stopped && stopHit(b, true) && finish[b] !== 'stop-token') finish[b] = 'stop-string';
  return result();
}
