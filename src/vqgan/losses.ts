// VQGAN losses as pure functions of tensors (Esser et al. 2021, "Taming Transformers", §3.1):
// reconstruction (L1 + L2 in [-1,1] pixel units), hinge adversarial losses for generator and
// discriminator, and the adaptive weight λ = ‖∇_{G_L} L_rec‖ / (‖∇_{G_L} L_GAN‖ + δ) of eq. 7, measured on
// the last decoder layer. There is NO perceptual (LPIPS) term: it needs pretrained VGG weights we cannot
// download, so sharpness comes from the L1 term and the adversarial term alone.
// The quantizer's codebook/commitment losses live in quantizer.ts next to the lookup they regularize.

import * as tf from '@tensorflow/tfjs';
import type { VqganConfig } from './config.js';
import { stopGradient } from './quantizer.js';

export interface ReconstructionLoss {
  l1: tf.Scalar;
  l2: tf.Scalar;
  total: tf.Scalar;
}

/** x, y: [B, R, R, 3] in [-1,1]. total = l1Weight·mean|x−y| + l2Weight·mean(x−y)². */
export function reconstructionLoss(c: VqganConfig, x: tf.Tensor4D, y: tf.Tensor4D): ReconstructionLoss {
  const diff = x.sub(y);
  const l1 = diff.abs().mean() as tf.Scalar;
  const l2 = diff.square().mean() as tf.Scalar;
  return { l1, l2, total: l1.mul(c.l1Weight).add(l2.mul(c.l2Weight)) };
}

/** Hinge loss of the discriminator (Lim & Ye 2017): ½(E[relu(1 − D(x))] + E[relu(1 + D(x̂))]). */
export function discriminatorHingeLoss(realLogits: tf.Tensor, fakeLogits: tf.Tensor): tf.Scalar {
  return tf
    .relu(tf.sub(1, realLogits))
    .mean()
    .add(tf.relu(tf.add(1, fakeLogits)).mean())
    .mul(0.5) as tf.Scalar;
}

/** Generator side of the hinge GAN: −E[D(x̂)]. */
export function generatorAdversarialLoss(fakeLogits: tf.Tensor): tf.Scalar {
  return fakeLogits.mean().neg() as tf.Scalar;
}

/** A copy with no history, for the nested gradient pass of eq. 7 that runs inside the generator's tape.
 *  stopGradient is not enough there: its node still links the inner backward ops (e.g. LeakyReLU's
 *  `Greater`, which has no gradient) to the watched variables, and tfjs then tries to differentiate them.
 *  Costs a device→host copy of the last layer's input (B·N·width floats), a memcpy on CPU/WASM. */
export function offTape<T extends tf.Tensor>(t: T): T {
  return tf.tensor(t.dataSync(), t.shape, t.dtype) as T;
}

/** ‖∂loss/∂w‖ at w; w and everything `loss` closes over must be off the outer tape (see offTape). */
export function lastLayerGradNorm(loss: (w: tf.Tensor) => tf.Scalar, w: tf.Tensor): tf.Scalar {
  return tf.grad(loss)(w).norm() as tf.Scalar;
}

/** Eq. 7: λ = ‖∇L_rec‖ / (‖∇L_GAN‖ + 1e-4), clamped to [0, max] and detached (a weight, not a path). */
export function adaptiveWeight(recGradNorm: tf.Scalar, ganGradNorm: tf.Scalar, max: number): tf.Scalar {
  return stopGradient(recGradNorm.div(ganGradNorm.add(1e-4)).clipByValue(0, max) as tf.Scalar);
}
