// The Vision Transformer pieces the ViT-VQGAN's encoder and decoder share (Dosovitskiy et al. 2021; Yu et
// al. 2022): affine layers, LayerNorms and pre-LN blocks with bidirectional attention, built on src/nn's
// parameter store, linear, LayerNorm and GELU (the same code as the GPT's), plus patchify/unpatchify. Unlike
// the GPT's blocks (src/model/block.ts) attention is unmasked and parameters are plain records
// `{ w, b }` / `{ gamma, beta }` whose tree paths name them in checkpoints (`encoder.blocks.0.qkv.w`).

import * as tf from '@tensorflow/tfjs';
import { gelu, layerNorm as nnLayerNorm, linear as nnLinear, type ParamStore } from '../nn/index.js';
import type { VqganConfig } from './config.js';

export interface Linear {
  w: tf.Variable;
  b: tf.Variable;
} // w: [in, out], b: [out]
export interface LayerNorm {
  gamma: tf.Variable;
  beta: tf.Variable;
} // [d]
export interface Block {
  ln1: LayerNorm;
  qkv: Linear;
  proj: Linear;
  ln2: LayerNorm;
  fc1: Linear;
  fc2: Linear;
}

/** ViT's init: truncated normal, std 0.02 unless given; biases zero. */
export function createLinear(store: ParamStore, name: string, inDim: number, outDim: number, std = 0.02): Linear {
  return { w: store.truncatedNormal(`${name}.w`, [inDim, outDim], std), b: store.zeros(`${name}.b`, [outDim]) };
}

export function createLayerNorm(store: ParamStore, name: string, d: number): LayerNorm {
  return { gamma: store.ones(`${name}.gamma`, [d]), beta: store.zeros(`${name}.beta`, [d]) };
}

export function createBlock(store: ParamStore, name: string, c: VqganConfig): Block {
  const d = c.width;
  return {
    ln1: createLayerNorm(store, `${name}.ln1`, d),
    qkv: createLinear(store, `${name}.qkv`, d, 3 * d),
    proj: createLinear(store, `${name}.proj`, d, d),
    ln2: createLayerNorm(store, `${name}.ln2`, d),
    fc1: createLinear(store, `${name}.fc1`, d, c.mlpRatio * d),
    fc2: createLinear(store, `${name}.fc2`, c.mlpRatio * d, d),
  };
}

/** x: [..., in] → [..., out]. */
export function linear(p: { w: tf.Tensor; b: tf.Tensor }, x: tf.Tensor): tf.Tensor {
  return nnLinear(x, p.w as tf.Tensor2D, p.b as tf.Tensor1D);
}

export function layerNorm(p: LayerNorm, x: tf.Tensor, eps = 1e-5): tf.Tensor {
  return nnLayerNorm(x, p.gamma as tf.Tensor1D, p.beta as tf.Tensor1D, eps);
}

/** Bidirectional multi-head self-attention; x: [B, N, d]. */
function attention(p: Block, x: tf.Tensor, heads: number): tf.Tensor {
  const [B, N, d] = x.shape as [number, number, number];
  const hd = d / heads;
  const qkv = linear(p.qkv, x); // [B, N, 3d]
  const split = (i: number) =>
    qkv
      .slice([0, 0, i * d], [B, N, d])
      .reshape([B, N, heads, hd])
      .transpose([0, 2, 1, 3]); // [B, h, N, hd]
  const q = split(0),
    k = split(1),
    v = split(2);
  const att = tf.softmax(tf.matMul(q, k, false, true).mul(1 / Math.sqrt(hd))); // [B, h, N, N]
  const y = tf.matMul(att, v).transpose([0, 2, 1, 3]).reshape([B, N, d]); // [B, N, d]
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
  return x
    .reshape([B, H / p, p, W / p, p, C])
    .transpose([0, 1, 3, 2, 4, 5])
    .reshape([B, (H / p) * (W / p), p * p * C]);
}

/** Inverse of patchify for a square grid: [B, g·g, p·p·C] → [B, g·p, g·p, C]. */
export function unpatchify(x: tf.Tensor3D, p: number, C: number): tf.Tensor4D {
  const [B, N] = x.shape;
  const g = Math.round(Math.sqrt(N));
  return x
    .reshape([B, g, g, p, p, C])
    .transpose([0, 1, 3, 2, 4, 5])
    .reshape([B, g * p, g * p, C]) as tf.Tensor4D;
}
