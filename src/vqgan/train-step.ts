// One VQGAN optimization step taken apart (Esser et al. 2021's objective), so that the same maths serves a
// whole batch in this thread (Vqgan.trainStep) and a batch split over data-parallel worker replicas
// (replica.ts computes the gradients of its slice, step-workers.ts sums them and applies the update in the
// main thread): stepGradients (nothing updated), adaptiveWeightGrads (the two last-layer gradients whose
// norms give λ of eq. 7, so a split batch computes λ from sums over slices) and applyStep (both Adam
// updates, then the dead-code restart).

import * as tf from '@tensorflow/tfjs';
import { HyperlmError } from '../errors.js';
import type { VqganConfig } from './config.js';
import { decoderHead, decoderTrunk } from './decoder.js';
import { discriminatorForward } from './discriminator.js';
import { encoderForward } from './encoder.js';
import {
  adaptiveWeight,
  discriminatorHingeLoss,
  generatorAdversarialLoss,
  lastLayerGradNorm,
  offTape,
  reconstructionLoss,
} from './losses.js';
import { quantize, stopGradient } from './quantizer.js';
import type { Vqgan } from './vqgan.js';

/** The loss terms of one step (of the whole batch, or of one slice before weighting). */
export interface LossParts {
  /** Total generator objective that was minimized. */
  loss: number;
  l1: number;
  l2: number;
  codebookLoss: number;
  commitLoss: number;
  /** Generator hinge loss −E[D(x̂)] (0 before discStart). */
  ganLoss: number;
  /** Discriminator hinge loss (0 before discStart). */
  discLoss: number;
  /** Adaptive weight λ of Esser et al. eq. 7 (0 before discStart). */
  adaptiveWeight: number;
}

export interface StepGradients {
  /** d(share·L_G)/d(generator variables), keyed by tf variable name as tf.variableGrads returns them. */
  generator: tf.NamedTensorMap;
  /** d(share·L_D)/d(discriminator variables); undefined before discStart. */
  discriminator?: tf.NamedTensorMap;
  /** Unweighted loss terms of these images. */
  parts: LossParts;
  /** Chosen code per patch, [B·N] row-major over images then patches. */
  indices: Int32Array;
  /** l2-normalized encoder outputs [B·N, codeDim], the dead-code restart's candidates. */
  zFlat: tf.Tensor2D;
}

export interface StepGradientOptions {
  /** This slice's share of the batch (its images / the batch's): the losses are means, so the slices'
   *  share-weighted gradients sum to the whole batch's. 1 for a whole batch. */
  share?: number;
  /** λ computed over the whole batch (step-workers.ts); without it λ is measured on these images. */
  lambda?: number;
}

/** Whether `step` (0-based) trains the discriminator and adds the adversarial term. */
export function ganActive(c: VqganConfig, step: number): boolean {
  return c.ganWeight > 0 && step >= c.discStart;
}

/**
 * Gradients and loss parts of one step on internal-resolution images x [B, r, r, 3] (not disposed here):
 * of share·L_G (generator) and share·L_D (discriminator), with the chosen codes and encoder outputs.
 * The discriminator's gradient depends only on its own weights, the real images and the (pre-update)
 * reconstructions, so computing it before the generator update gives the same step as after.
 */
export function stepGradients(
  model: Vqgan,
  x: tf.Tensor4D,
  step: number,
  opts: StepGradientOptions = {},
): StepGradients {
  const c = model.config;
  const share = opts.share ?? 1;
  const useGan = ganActive(c, step);
  const kept: Record<string, tf.Tensor> = {};
  const keep = (name: string, t: tf.Tensor) => {
    kept[name] = tf.keep(t);
  };
  const scaled = (t: tf.Scalar) => (share === 1 ? t : (t.mul(share) as tf.Scalar));
  const gen = tf.variableGrads(() => {
    const q = quantize(model.quantizer, encoderForward(model.encoder, c, x), c.beta);
    const feats = decoderTrunk(model.decoder, c, q.zq);
    const y = decoderHead(model.decoder.toPixels, c, feats);
    const rec = reconstructionLoss(c, x, y);
    let total = rec.total.add(q.codebookLoss).add(q.commitLoss);
    if (useGan) {
      const ganLoss = generatorAdversarialLoss(discriminatorForward(model.discriminator, y));
      let lambda: tf.Scalar;
      if (opts.lambda !== undefined) lambda = tf.scalar(opts.lambda);
      else {
        const fd = offTape(feats),
          b = offTape(model.decoder.toPixels.b),
          w0 = offTape(model.decoder.toPixels.w);
        const head = (w: tf.Tensor) => decoderHead({ w, b }, c, fd);
        lambda = adaptiveWeight(
          lastLayerGradNorm((w) => reconstructionLoss(c, x, head(w)).total, w0),
          lastLayerGradNorm((w) => generatorAdversarialLoss(discriminatorForward(model.discriminator, head(w))), w0),
          c.maxAdaptiveWeight,
        );
      }
      total = total.add(ganLoss.mul(lambda).mul(c.ganWeight));
      keep('ganLoss', ganLoss);
      keep('lambda', lambda);
      keep('fake', stopGradient(y));
    }
    keep('total', total);
    keep('l1', rec.l1);
    keep('l2', rec.l2);
    keep('cb', q.codebookLoss);
    keep('commit', q.commitLoss);
    keep('indices', q.indices);
    keep('zFlat', stopGradient(q.zFlat));
    return scaled(total as tf.Scalar);
  }, model.generatorVariables());
  const loss = kept.total.dataSync()[0];
  if (gen.value !== kept.total) gen.value.dispose(); // with share 1 they are the same tensor
  if (!Number.isFinite(loss)) {
    tf.dispose([...Object.values(gen.grads), ...Object.values(kept)]);
    throw new HyperlmError('TRAIN_NON_FINITE', `vqgan: generator loss is ${loss} at step ${step}`);
  }
  let discriminator: tf.NamedTensorMap | undefined;
  if (useGan) {
    const fake = kept.fake as tf.Tensor4D;
    const d = tf.variableGrads(() => {
      const l = discriminatorHingeLoss(
        discriminatorForward(model.discriminator, x),
        discriminatorForward(model.discriminator, fake),
      );
      keep('disc', l);
      return scaled(l);
    }, model.discriminatorVariables());
    if (d.value !== kept.disc) d.value.dispose();
    discriminator = d.grads;
  }
  const scalar = (name: string) => (kept[name] ? kept[name].dataSync()[0] : 0);
  const parts: LossParts = {
    loss,
    l1: scalar('l1'),
    l2: scalar('l2'),
    codebookLoss: scalar('cb'),
    commitLoss: scalar('commit'),
    ganLoss: scalar('ganLoss'),
    discLoss: scalar('disc'),
    adaptiveWeight: scalar('lambda'),
  };
  const indices = Int32Array.from(kept.indices.dataSync() as Int32Array);
  const zFlat = kept.zFlat as tf.Tensor2D;
  tf.dispose(
    Object.entries(kept)
      .filter(([k]) => k !== 'zFlat')
      .map(([, t]) => t),
  );
  return { generator: gen.grads, discriminator, parts, indices, zFlat };
}

/** ∇ of the reconstruction loss and of the generator's adversarial loss with respect to the decoder's
 *  last layer (decoder.toPixels.w), flattened, on images x [B, r, r, 3]: eq. 7's two gradients. The
 *  losses are means, so the batch's gradients are the share-weighted sums of its slices' ones. */
export function adaptiveWeightGrads(model: Vqgan, x: tf.Tensor4D): { rec: Float32Array; gan: Float32Array } {
  const c = model.config;
  const [rec, gan] = tf.tidy(() => {
    const feats = decoderTrunk(
      model.decoder,
      c,
      quantize(model.quantizer, encoderForward(model.encoder, c, x), c.beta).zq,
    );
    const b = model.decoder.toPixels.b;
    const head = (w: tf.Tensor) => decoderHead({ w, b }, c, feats);
    const w0 = model.decoder.toPixels.w;
    return [
      tf.grad((w: tf.Tensor) => reconstructionLoss(c, x, head(w)).total)(w0),
      tf.grad((w: tf.Tensor) => generatorAdversarialLoss(discriminatorForward(model.discriminator, head(w))))(w0),
    ];
  });
  const out = { rec: rec.dataSync() as Float32Array, gan: gan.dataSync() as Float32Array };
  tf.dispose([rec, gan]);
  return out;
}

/** Eq. 7 from the batch's two last-layer gradients: ‖∇L_rec‖ / (‖∇L_GAN‖ + 1e-4), clamped to [0, max]
 *  (losses.ts adaptiveWeight, here on host arrays summed over slices). */
export function adaptiveWeightFrom(
  rec: Float64Array | Float32Array,
  gan: Float64Array | Float32Array,
  max: number,
): number {
  let r = 0,
    g = 0;
  for (let i = 0; i < rec.length; i++) {
    r += rec[i] * rec[i];
    g += gan[i] * gan[i];
  }
  return Math.fround(Math.min(max, Math.max(0, Math.fround(Math.sqrt(r)) / (Math.fround(Math.sqrt(g)) + 1e-4))));
}

/** Both Adam updates, then the dead-code restart; returns the number of codes restarted. */
export function applyStep(
  model: Vqgan,
  g: Pick<StepGradients, 'generator' | 'discriminator' | 'indices' | 'zFlat'>,
  step: number,
): number {
  model.generatorOptimizer.applyGradients(g.generator as never); // tfjs types want NamedVariableMap
  if (g.discriminator) model.discriminatorOptimizer.applyGradients(g.discriminator as never);
  return model.deadCodes.update(model.quantizer, g.indices, g.zFlat, step);
}

/** Frees the tensors of a StepGradients. */
export function disposeStepGradients(g: Pick<StepGradients, 'generator' | 'discriminator' | 'zFlat'>): void {
  tf.dispose([...Object.values(g.generator), ...Object.values(g.discriminator ?? {}), g.zFlat]);
}
