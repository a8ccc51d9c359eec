// ViT-VQGAN encoder (Yu et al. 2022, "Vector-quantized image modeling with improved VQGAN"):
// image → non-overlapping patches → linear patch embedding + learned positions → pre-LN transformer
// blocks (vit.ts) → LayerNorm → linear projection to the low-dimensional code space (the factorized
// lookup). decoder.ts is its mirror image.

import * as tf from '@tensorflow/tfjs';
import type { ParamStore } from '../nn/index.js';
import type { VqganConfig } from './config.js';
import {
  block,
  createBlock,
  createLayerNorm,
  createLinear,
  layerNorm,
  linear,
  patchify,
  type Block,
  type LayerNorm,
  type Linear,
} from './vit.js';

export interface EncoderParams {
  patchEmbed: Linear;
  pos: tf.Variable;
  blocks: Block[];
  lnOut: LayerNorm;
  toCode: Linear;
}

export function createEncoder(c: VqganConfig, store: ParamStore): EncoderParams {
  const n = (c.internalResolution / c.patchSize) ** 2;
  return {
    patchEmbed: createLinear(store, 'encoder.patchEmbed', c.patchSize * c.patchSize * 3, c.width),
    pos: store.truncatedNormal('encoder.pos', [n, c.width], 0.02),
    blocks: Array.from({ length: c.encoderLayers }, (_, i) => createBlock(store, `encoder.blocks.${i}`, c)),
    lnOut: createLayerNorm(store, 'encoder.lnOut', c.width),
    toCode: createLinear(store, 'encoder.toCode', c.width, c.codeDim),
  };
}

/** images [B, R, R, 3] in [-1,1] at internal resolution → z [B, N, codeDim] (not yet normalized). */
export function encoderForward(p: EncoderParams, c: VqganConfig, images: tf.Tensor4D): tf.Tensor3D {
  let h = linear(p.patchEmbed, patchify(images, c.patchSize)).add(p.pos); // [B, N, d]
  for (const b of p.blocks) h = block(b, h, c.heads);
  return linear(p.toCode, layerNorm(p.lnOut, h)) as tf.Tensor3D; // [B, N, codeDim]
}
