// Causal multi-head self-attention (nanoGPT's CausalSelfAttention) with rotary positions (RoPE, Su et al.
// 2021, GPT-NeoX "rotate half" layout) or none (learned positions are added to the embeddings in gpt.ts),
// an additive mask for causality and left padding, and a KV cache for incremental decoding.

import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config.js';
import type { RowDropout } from './dropout.js';
import { ParamStore, linear } from '../nn/params.js';

/** One layer's cached keys and values. k, v: [B, nHead, S, headDim]. */
export interface KVEntry {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
}

/** What every block needs besides its input, built once per forward in gpt.ts. */
export interface AttentionContext {
  training: boolean;
  /** Additive mask [B, 1, T, S]: 0 where query t may attend key s, -1e9 elsewhere (causal + padding). */
  mask: tf.Tensor4D;
  /** Rotary tables [B, 1, T, headDim] for the query positions, or undefined for learned positions. */
  rope?: { cos: tf.Tensor4D; sin: tf.Tensor4D };
  /** Training with dropout > 0: the seeded per-row masks (dropout.ts); undefined means no dropout. */
  dropout?: RowDropout;
}

/** RoPE tables for absolute positions [B, T] (float32). cos, sin: [B, 1, T, headDim]. */
export function rotaryTables(positions: tf.Tensor2D, headDim: number): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
  return tf.tidy(() => {
    const half = headDim / 2;
    const invFreq = tf.tensor1d(Array.from({ length: half }, (_, i) => 1 / Math.pow(10000, (2 * i) / headDim)));
    const angles = positions
      .toFloat()
      .expandDims(2)
      .mul(invFreq.reshape([1, 1, half])); // [B, T, half]
    const full = tf.concat([angles, angles], 2).expandDims(1); // [B, 1, T, headDim]
    return { cos: tf.cos(full) as tf.Tensor4D, sin: tf.sin(full) as tf.Tensor4D };
  });
}

/**
 * x·cos + rotate_half(x)·sin, with rotate_half([x1, x2]) = [-x2, x1] done as a matmul by a fixed signed
 * permutation (slicing the last axis is slow on the cpu backend). x: [B, nHead, T, headDim].
 */
function applyRotary(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  const hd = x.shape[3];
  const half = hd / 2;
  const r = new Float32Array(hd * hd); // out[j] = Σ_i x[i]·r[i][j]
  for (let j = 0; j < half; j++) r[(j + half) * hd + j] = -1; // out[j] = -x[j + half]
  for (let j = half; j < hd; j++) r[(j - half) * hd + j] = 1; // out[j] = x[j - half]
  const rotated = tf.matMul(x.reshape([-1, hd]), tf.tensor2d(r, [hd, hd])).reshape(x.shape); // [B, nHead, T, hd]
  return x.mul(cos).add(rotated.mul(sin));
}

export class CausalSelfAttention {
  readonly cAttnW: tf.Variable;
  readonly cAttnB: tf.Variable;
  readonly cProjW: tf.Variable;
  readonly cProjB: tf.Variable;

  constructor(
    store: ParamStore,
    prefix: string,
    private readonly config: ModelConfig,
    private readonly layer: number,
  ) {
    const d = config.dModel;
    this.cAttnW = store.normal(`${prefix}.c_attn.weight`, [d, 3 * d], config.initStd);
    this.cAttnB = store.zeros(`${prefix}.c_attn.bias`, [3 * d]);
    this.cProjW = store.normal(`${prefix}.c_proj.weight`, [d, d], config.initStd / Math.sqrt(2 * config.nLayer));
    this.cProjB = store.zeros(`${prefix}.c_proj.bias`, [d]);
  }

  /** x: [B, T, d] → y: [B, T, d], plus this layer's keys/values including `past`. */
  apply(x: tf.Tensor3D, ctx: AttentionContext, past?: KVEntry): { y: tf.Tensor3D; kv: KVEntry } {
    const { nHead, dModel } = this.config;
    const [B, T] = x.shape;
    const hd = dModel / nHead;
    // c_attn holds [Wq | Wk | Wv] as columns. For many rows (training, prefill) slicing the small weight
    // is cheapest (on wasm far cheaper than slicing the activation, let alone a 5-D transpose);
    // for a decode step (≤ 4 rows) one product with the whole weight and a split of its tiny output.
    const heads = (t: tf.Tensor) => t.reshape([B, T, nHead, hd]).transpose([0, 2, 1, 3]) as tf.Tensor4D; // [B, nHead, T, hd]
    let [q, k, v] =
      B * T <= 4
        ? tf.split(linear(x, this.cAttnW as tf.Tensor2D, this.cAttnB as tf.Tensor1D), 3, 2).map(heads) // [B, T, 3d] → 3 × [B, T, d]
        : [0, 1, 2].map((i) =>
            heads(
              linear(
                x,
                this.cAttnW.slice([0, i * dModel], [dModel, dModel]) as tf.Tensor2D,
                this.cAttnB.slice(i * dModel, dModel) as tf.Tensor1D,
              ),
            ),
          ); // [B, T, d] each
    if (ctx.rope) {
      q = applyRotary(q, ctx.rope.cos, ctx.rope.sin);
      k = applyRotary(k, ctx.rope.cos, ctx.rope.sin);
    }
    if (past) {
      k = tf.concat([past.k, k], 2); // [B, nHead, S, hd]
      v = tf.concat([past.v, v], 2);
    }
    let att = tf
      .matMul(q, k, false, true)
      .mul(1 / Math.sqrt(hd))
      .add(ctx.mask); // [B, nHead, T, S]
    att = tf.softmax(att, -1);
    if (ctx.dropout) att = ctx.dropout.apply(att, this.layer, 'attn-probs');
    const y = tf
      .matMul(att, v) // [B, nHead, T, hd]
      .transpose([0, 2, 1, 3]) // [B, T, nHead, hd]
      .reshape([B, T, dModel]); // [B, T, d]
    let out = linear(y, this.cProjW as tf.Tensor2D, this.cProjB as tf.Tensor1D) as tf.Tensor3D;
    if (ctx.dropout) out = ctx.dropout.apply(out, this.layer, 'attn-out') as tf.Tensor3D;
    return { y: out, kv: { k, v } };
  }
}

/**
 * Additive attention mask [B, 1, T, S] for T queries after `pastLen` cached positions (S = pastLen + T):
 * query t sees key s iff s <= pastLen + t and keyMask[b][s] (0 marks left padding).
 */
export function attentionMask(B: number, T: number, pastLen: number, keyMask?: number[][]): tf.Tensor4D {
  const S = pastLen + T;
  const data = new Float32Array(B * T * S);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let s = 0; s < S; s++) {
        const ok = s <= pastLen + t && (!keyMask || keyMask[b][s] !== 0);
        data[(b * T + t) * S + s] = ok ? 0 : -1e9;
      }
    }
  }
  return tf.tensor4d(data, [B, 1, T, S]);
}
