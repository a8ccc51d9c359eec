// The state of one batched decode shared by sampling (generate.ts) and beam search (beam-search.ts): the
// left-padded rows, their key masks and per-row positions, and the KV cache — in host memory (decode.ts,
// the fast path on CPU backends), in backend tensors through GPT.forward (GPU backends), or none
// (recompute everything each step, the reference the cached paths are tested against). `next` gives the
// next-token logits of every row, `push` appends one token per row, and `reorder` makes row b continue
// row parents[b] (beam search), which moves its cached keys/values along with its tokens. Rows that share one
// prompt (N samples, beams) run it once and copy its cache.

import * as tf from '@tensorflow/tfjs';
import type { KVEntry } from './attention.js';
import { HostDecoder } from './decode.js';
import type { GPT } from './gpt.js';

export interface DecodeStateOptions {
  /** Token for left padding; masked out of attention, so any id works. */
  padToken?: number;
  useCache?: boolean;
  kvCache?: 'host' | 'tensors';
  domains?: number[];
  mixture?: number[][];
}

/** Whether tensors of the active backend live in host memory, so reading them back is a memcpy. */
function hostResident(): boolean {
  const name = tf.getBackend();
  if (name === 'tensorflow')
    return (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice !== true;
  return name === 'wasm' || name === 'cpu';
}

export class DecodeState {
  readonly batch: number;
  /** Longest prompt: every row is left-padded to it. */
  readonly promptLen: number;
  /** [B][promptLen + steps] left-padded ids. */
  private readonly seqs: number[][];
  private readonly keyMask: number[][];
  private readonly padLen: number[];
  private domains?: number[];
  private mixture?: number[][];
  private readonly kv: 'host' | 'tensors' | 'none';
  private readonly host?: HostDecoder;
  private cache?: KVEntry[];
  /** Every row starts from the same prompt with the same routing inputs: the prompt runs once (samples, beams). */
  private readonly shared: boolean;

  /** Rows `prompts` (non-empty), room for `newTokens` more positions each. */
  constructor(
    private readonly model: GPT,
    prompts: number[][],
    newTokens: number,
    opts: DecodeStateOptions,
  ) {
    this.batch = prompts.length;
    this.promptLen = Math.max(...prompts.map((p) => p.length));
    const pad = opts.padToken ?? 0;
    this.padLen = prompts.map((p) => this.promptLen - p.length);
    this.seqs = prompts.map((p, b) => [...new Array<number>(this.padLen[b]).fill(pad), ...p]);
    this.keyMask = this.seqs.map((s, b) => s.map((_, j) => (j < this.padLen[b] ? 0 : 1)));
    this.domains = opts.domains;
    this.mixture = opts.mixture;
    const same = <T>(xs: T[] | undefined) => !xs || xs.every((x) => JSON.stringify(x) === JSON.stringify(xs[0]));
    this.shared = this.batch > 1 && same(prompts) && same(opts.domains) && same(opts.mixture);
    this.kv = opts.useCache === false ? 'none' : (opts.kvCache ?? (hostResident() ? 'host' : 'tensors'));
    if (this.kv === 'host') {
      this.host = new HostDecoder(model, this.batch, this.promptLen + newTokens, {
        domains: opts.domains,
        mixture: opts.mixture,
      });
    }
  }

  private posOf(b: number, s: number): number {
    return Math.max(0, s - this.padLen[b]);
  }

  /** Next-token logits [B·V] after the current rows: the prompts first, then one new token per row. */
  next(): Float32Array {
    const B = this.batch,
      V = this.model.config.vocabSize,
      S = this.seqs[0].length,
      L = this.promptLen;
    const { seqs, keyMask } = this;
    if (this.shared && S === L && this.kv !== 'none') return this.prefillShared();
    if (this.host) {
      return S === L
        ? this.host.prefill(
            seqs,
            seqs.map((s, b) => s.map((_, j) => this.posOf(b, j))),
            keyMask,
          )
        : this.host.step(
            seqs.map((s) => s[S - 1]),
            seqs.map((_, b) => this.posOf(b, S - 1)),
            keyMask,
          );
    }
    const start = this.kv === 'tensors' && this.cache ? S - 1 : 0; // first new position fed this step
    const ids = tf.tensor2d(
      seqs.map((s) => s.slice(start)),
      [B, S - start],
      'int32',
    );
    const positions = seqs.map((s, b) => s.slice(start).map((_, j) => this.posOf(b, start + j)));
    const r = this.model.forward(ids, {
      domains: this.domains,
      mixture: this.mixture,
      positions,
      keyMask,
      cache: this.kv === 'tensors' ? (this.cache ?? []) : undefined,
    });
    const last = tf.tidy(() => r.logits.slice([0, S - start - 1, 0], [B, 1, -1]).reshape([B, V])); // [B, V]
    const rows = last.dataSync() as Float32Array;
    tf.dispose([ids, r.logits, r.aux, last]);
    this.disposeCache();
    this.cache = r.cache;
    return rows;
  }

  /** The first step when all rows share one prompt: one row through the model, its cache and logits copied. */
  private prefillShared(): Float32Array {
    const B = this.batch,
      V = this.model.config.vocabSize,
      L = this.promptLen;
    const positions = this.seqs[0].map((_, j) => j);
    if (this.host) return this.host.prefillShared(this.seqs[0]);
    const ids = tf.tensor2d([this.seqs[0]], [1, L], 'int32');
    const r = this.model.forward(ids, {
      domains: this.domains?.slice(0, 1),
      mixture: this.mixture?.slice(0, 1),
      positions: [positions],
      cache: [],
    });
    const last = r.logits.slice([0, L - 1, 0], [1, 1, V]);
    const row = last.dataSync() as Float32Array;
    this.cache = r.cache!.map((e) => ({ k: tf.tile(e.k, [B, 1, 1, 1]), v: tf.tile(e.v, [B, 1, 1, 1]) })); // [B, nHead, L, hd]
    tf.dispose([ids, r.logits, r.aux, last, ...r.cache!.flatMap((e) => [e.k, e.v])]);
    const out = new Float32Array(B * V);
    for (let b = 0; b < B; b++) out.set(row, b * V);
    return out;
  }

  /** Appends tokens[b] to row b. */
  push(tokens: number[]): void {
    for (let b = 0; b < this.batch; b++) {
      this.seqs[b].push(tokens[b]);
      this.keyMask[b].push(1);
    }
  }

  /** Row b becomes a copy of row parents[b] (tokens, padding, cache), before the next push. */
  reorder(parents: number[]): void {
    if (parents.every((p, b) => p === b)) return;
    const copy = <T>(rows: T[]): T[] => parents.map((p) => structuredClone(rows[p]));
    const seqs = copy(this.seqs),
      mask = copy(this.keyMask),
      padLen = parents.map((p) => this.padLen[p]);
    for (let b = 0; b < this.batch; b++) {
      this.seqs[b] = seqs[b];
      this.keyMask[b] = mask[b];
      this.padLen[b] = padLen[b];
    }
    if (this.domains) this.domains = parents.map((p) => this.domains![p]);
    if (this.mixture) this.mixture = parents.map((p) => this.mixture![p]);
    this.host?.reorderRows(parents);
    if (this.cache) {
      const index = tf.tensor1d(parents, 'int32');
      const moved = this.cache.map((e) => ({ k: tf.gather(e.k, index), v: tf.gather(e.v, index) })); // [B, nHead, S, hd]
      index.dispose();
      this.disposeCache();
      this.cache = moved;
    }
  }

  private disposeCache(): void {
    if (this.cache) tf.dispose(this.cache.flatMap((e) => [e.k, e.v]));
    this.cache = undefined;
  }

  dispose(): void {
    this.disposeCache();
  }
}
