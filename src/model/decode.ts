// The fast path of gpt.ts's forward pass for decoding: the same model, one token per step, with the
// KV cache in host memory — generate.ts's default on CPU backends (wasm, cpu, native TensorFlow without a
// GPU). The prompt runs through GPT.forward once (prefill); then the per-token vector work is JS loops
// (host-vectors.ts) and only weight products go to the backend. Same weights and modules as training (the
// Mlp's weights, fused.ts's GELU, routing.ts as moe.ts routes at inference); test/model-decode.test.ts
// checks the logits against the full forward pass at every position.

import * as tf from '@tensorflow/tfjs';
import { HyperlmError } from '../errors.js';
import { inferenceGates } from './routing.js';
import { gelu } from '../nn/fused.js';
import type { GPT } from './gpt.js';
import { addInto, dotRows, layerNormRows, mixRows } from './host-vectors.js';
import { Mlp } from './mlp.js';

export interface HostDecoderOptions {
  /** demix: domain id per row [B]. */
  domains?: Int32Array | number[];
  /** demix inference: expert weights per row [B][E]. */
  mixture?: number[][];
}

/** LayerNorm gain and bias read into JS once per decoder. */
interface NormParams {
  gain: Float32Array;
  bias: Float32Array;
}

/**
 * After the prefill, each step feeds one token per row, and:
 *  - keys/values live in JS Float32Arrays [B, nHead, capacity, headDim] per layer, preallocated to
 *    prompt + new tokens and written in place (no concat of a growing cache tensor, no O(S) copy per step);
 *  - the per-token vector work (LayerNorm, rotary, attention over the cache, residual adds, MoE routing)
 *    is JS loops over d-sized rows, instead of ~300 small tfjs ops per token, each paying dispatch overhead;
 *  - only weight products go to the backend: per layer c_attn, attn c_proj and the MLP (c_fc → GELU →
 *    c_proj in one tidy; an MoE layer runs each used expert's MLP once on its rows), plus the embedding
 *    gather and the output head — 14 round trips per token for 4 dense layers.
 * Rows can also live apart (the infill server's slots, src/serve/engine.ts): each row keeps its own length,
 * `rewind` shortens one row's cache to a shared prefix, `extend` runs more prompt tokens for one row after its
 * cached positions (a position-aware partial prefill), and `stepRows` advances any subset of rows by one token
 * in one batch; test/serve-decoder-reuse.test.ts checks them against the full forward pass.
 */
export class HostDecoder {
  private readonly ln1: NormParams[];
  private readonly ln2: NormParams[];
  private readonly lnF: NormParams;
  private readonly keys: Float32Array[]; // per layer [B, nHead, capacity, hd]
  private readonly values: Float32Array[]; // per layer [B, nHead, capacity, hd]
  /** [d, V] (GPT.headTransposed, on wasm) or the model's own [V, d]. */
  private readonly head: tf.Tensor2D;
  private readonly headTransposed: boolean;
  private readonly invFreq: Float32Array; // [hd / 2] rotary frequencies, float32 as in attention.ts
  /** Per layer: router weights [d, E] read into JS (MoE layers with a router), else undefined. */
  private readonly routers: Array<Float32Array | undefined>;
  /** Cached positions per row: row b's keys/values hold positions [0, lengths[b]). */
  private readonly lengths: Int32Array;

  /** Decodes `batch` rows of up to `capacity` positions (prompt + new tokens). */
  constructor(
    private readonly model: GPT,
    readonly batch: number,
    readonly capacity: number,
    private readonly opts: HostDecoderOptions,
  ) {
    const { dModel: d, nHead, blockSize } = model.config;
    if (!(Number.isInteger(capacity) && capacity > 0 && capacity <= blockSize)) {
      throw new HyperlmError(
        'MODEL_BAD_INPUT',
        `HostDecoder: capacity ${capacity} must be in [1, blockSize ${blockSize}]`,
      );
    }
    const read = (p: { weight: tf.Variable; bias: tf.Variable }): NormParams => ({
      gain: Float32Array.from(p.weight.dataSync()),
      bias: Float32Array.from(p.bias.dataSync()),
    });
    this.ln1 = model.blocks.map((b) => read(b.ln1));
    this.ln2 = model.blocks.map((b) => read(b.ln2));
    this.lnF = read(model.lnF);
    const size = batch * capacity * d; // B · nHead · capacity · hd
    this.keys = model.blocks.map(() => new Float32Array(size));
    this.values = model.blocks.map(() => new Float32Array(size));
    const hd = d / nHead;
    this.invFreq = Float32Array.from({ length: hd / 2 }, (_, i) => 1 / Math.pow(10000, (2 * i) / hd));
    this.headTransposed = tf.getBackend() === 'wasm';
    this.head = this.headTransposed ? model.headTransposed() : ((model.lmHead ?? model.wte) as tf.Tensor2D); // [d, V] | [V, d]
    this.routers = model.blocks.map((b) =>
      b.mlp instanceof Mlp || !b.mlp.router ? undefined : Float32Array.from(b.mlp.router.dataSync()),
    );
    this.lengths = new Int32Array(batch);
  }

  /** Positions cached for `row`. */
  length(row: number): number {
    this.checkRow(row, 'length');
    return this.lengths[row];
  }

  /** Forgets `row`'s positions from n on (keeps [0, n)); the next extend or stepRows writes at n. */
  rewind(row: number, n: number): void {
    this.checkRow(row, 'rewind');
    if (!(Number.isInteger(n) && n >= 0 && n <= this.lengths[row])) {
      throw new HyperlmError(
        'MODEL_BAD_INPUT',
        `HostDecoder.rewind: row ${row} has ${this.lengths[row]} positions, cannot keep ${n}`,
      );
    }
    this.lengths[row] = n;
  }

  /**
   * Runs `ids` for `row` at positions lengths[row], lengths[row] + 1, … through GPT.forward, attending over
   * the row's cached positions as well, and appends their keys/values; returns the last token's next-token logits [V].
   */
  extend(row: number, ids: number[]): Float32Array {
    this.checkRow(row, 'extend');
    const { nHead, dModel: d, vocabSize: V } = this.model.config;
    const hd = d / nHead,
      past = this.lengths[row],
      T = ids.length;
    if (T === 0 || past + T > this.capacity) {
      throw new HyperlmError(
        'MODEL_BAD_INPUT',
        `HostDecoder.extend: ${T} ids after ${past} cached positions (capacity ${this.capacity}); need 1..${this.capacity - past}`,
      );
    }
    const block = (cache: Float32Array): tf.Tensor4D => {
      // this row's cached [1, nHead, past, hd]
      const out = new Float32Array(nHead * past * hd);
      for (let h = 0; h < nHead; h++) {
        const at = (row * nHead + h) * this.capacity * hd;
        out.set(cache.subarray(at, at + past * hd), h * past * hd);
      }
      return tf.tensor4d(out, [1, nHead, past, hd]);
    };
    const cache =
      past === 0 ? [] : this.model.blocks.map((_, l) => ({ k: block(this.keys[l]), v: block(this.values[l]) }));
    const input = tf.tensor2d([ids], [1, T], 'int32');
    const positions = [ids.map((_, t) => past + t)];
    const pick = <X>(a: ArrayLike<X> | undefined): X[] | undefined => (a === undefined ? undefined : [a[row]]);
    const r = this.model.forward(input, {
      positions,
      cache,
      domains: pick(this.opts.domains),
      mixture: pick(this.opts.mixture),
    });
    const last = tf.tidy(() => r.logits.slice([0, T - 1, 0], [1, 1, V]).reshape([V])); // [V]
    const logits = last.dataSync() as Float32Array;
    r.cache!.forEach((e, l) => {
      // e.k, e.v: [1, nHead, past + T, hd]; keep positions [past, past + T)
      const k = e.k.dataSync() as Float32Array,
        v = e.v.dataSync() as Float32Array;
      for (let h = 0; h < nHead; h++) {
        const from = (h * (past + T) + past) * hd,
          to = ((row * nHead + h) * this.capacity + past) * hd;
        this.keys[l].set(k.subarray(from, from + T * hd), to);
        this.values[l].set(v.subarray(from, from + T * hd), to);
      }
    });
    tf.dispose([
      input,
      r.logits,
      r.aux,
      last,
      ...r.cache!.flatMap((e) => [e.k, e.v]),
      ...cache.flatMap((e) => [e.k, e.v]),
    ]);
    this.lengths[row] = past + T;
    return logits;
  }

  /**
   * Appends one token to each listed row (tokens[i] to rows[i], at position lengths[rows[i]]), all rows in one
   * batch of weight products; returns the next-token logits [rows.length·V] in the order of `rows`.
   */
  stepRows(rows: number[], tokens: number[]): Float32Array {
    if (rows.length === 0 || rows.length !== tokens.length || new Set(rows).size !== rows.length) {
      throw new HyperlmError(
        'MODEL_BAD_INPUT',
        `HostDecoder.stepRows: need distinct rows and one token per row, got rows [${rows}] and ${tokens.length} tokens`,
      );
    }
    rows.forEach((r) => this.checkRow(r, 'stepRows'));
    return this.advance(
      rows,
      tokens,
      rows.map((r) => this.lengths[r]),
    );
  }

  private checkRow(row: number, what: string): void {
    if (!(Number.isInteger(row) && row >= 0 && row < this.batch)) {
      throw new HyperlmError('MODEL_BAD_INPUT', `HostDecoder.${what}: row ${row} is outside [0, ${this.batch})`);
    }
  }

  /** Runs the prompts ids [B][T] (left-padded) through GPT.forward, keeps their keys/values; next-token logits [B·V]. */
  prefill(ids: number[][], positions: number[][], keyMask: number[][]): Float32Array {
    const B = this.batch,
      T = ids[0].length,
      V = this.model.config.vocabSize;
    if (ids.length !== B || T > this.capacity) {
      throw new HyperlmError(
        'MODEL_BAD_INPUT',
        `HostDecoder.prefill: got [${ids.length}, ${T}] ids for ${B} rows of capacity ${this.capacity}`,
      );
    }
    const input = tf.tensor2d(ids, [B, T], 'int32');
    const r = this.model.forward(input, {
      positions,
      keyMask,
      cache: [],
      domains: this.opts.domains,
      mixture: this.opts.mixture,
    });
    const last = tf.tidy(() => r.logits.slice([0, T - 1, 0], [B, 1, V]).reshape([B, V])); // [B, V]
    const logits = last.dataSync() as Float32Array;
    r.cache!.forEach((e, l) => {
      this.store(this.keys[l], e.k.dataSync() as Float32Array, T);
      this.store(this.values[l], e.v.dataSync() as Float32Array, T);
    });
    tf.dispose([input, r.logits, r.aux, last, ...r.cache!.flatMap((e) => [e.k, e.v])]);
    this.lengths.fill(T);
    return logits;
  }

  /**
   * Appends one token per row at the rows' shared length s (tokens [B], absolute positions [B]; keyMask [B][s + 1]
   * marks padding keys with 0) and returns the next-token logits [B·V].
   */
  step(tokens: number[], positions: number[], keyMask: number[][]): Float32Array {
    const s = this.lengths[0];
    if (s >= this.capacity)
      throw new HyperlmError('MODEL_BAD_INPUT', `HostDecoder.step: cache full (${this.capacity} positions)`);
    const rows = Array.from({ length: this.batch }, (_, b) => b);
    return this.advance(rows, tokens, positions, keyMask);
  }

  /**
   * One token for each of `rows` (cache rows, k = rows.length) at that row's length: x [k, d] through every
   * block, keys/values appended in place; next-token logits [k·V]. keyMask (indexed by cache row) masks padding.
   */
  private advance(rows: number[], tokens: number[], positions: number[], keyMask?: number[][]): Float32Array {
    const { config, blocks } = this.model;
    const k = rows.length,
      d = config.dModel;
    const at = rows.map((r) => this.lengths[r]);
    at.forEach((s, i) => {
      if (s >= this.capacity)
        throw new HyperlmError(
          'MODEL_BAD_INPUT',
          `HostDecoder: row ${rows[i]} cache full (${this.capacity} positions)`,
        );
    });
    const x = this.embed(tokens, positions); // [k, d] residual stream
    for (let l = 0; l < blocks.length; l++) {
      const { attn, mlp } = blocks[l];
      const qkv = this.linear(layerNormRows(x, d, this.ln1[l], config.normEps), attn.cAttnW, attn.cAttnB); // [k, 3d]
      if (config.positions === 'rotary') this.rotate(qkv, positions);
      this.append(l, qkv, rows, at);
      addInto(x, this.linear(this.attend(l, qkv, rows, at, keyMask), attn.cProjW, attn.cProjB));
      const hn = layerNormRows(x, d, this.ln2[l], config.normEps);
      addInto(x, mlp instanceof Mlp ? this.mlp(mlp, hn, k) : this.moe(l, mlp.experts, hn, rows));
    }
    rows.forEach((r, i) => {
      this.lengths[r] = at[i] + 1;
    });
    const xf = layerNormRows(x, d, this.lnF, config.normEps);
    return this.run(() => {
      const a = tf.tensor2d(xf, [k, d]);
      return this.headTransposed ? tf.fused.matMul({ a, b: this.head }) : tf.matMul(a, this.head, false, true); // [k, V]
    });
  }

  /** A tidy computation's single result, read back to JS (and disposed). */
  private run(f: () => tf.Tensor): Float32Array {
    const t = tf.tidy(f);
    const data = t.dataSync() as Float32Array;
    t.dispose();
    return data;
  }

  /**
   * x [k, in] → x·W + b [k, out] with tf.fused.matMul: on wasm its kernel (tfjs-backend-wasm's _FusedMatMul,
   * which our BatchMatMul replacement does not touch) runs XNNPACK with each weight matrix packed once and
   * cached on the weight tensor's id (batch_mat_mul_impl.cc, xnn_matmul), several times faster than a product
   * that loops or repacks per call. That path needs an untransposed b, so on wasm the head [V, d] is used as
   * GPT.headTransposed()'s [d, V] copy (made once per weights).
   */
  private linear(x: Float32Array, w: tf.Variable, b: tf.Variable): Float32Array {
    return this.run(() =>
      tf.fused.matMul({
        a: tf.tensor2d(x, [x.length / w.shape[0], w.shape[0]]),
        b: w as tf.Tensor2D,
        bias: b as tf.Tensor1D,
      }),
    );
  }

  /** c_fc → GELU → c_proj on `rows` rows x [rows, d]. */
  private mlp(mlp: Mlp, x: Float32Array, rows: number): Float32Array {
    return this.run(() => {
      const h = tf.fused.matMul({
        a: tf.tensor2d(x, [rows, x.length / rows]),
        b: mlp.cFcW as tf.Tensor2D,
        bias: mlp.cFcB as tf.Tensor1D,
      }); // [rows, ff]
      return tf.fused.matMul({
        a: gelu(h) as tf.Tensor2D,
        b: mlp.cProjW as tf.Tensor2D,
        bias: mlp.cProjB as tf.Tensor1D,
      }); // [rows, d]
    });
  }

  /** MoE layer l on x [k, d] (cache rows `rows`): route each row (routing.ts), run each used expert once on its rows, mix by gate. */
  private moe(l: number, experts: Mlp[], x: Float32Array, rows: number[]): Float32Array {
    const { dModel: d, moe: moeConfig } = this.model.config;
    const E = moeConfig.experts,
      B = rows.length;
    const router = this.routers[l];
    const gates = Array.from({ length: B }, (_, b) => {
      const logits = new Float64Array(router ? E : 0); // x[b]·router [E]
      for (let i = 0; router && i < d; i++) {
        const xi = x[b * d + i];
        for (let e = 0; e < E; e++) logits[e] += xi * router[i * E + e];
      }
      return inferenceGates(moeConfig, logits, {
        domain: this.opts.domains?.[rows[b]],
        mixture: this.opts.mixture?.[rows[b]],
      });
    });
    const y = new Float32Array(B * d);
    for (let e = 0; e < E; e++) {
      const mine = gates.flatMap((g, b) => (g[e] !== 0 ? [b] : []));
      if (mine.length === 0) continue;
      const xs = new Float32Array(mine.length * d); // [n_e, d] this expert's rows
      mine.forEach((b, i) => xs.set(x.subarray(b * d, (b + 1) * d), i * d));
      const out = this.mlp(experts[e], xs, mine.length); // [n_e, d]
      mine.forEach((b, i) => {
        for (let j = 0; j < d; j++) y[b * d + j] += gates[b][e] * out[i * d + j];
      });
    }
    return y;
  }

  /** Token embeddings (+ learned positions) for one token per row: [k, d]. */
  private embed(tokens: number[], positions: number[]): Float32Array {
    const { wte, wpe } = this.model;
    return this.run(() => {
      const x = tf.gather(wte, tf.tensor1d(tokens, 'int32'));
      return wpe ? x.add(tf.gather(wpe, tf.tensor1d(positions, 'int32'))) : x;
    });
  }

  /** Rotary positions on the q and k parts of qkv [k, 3d] in place (attention.ts's rotate-half layout). */
  private rotate(qkv: Float32Array, positions: number[]): void {
    const { dModel: d, nHead } = this.model.config;
    const hd = d / nHead,
      half = hd / 2;
    const cos = new Float32Array(half),
      sin = new Float32Array(half);
    for (let b = 0; b < positions.length; b++) {
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(positions[b] * this.invFreq[i]); // float32, as positions · invFreq on the backend
        cos[i] = Math.cos(angle);
        sin[i] = Math.sin(angle);
      }
      for (let h = 0; h < 2 * nHead; h++) {
        // q heads, then k heads
        const o = b * 3 * d + h * hd;
        for (let i = 0; i < half; i++) {
          const x1 = qkv[o + i],
            x2 = qkv[o + half + i];
          qkv[o + i] = x1 * cos[i] - x2 * sin[i];
          qkv[o + half + i] = x2 * cos[i] + x1 * sin[i];
        }
      }
    }
  }

  /** Writes the k and v parts of qkv [k, 3d] (row b of it to cache row rows[b]) at position at[b] of layer l's cache. */
  private append(l: number, qkv: Float32Array, rows: number[], at: number[]): void {
    const { dModel: d, nHead } = this.model.config;
    const hd = d / nHead;
    for (let b = 0; b < rows.length; b++) {
      for (let h = 0; h < nHead; h++) {
        const to = ((rows[b] * nHead + h) * this.capacity + at[b]) * hd;
        const k = b * 3 * d + d + h * hd;
        this.keys[l].set(qkv.subarray(k, k + hd), to);
        this.values[l].set(qkv.subarray(k + d, k + d + hd), to);
      }
    }
  }

  /** softmax(q·Kᵀ/√hd over the unmasked keys 0..at[b])·V per row and head: [k, d]. */
  private attend(l: number, qkv: Float32Array, rows: number[], at: number[], keyMask?: number[][]): Float32Array {
    const { dModel: d, nHead } = this.model.config;
    const hd = d / nHead,
      scale = 1 / Math.sqrt(hd);
    const y = new Float32Array(rows.length * d);
    const p = new Float64Array(Math.max(...at) + 1); // [s + 1] scores, then softmax weights
    for (let b = 0; b < rows.length; b++) {
      const s = at[b];
      const mask = keyMask?.[rows[b]];
      for (let h = 0; h < nHead; h++) {
        const base = (rows[b] * nHead + h) * this.capacity * hd; // this row and head's [capacity, hd] block
        dotRows(qkv, b * 3 * d + h * hd, this.keys[l], base, hd, s + 1, p);
        let max = -Infinity;
        for (let t = 0; t <= s; t++) {
          p[t] = mask !== undefined && mask[t] === 0 ? -Infinity : p[t] * scale;
          if (p[t] > max) max = p[t];
        }
        let z = 0;
        for (let t = 0; t <= s; t++) z += p[t] = Math.exp(p[t] - max);
        mixRows(p, 1 / z, this.values[l], base, hd, s + 1, y, b * d + h * hd);
      }
    }
    return y;
  }

  /** Copies a prefill's k or v [B, nHead, T, hd] into the first T positions of a cache. */
  private store(cache: Float32Array, src: Float32Array, T: number): void {
    const { dModel: d, nHead } = this.model.config;
    const hd = d / nHead,
      rows = this.batch * nHead;
    for (let r = 0; r < rows; r++) cache.set(src.subarray(r * T * hd, (r + 1) * T * hd), r * this.capacity * hd);
  }

  // Rows that share or swap histories (generate.ts's N samples, beam-search.ts): one prompt run once for all
  // rows, and rows taking over another row's cache.

  /**
   * Every row has the same prompt ids [T] (no padding) and the same routing inputs: one GPT.forward of one
   * row, its keys/values copied to every row; returns its next-token logits repeated per row [B·V].
   */
  prefillShared(ids: number[]): Float32Array {
    const { nHead, dModel: d, vocabSize: V } = this.model.config;
    const T = ids.length,
      hd = d / nHead,
      rowSize = this.capacity * d;
    if (T === 0 || T > this.capacity)
      throw new HyperlmError('MODEL_BAD_INPUT', `HostDecoder.prefillShared: ${T} ids for capacity ${this.capacity}`);
    const input = tf.tensor2d([ids], [1, T], 'int32');
    const pick = <X>(a: ArrayLike<X> | undefined): X[] | undefined => (a === undefined ? undefined : [a[0]]);
    const r = this.model.forward(input, {
      positions: [ids.map((_, t) => t)],
      cache: [],
      domains: pick(this.opts.domains),
      mixture: pick(this.opts.mixture),
    });
    const last = tf.tidy(() => r.logits.slice([0, T - 1, 0], [1, 1, V]).reshape([V])); // [V]
    const row = last.dataSync() as Float32Array;
    r.cache!.forEach((e, l) => {
      // [1, nHead, T, hd] into row 0, then row 0 into every row
      for (const [cache, src] of [
        [this.keys[l], e.k.dataSync()],
        [this.values[l], e.v.dataSync()],
      ] as Array<[Float32Array, Float32Array]>) {
        for (let h = 0; h < nHead; h++) cache.set(src.subarray(h * T * hd, (h + 1) * T * hd), h * this.capacity * hd);
        for (let b = 1; b < this.batch; b++) cache.copyWithin(b * rowSize, 0, rowSize);
      }
    });
    tf.dispose([input, r.logits, r.aux, last, ...r.cache!.flatMap((e) => [e.k, e.v])]);
    this.lengths.fill(T);
    const out = new Float32Array(this.batch * V);
    for (let b = 0; b < this.batch; b++) out.set(row, b * V);
    return out;
  }

  /** Row b's cached keys/values (and routing inputs) become row parents[b]'s (beam search). */
  reorderRows(parents: number[]): void {
    const { nHead, dModel: d } = this.model.config;
    const hd = d / nHead;
    const moved = parents.flatMap((p, b) => (p === b ? [] : [b]));
    const sources = [...new Set(moved.map((b) => parents[b]))];
    for (const cache of [...this.keys, ...this.values]) {
      // copy the source rows first: a row may be a source and be overwritten in the same step
      const saved = new Map(
        sources.map((p) => [
          p,
          Array.from({ length: nHead }, (_, h) => {
            const at = (p * nHead + h) * this.capacity * hd;
            return cache.slice(at, at + this.lengths[p] * hd); // the filled part of one head's [capacity, hd] block
          }),
        ]),
      );
      for (const b of moved)
        saved.get(parents[b])!.forEach((src, h) => cache.set(src, (b * nHead + h) * this.capacity * hd));
    }
    const lengths = Int32Array.from(this.lengths);
    parents.forEach((p, b) => {
      this.lengths[b] = lengths[p];
    });
    const { domains, mixture } = this.opts;
    if (domains) this.opts.domains = parents.map((p) => domains[p]);
    if (mixture) this.opts.mixture = parents.map((p) => mixture[p]);
  }
}
