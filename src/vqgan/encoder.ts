// ViT-VQGAN encoder (Yu et al. 2022, "Vector-quantized image modeling with improved VQGAN"):
// image → non-overlapping patches → linear patch embedding + learned positions → pre-LN transformer
// blocks → LayerNorm → linear projection to the low-dimensional code space (the factorized lookup).
// It also holds the ViT building blocks (seeded init, linear, LayerNorm, GELU, attention, block,
// patchify/unpatchify) that decoder.ts reuses, so the two sides stay mirror images of one another.

import * as tf from '@tensorflow/tfjs';
import type { VqganConfig } from './config.js';

export interface Linear { w: tf.Variable; b: tf.Variable } // w: [in, out], b: [out]
export interface LayerNorm { gamma: tf.Variable; beta: tf.Variable } // [d]
export interface Block { ln1: LayerNorm; qkv: Linear; proj: Linear; ln2: LayerNorm; fc1: Linear; fc2: Linear }
export interface EncoderParams { patchEmbed: Linear; pos: tf.Variable; blocks: Block[]; lnOut: LayerNorm; toCode: Linear }

/** Deterministic parameter factory: the n-th tensor drawn from seed s is always the same. */
export class ParamInit {
  private count = 0;
  constructor(private readonly seed: number) {}
  /** Truncated normal (ViT's init, std 0.02 unless given). */
  normal(shape: number[], std = 0.02): tf.Variable {
    // +1: tfjs treats seed 0 as "no seed" (Math.random), which made seed-0 models non-reproducible.
    const s = this.seed * 7919 + this.count++ + 1;
    return tf.variable(tf.tidy(() => tf.truncatedNormal(shape, 0, std, 'float32', s)));
  }
  constant(shape: number[], value: number): tf.Variable {
    this.count++;
    return tf.variable(tf.fill(shape, value));
  }
  linear(inDim: number, outDim: number, std = 0.02): Linear {
    return { w: this.normal([inDim, outDim], std), b: this.constant([outDim], 0) };
  }
  layerNorm(d: number): LayerNorm {
    return { gamma: this.constant([d], 1), beta: this.constant([d], 0) };
  }
  block(c: VqganConfig): Block {
    const d = c.width;
    return {
      ln1: this.layerNorm(d), qkv: this.linear(d, 3 * d), proj: this.linear(d, d),
      ln2: this.layerNorm(d), fc1: this.linear(d, c.mlpRatio * d), fc2: this.linear(c.mlpRatio * d, d),
    };
  }
}

/** Swap the last two axes. */
export function swapLast(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  [perm[t.rank - 2], perm[t.rank - 1]] = [perm[t.rank - 1], perm[t.rank - 2]];
  return t.transpose(perm);
}

/** a·b (rank 2, or equal leading batch dims) whose gradient transposes explicitly: tfjs's MatMul
 *  gradient multiplies by transposed operands, which the WASM backend runs ~30× slower than a transpose
 *  followed by a plain matmul (measured, 2 threads: [512,1024]ᵀ·[512,256] 443 ms vs 14 ms). */
export const matMul: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, [sa, sb]: tf.Tensor[]) => [tf.matMul(dy, swapLast(sb)), tf.matMul(swapLast(sa), dy)],
  };
}) as never) as never;

/** x: [..., in] → [..., out]. */
export function linear(p: { w: tf.Tensor; b: tf.Tensor }, x: tf.Tensor): tf.Tensor {
  const shape = x.shape as number[];
  const y = matMul(x.reshape([-1, shape[shape.length - 1]]), p.w).add(p.b); // [rows, out]
  return y.reshape([...shape.slice(0, -1), p.w.shape[1] as number]);
}

export function layerNorm(p: LayerNorm, x: tf.Tensor, eps = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return x.sub(mean).mul(tf.rsqrt(variance.add(eps))).mul(p.gamma).add(p.beta);
}

/** GELU, tanh approximation (Hendrycks & Gimpel 2016); tfjs has no fused kernel. */
export function gelu(x: tf.Tensor): tf.Tensor {
  const inner = x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
  return x.mul(0.5).mul(tf.tanh(inner).add(1));
}

/** Bidirectional multi-head self-attention; x: [B, N, d]. */
function attention(p: Block, x: tf.Tensor, heads: number): tf.Tensor {
  const [B, N, d] = x.shape as [number, number, number];
  const hd = d / heads;
  const qkv = linear(p.qkv, x); // [B, N, 3d]
  const split = (i: number) => qkv.slice([0, 0, i * d], [B, N, d]).reshape([B, N, heads, hd]).transpose([0, 2, 1, 3]); // [B, h, N, hd]
  const q = split(0), k = split(1), v = split(2);
  const att = tf.softmax(matMul(q, swapLast(k)).mul(1 / Math.sqrt(hd))); // [B, h, N, N]
  const y = matMul(att, v).transpose([0, 2, 1, 3]).reshape([B, N, d]); // [B, N, d]
  return linear(p.proj, y);
}

/** Pre-LN transformer block; x: [B, N, d] → [B, N, d]. */
export function block(p: Block, x: tf.Tensor, heads: number): tf.Tensor {
  const h = x.add(attention(p, layerNorm(p.ln1, x), heads));
  return h.add(linear(p.fc2, gelu(linear(p.fc1, layerNorm(p.ln2, h)))));
}

/** [B, H, W, C] → [B, (H/p)(W/p), p·p·C], patches in row-major order, pixels HWC inside a patch. */
export function patchify(x: tf.Tensor4D, p: number): tf.Tensor3D {
  const [B, H, W, C] = x.shape;
  return x.reshape([B, H / p, p, W / p, p, C]).transpose([0, 1, 3, 2, 4, 5]).reshape([B, (H / p) * (W / p), p * p * C]);
}

/** Inverse of patchify for a square grid: [B, g·g, p·p·C] → [B, g·p, g·p, C]. */
export function unpatchify(x: tf.Tensor3D, p: number, C: number): tf.Tensor4D {
  const [B, N] = x.shape;
  const g = Math.round(Math.sqrt(N));
  return x.reshape([B, g, g, p, p, C]).transpose([0, 1, 3, 2, 4, 5]).reshape([B, g * p, g * p, C]) as tf.Tensor4D;
}

export function createEncoder(c: VqganConfig, init: ParamInit): EncoderParams {
  const n = (c.internalResolution / c.patchSize) ** 2;
  return {
    patchEmbed: init.linear(c.patchSize * c.patchSize * 3, c.width),
    pos: init.normal([n, c.width]),
    blocks: Array.from({ length: c.encoderLayers }, () => init.block(c)),
    lnOut: init.layerNorm(c.width),
    toCode: init.linear(c.width, c.codeDim),
  };
}

/** images [B, R, R, 3] in [-1,1] at internal resolution → z [B, N, codeDim] (not yet normalized). */
export function encoderForward(p: EncoderParams, c: VqganConfig, images: tf.Tensor4D): tf.Tensor3D {
  let h = linear(p.patchEmbed, patchify(images, c.patchSize)).add(p.pos); // [B, N, d]
  for (const b of p.blocks) h = block(b, h, c.heads);
  return linear(p.toCode, layerNorm(p.lnOut, h)) as tf.Tensor3D; // [B, N, codeDim]
}
