// Autoregressive sampling from a GPT: greedy, temperature, top-k and top-p (sampling.ts), stop tokens, a
// batch of prompts of different lengths (left-padded, padding masked out of attention and per-sequence
// positions so each row behaves as if alone), and a KV cache so each step costs one token. The cache lives
// in host memory on CPU backends (decode.ts: preallocated, written in place, JS vector work, 3 backend
// calls per layer and token) or in backend tensors grown by concat through GPT.forward (the generic path,
// kept for GPU backends, where every host round trip is a device sync).

import * as tf from '@tensorflow/tfjs';
import { HyperlmError } from '../errors.js';
import type { KVEntry } from './attention.js';
import { HostDecoder } from './decode.js';
import { Rng } from '../rng.js';
import type { GPT } from './gpt.js';
import { sampleToken as pickToken, type SamplingOptions } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to append per prompt (fewer if a stop token comes first). */
  maxNewTokens: number;
  /** A row stops after emitting any of these (the stop token is included in its output). */
  stopTokens?: number[];
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

/** Pick a token id from one row of logits [V] (sampling.ts; accepts a whole GenerateOptions). */
export function sampleToken(row: Float32Array, opts: GenerateOptions | SamplingOptions, random: () => number): number {
  return pickToken(row, opts, random);
}

/** Whether tensors of the active backend live in host memory, so reading them back is a memcpy. */
function hostResident(): boolean {
  const name = tf.getBackend();
  if (name === 'tensorflow') return (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice !== true;
  return name === 'wasm' || name === 'cpu';
}

export function generate(model: GPT, prompts: number[][], opts: GenerateOptions): GenerateResult {
  const B = prompts.length;
  if (B === 0) return { tokens: [] };
  if (prompts.some((p) => p.length === 0)) throw new HyperlmError('MODEL_BAD_INPUT', 'generate: every prompt needs at least one token');
  const L = Math.max(...prompts.map((p) => p.length));
  if (L + opts.maxNewTokens > model.config.blockSize) {
    throw new HyperlmError('MODEL_BAD_INPUT', `generate: prompt length ${L} + maxNewTokens ${opts.maxNewTokens} exceeds blockSize ${model.config.blockSize}`);
  }
  const out: number[][] = prompts.map(() => []);
  const logitsOut: Float32Array[][] = prompts.map(() => []);
  const result = (): GenerateResult => (opts.returnLogits ? { tokens: out, logits: logitsOut } : { tokens: out });
  if (opts.maxNewTokens <= 0) return result();
  const V = model.config.vocabSize;
  const pad = opts.padToken ?? 0;
  const stops = new Set(opts.stopTokens ?? []);
  const random = Rng.fromSeed(opts.seed ?? 0).uniformFn();
  const padLen = prompts.map((p) => L - p.length);
  const seqs = prompts.map((p, b) => [...new Array<number>(padLen[b]).fill(pad), ...p]); // left-padded, [B][L + s]
  const keyMask = prompts.map((_, b) => seqs[b].map((__, s) => (s < padLen[b] ? 0 : 1)));
  const posOf = (b: number, s: number) => Math.max(0, s - padLen[b]);
  const done = new Array<boolean>(B).fill(false);
  const kv = opts.useCache === false ? 'none' : opts.kvCache ?? (hostResident() ? 'host' : 'tensors');
  const host = kv === 'host'
    ? new HostDecoder(model, B, L + opts.maxNewTokens, { domains: opts.domains, mixture: opts.mixture })
    : undefined;
  let cache: KVEntry[] | undefined;

  /** Next-token logits [B·V] after the current seqs: prompts first, then one new token per row. */
  const next = (): Float32Array => {
    const S = seqs[0].length;
    if (host) {
      return S === L
        ? host.prefill(seqs, seqs.map((s, b) => s.map((_, j) => posOf(b, j))), keyMask)
        : host.step(seqs.map((s) => s[S - 1]), seqs.map((_, b) => posOf(b, S - 1)), keyMask);
    }
    const start = kv === 'tensors' && cache ? S - 1 : 0; // first new position fed this step
    const ids = tf.tensor2d(seqs.map((s) => s.slice(start)), [B, S - start], 'int32');
    const positions = seqs.map((s, b) => s.slice(start).map((_, j) => posOf(b, start + j)));
    const r = model.forward(ids, { domains: opts.domains, mixture: opts.mixture, positions, keyMask, cache: kv === 'tensors' ? cache ?? [] : undefined });
    const last = tf.tidy(() => r.logits.slice([0, S - start - 1, 0], [B, 1, -1]).reshape([B, V])); // [B, V]
    const rows = last.dataSync() as Float32Array;
    tf.dispose([ids, r.logits, r.aux, last]);
    if (cache) tf.dispose(cache.flatMap((e) => [e.k, e.v]));
    cache = r.cache;
    return rows;
  };

  try {
    for (let step = 0; step < opts.maxNewTokens; step++) {
      const rows = next();
      for (let b = 0; b < B; b++) {
        let token = pad;
        if (!done[b]) {
          const row = rows.subarray(b * V, (b + 1) * V);
          token = sampleToken(row, opts, random);
          out[b].push(token);
          if (opts.returnLogits) logitsOut[b].push(row.slice());
          if (stops.has(token)) done[b] = true;
        }
        seqs[b].push(token);
        keyMask[b].push(1);
      }
      if (done.every(Boolean)) break;
    }
  } finally {
    if (cache) tf.dispose(cache.flatMap((e) => [e.k, e.v]));
  }
  return result();
}
