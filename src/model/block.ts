// One pre-norm transformer block (nanoGPT's Block): x + attn(ln_1(x)), then x + mlp(ln_2(x)), where the MLP
// is dense (mlp.ts) or a mixture of experts (moe.ts) — the residual is what carries tokens an MoE drops.
// Residual dropout on the MLP branch is applied here, after the dense MLP or after the MoE's gate-weighted
// sum (one mask per token, as for a dense MLP), so masks are indexed by batch row (dropout.ts).

import * as tf from '@tensorflow/tfjs';
import { CausalSelfAttention, type AttentionContext, type KVEntry } from './attention.js';
import { isMoELayer, type ModelConfig } from './config.js';
import { Mlp } from './mlp.js';
import { MoE, type MoEContext, type RoutingInfo } from './moe.js';
import { ParamStore, layerNorm } from '../nn/params.js';

export type BlockContext = AttentionContext & Omit<MoEContext, 'training' | 'seqLen'>;

export class Block {
  readonly ln1: { weight: tf.Variable; bias: tf.Variable };
  readonly ln2: { weight: tf.Variable; bias: tf.Variable };
  readonly attn: CausalSelfAttention;
  readonly mlp: Mlp | MoE;

  constructor(
    store: ParamStore,
    prefix: string,
    private readonly config: ModelConfig,
    private readonly layer: number,
  ) {
    const d = config.dModel;
    this.ln1 = { weight: store.ones(`${prefix}.ln_1.weight`, [d]), bias: store.zeros(`${prefix}.ln_1.bias`, [d]) };
    this.attn = new CausalSelfAttention(store, `${prefix}.attn`, config, layer);
    this.ln2 = { weight: store.ones(`${prefix}.ln_2.weight`, [d]), bias: store.zeros(`${prefix}.ln_2.bias`, [d]) };
    this.mlp = isMoELayer(config, layer)
      ? new MoE(store, `${prefix}.mlp`, config, layer)
      : new Mlp(store, `${prefix}.mlp`, config);
  }

  /** x: [B, T, d] → [B, T, d]; also this layer's KV entry, MoE aux loss and routing (if MoE). */
  apply(
    x: tf.Tensor3D,
    ctx: BlockContext,
    past?: KVEntry,
  ): { x: tf.Tensor3D; kv: KVEntry; aux?: tf.Scalar; routing?: RoutingInfo } {
    const [B, T, d] = x.shape;
    const eps = this.config.normEps;
    const a = this.attn.apply(
      layerNorm(x, this.ln1.weight as tf.Tensor1D, this.ln1.bias as tf.Tensor1D, eps) as tf.Tensor3D,
      ctx,
      past,
    );
    const h = x.add(a.y) as tf.Tensor3D;
    const hn = layerNorm(h, this.ln2.weight as tf.Tensor1D, this.ln2.bias as tf.Tensor1D, eps);
    const drop = (y: tf.Tensor) => (ctx.dropout ? ctx.dropout.apply(y, this.layer, 'mlp-out') : y); // y: [B, T, d]
    if (this.mlp instanceof Mlp) {
      return { x: h.add(drop(this.mlp.apply(hn))) as tf.Tensor3D, kv: a.kv };
    }
    const moe = this.mlp.apply(hn.reshape([B * T, d]) as tf.Tensor2D, { ...ctx, seqLen: T }); // tokens [B·T, d]
    const out = h.add(drop(moe.y.reshape([B, T, d]))) as tf.Tensor3D; // [B, T, d]
    return { x: out, kv: a.kv, aux: moe.aux, routing: moe.routing };
  }
}
