// Autoregressive sampling from a GPT: greedy, temperature, top-k and top-p (nucleus, Holtzman et al. 2019),
// stop tokens, a batch of prompts of different lengths (left-padded, padding masked out of attention and
// per-sequence positions so each row behaves as if alone), and a KV cache so each step costs one token.

import * as tf from '@tensorflow/tfjs';
import { HyperlmError } from '../errors.js';
import type { KVEntry } from './attention.js';
import { GPT, seededRandom } from './gpt.js';

export interface GenerateOptions {
  /** Tokens to append per prompt (fewer if a stop token comes first). */
  maxNewTokens: number;
  /** 0 (default) is greedy; otherwise logits are divided by it before sampling. */
  temperature?: number;
  /** Sample only among the k most likely tokens (0 = off). */
  topK?: number;
  /** Sample only among the smallest set of tokens whose probability reaches p (1 = off). */
  topP?: number;
  /** A row stops after emitting any of these (the stop token is included in its output). */
  stopTokens?: number[];
  /** Token used for left padding and for rows that already stopped; it is masked out, so any id works. */
  padToken?: number;
  /** Reuse keys/values across steps (default true); false recomputes the whole sequence each step. */
  useCache?: boolean;
  seed?: number;
  /** Keep the next-token logits of every step (for tests and scoring). */
  returnLogits?: boolean;
  domains?: number[];
  mixture?: number[][];
}

export interface GenerateResult {
  /** New tokens per prompt (prompt not included). */
  tokens: number[][];
  /** Per prompt, per step: next-token logits [V] (only with returnLogits). */
  logits?: Float32Array[][];
}

/** Pick a token id from one row of logits. */
export function sampleToken(row: Float32Array, opts: GenerateOptions, random: () => number): number {
  const temperature = opts.temperature ?? 0;
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
    return best;
  }
  let order = Array.from(row.keys()).sort((a, b) => row[b] - row[a]);
  if (opts.topK && opts.topK > 0) order = order.slice(0, opts.topK);
  const max = row[order[0]];
  let probs = order.map((i) => Math.exp((row[i] - max) / temperature));
  let z = probs.reduce((a, b) => a + b, 0);
  const topP = opts.topP ?? 1;
  if (topP < 1) {
    let cum = 0, keep = 0;
    while (keep < probs.length && cum < topP * z) cum += probs[keep++];
    order = order.slice(0, keep);
    probs = probs.slice(0, keep);
    z = cum;
  }
  let u = random() * z;
  for (let j = 0; j < order.length; j++) {
    u -= probs[j];
    if (u <= 0) return order[j];
  }
  return order[order.length - 1];
}

export function generate(model: GPT, prompts: number[][], opts: GenerateOptions): GenerateResult {
  const B = prompts.length;
  if (B === 0) return { tokens: [] };
  if (prompts.some((p) => p.length === 0)) throw new HyperlmError('MODEL_BAD_INPUT', 'generate: every prompt needs at least one token');
  const L = Math.max(...prompts.map((p) => p.length));
  if (L + opts.maxNewTokens > model.config.blockSize) {
    throw new HyperlmError('MODEL_BAD_INPUT', `generate: prompt length ${L} + maxNewTokens ${opts.maxNewTokens} exceeds blockSize ${model.config.blockSize}`);
  }
  const pad = opts.padToken ?? 0;
  const useCache = opts.useCache ?? true;
  const stops = new Set(opts.stopTokens ?? []);
  const random = seededRandom(opts.seed ?? 0);
  const padLen = prompts.map((p) => L - p.length);
  const seqs = prompts.map((p, b) => [...new Array<number>(padLen[b]).fill(pad), ...p]); // left-padded, [B][L + s]
  const keyMask = prompts.map((_, b) => seqs[b].map((__, s) => (s < padLen[b] ? 0 : 1)));
  const posOf = (b: number, s: number) => Math.max(0, s - padLen[b]);
  const out: number[][] = prompts.map(() => []);
  const logitsOut: Float32Array[][] = prompts.map(() => []);
  const done = new Array<boolean>(B).fill(false);
  const fwd = { domains: opts.domains, mixture: opts.mixture, training: false };

  let cache: KVEntry[] | undefined;
  for (let step = 0; step < opts.maxNewTokens; step++) {
    const S = seqs[0].length;
    const start = useCache && cache ? S - 1 : 0; // first new position fed this step
    const ids = tf.tensor2d(seqs.map((s) => s.slice(start)), [B, S - start], 'int32');
    const positions = seqs.map((s, b) => s.slice(start).map((_, j) => posOf(b, start + j)));
    const r = model.forward(ids, { ...fwd, positions, keyMask, cache: useCache ? cache ?? [] : undefined });
    const last = tf.tidy(() => r.logits.slice([0, S - start - 1, 0], [B, 1, -1]).reshape([B, -1])); // [B, V]
    const rows = last.arraySync() as number[][];
    tf.dispose([ids, r.logits, r.aux, last]);
    if (cache) tf.dispose(cache.flatMap((e) => [e.k, e.v]));
    cache = r.cache;
    for (let b = 0; b < B; b++) {
      let next = pad;
      if (!done[b]) {
        const row = Float32Array.from(rows[b]);
        next = sampleToken(row, opts, random);
        out[b].push(next);
        if (opts.returnLogits) logitsOut[b].push(row);
        if (stops.has(next)) done[b] = true;
      }
      seqs[b].push(next);
      keyMask[b].push(1);
    }
    if (done.every(Boolean)) break;
  }
  if (cache) tf.dispose(cache.flatMap((e) => [e.k, e.v]));
  return opts.returnLogits ? { tokens: out, logits: logitsOut } : { tokens: out };
}
