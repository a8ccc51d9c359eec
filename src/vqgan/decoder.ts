// ViT-VQGAN decoder, the mirror of encoder.ts: quantized codes → linear up-projection + learned positions
// → pre-LN transformer blocks → LayerNorm → linear "to pixels" head → unpatchify.
// The head is split out (`decoderHead`) because it is G_L, the last layer on which the adaptive GAN
// weight of Esser et al. (eq. 7) is measured; losses.ts needs its input features and weight.

import * as tf from '@tensorflow/tfjs';
import type { VqganConfig } from './config.js';
import type { ParamStore } from '../nn/index.js';
import {
  block,
  createBlock,
  createLayerNorm,
  createLinear,
  layerNorm,
  linear,
  unpatchify,
  type Block,
  type LayerNorm,
  type Linear,
} from './vit.js';

export interface DecoderParams {
  fromCode: Linear;
  pos: tf.Variable;
  blocks: Block[];
  lnOut: LayerNorm;
  toPixels: Linear;
}

export function createDecoder(c: VqganConfig, store: ParamStore): DecoderParams {
  const n = (c.internalResolution / c.patchSize) ** 2;
  return {
    // Fan-in scale, not ViT's 0.02: the straight-through gradient reaching the encoder is this weight
    // times the decoder's gradient; at 0.02 it was far weaker than the commitment pull and the codebook
    // collapsed to a handful of codes within a few steps on web images (cpu-small).
    fromCode: createLinear(store, 'decoder.fromCode', c.codeDim, c.width, 1 / Math.sqrt(c.codeDim)),
    pos: store.truncatedNormal('decoder.pos', [n, c.width], 0.02),
    blocks: Array.from({ length: c.decoderLayers }, (_, i) => createBlock(store, `decoder.blocks.${i}`, c)),
    lnOut: createLayerNorm(store, 'decoder.lnOut', c.width),
    toPixels: createLinear(store, 'decoder.toPixels', c.width, c.patchSize * c.patchSize * 3),
  };
}

/** zq [B, N, codeDim] → features [B, N, width] feeding the last layer. */
export function decoderTrunk(p: DecoderParams, c: VqganConfig, zq: tf.Tensor3D): tf.Tensor3D {
  let h = linear(p.fromCode, zq).add(p.pos); // [B, N, d]
  for (const b of p.blocks) h = block(b, h, c.heads);
  return layerNorm(p.lnOut, h) as tf.Tensor3D;
}

/** Last layer G_L: features [B, N, width] → images [B, R, R, 3] (unbounded; ≈ [-1,1] once trained). */
/** Takes the head's weights explicitly so losses.ts can differentiate with respect to them. */
export function decoderHead(head: { w: tf.Tensor; b: tf.Tensor }, c: VqganConfig, features: tf.Tensor3D): tf.Tensor4D {
  return unpatchify(linear(head, features) as tf.Tensor3D, c.patchSize, 3); // [B, R, R, 3]
}

export function decoderForward(p: DecoderParams, c: VqganConfig, zq: tf.Tensor3D): tf.Tensor4D {
  return decoderHead(p.toPixels, c, decoderTrunk(p, c, zq));
}
