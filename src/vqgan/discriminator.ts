// PatchGAN discriminator (Isola et al. 2017, as used by taming-transformers' NLayerDiscriminator):
// stride-2 4×4 convolutions with LeakyReLU(0.2), channels doubling per layer, then a 3×3 conv to one
// logit per patch. Normalization layers are left out (batch norm couples samples and has running state
// to checkpoint); a fan-in scaled init keeps activations O(1) instead. Unlike the ViT generator this is
// convolutional: a small, local critic of texture is what the adversarial term is for.

import * as tf from '@tensorflow/tfjs';
import type { VqganConfig } from './config.js';
import type { ParamStore } from '../nn/index.js';

export interface Conv {
  w: tf.Variable;
  b: tf.Variable;
} // w: [k, k, in, out]
export interface DiscriminatorParams {
  convs: Conv[];
}

export function createDiscriminator(c: VqganConfig, store: ParamStore): DiscriminatorParams {
  const convs: Conv[] = [];
  let cin = 3;
  for (let i = 0; i < c.discLayers; i++) {
    const cout = c.discChannels * 2 ** i;
    const name = `discriminator.convs.${convs.length}`;
    convs.push({
      w: store.truncatedNormal(`${name}.w`, [4, 4, cin, cout], Math.sqrt(2 / (16 * cin))),
      b: store.zeros(`${name}.b`, [cout]),
    });
    cin = cout;
  }
  const name = `discriminator.convs.${convs.length}`;
  convs.push({
    w: store.truncatedNormal(`${name}.w`, [3, 3, cin, 1], Math.sqrt(1 / (9 * cin))),
    b: store.zeros(`${name}.b`, [1]),
  });
  return { convs };
}

/** images [B, R, R, 3] → patch logits [B, R/2^L, R/2^L, 1]. */
export function discriminatorForward(p: DiscriminatorParams, images: tf.Tensor4D): tf.Tensor4D {
  let h: tf.Tensor4D = images;
  p.convs.forEach((conv, i) => {
    const last = i === p.convs.length - 1;
    h = tf.conv2d(h, conv.w as tf.Tensor4D, last ? 1 : 2, 'same').add(conv.b);
    if (!last) h = tf.leakyRelu(h, 0.2);
  });
  return h;
}
