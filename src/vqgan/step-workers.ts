// VQGAN training steps split over N data-parallel worker threads, each with its own tfjs engine and WASM
// backend holding a replica (src/backend/data-parallel.ts + replica.ts) — the image twin of
// src/model/gradient-workers.ts. Unlike the LM's, a GAN step needs λ of the whole batch first, so the GAN
// phase costs one extra round. Optimizer state, restart bookkeeping and data position never leave this
// thread: checkpoints and exact resume do not depend on the worker count, and the losses equal
// Vqgan.trainStep's on the whole batch up to float summation order.

import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { DataParallel } from '../backend/data-parallel.js';
import type { BackendChoice } from '../backend/select.js';
import { HyperlmError } from '../errors.js';
import { flatten, type ParamLayout } from '../train/flat-params.js';
import { ReplicaSet, sliceRanges } from '../train/replicas.js';
import { codeUsage } from './quantizer.js';
import type { VqganAdaptiveRequest, VqganReplicaInit, VqganSlice, VqganSliceInfo } from './replica.js';
import { adaptiveWeightFrom, applyStep, ganActive, type LossParts } from './train-step.js';
import type { TrainStepResult, Vqgan } from './vqgan.js';

/**
 * The batch's images are cut into N contiguous slices; per step:
 *   1. GAN phase only: every worker returns its slice's two last-layer gradients of eq. 7
 *      (train-step.ts adaptiveWeightGrads); this thread sums them weighted by slice share and computes λ
 *      of the whole batch. Costs one extra generator forward per worker in that phase — the price of a λ
 *      that does not depend on how the batch was split.
 *   2. every worker returns the gradient of share·L_G and share·L_D of its slice with that λ;
 *      DataParallel sums them in slot order, so the sum is the whole batch's gradient.
 *   3. this thread's Vqgan — the model of record that checkpoints and evaluation read — takes both Adam
 *      steps and the dead-code restart (from the batch's codes and encoder outputs, gathered from the
 *      workers in batch order), then its params are broadcast; replicas hold this thread's bytes.
 */
export class VqganWorkers extends ReplicaSet {
  private constructor(
    dp: DataParallel,
    layout: ParamLayout,
    private readonly model: Vqgan,
  ) {
    super(dp, layout);
  }

  /** Starts `workers` replicas of `model` (same config and seed) and loads the model's current params into them. */
  static async start(
    model: Vqgan,
    seed: number,
    workers: number,
    backend: BackendChoice = 'wasm',
  ): Promise<VqganWorkers> {
    const init: VqganReplicaInit = { model: model.config, seed };
    const { dp, layout } = await ReplicaSet.open(
      fileURLToPath(new URL('./replica.js', import.meta.url)),
      init,
      model.params(),
      workers,
      backend,
    );
    return new VqganWorkers(dp, layout, model);
  }

  /** One training step on `rows` images [rows, R, R, 3] in [-1, 1] (what Vqgan.trainStep does with the whole batch). */
  async step(pixels: Float32Array, rows: number, step: number): Promise<TrainStepResult> {
    const n = this.dp.workers,
      c = this.model.config,
      R = this.model.resolution,
      per = R * R * 3;
    if (!Number.isInteger(rows) || rows < n || pixels.length !== rows * per) {
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `vqgan workers: a step needs at least ${n} images of ${R}×${R}×3 (one per worker), got ${rows} (${pixels.length} values)`,
      );
    }
    // Contiguous slices in batch order; .slice copies (posting a subarray would clone the whole buffer).
    const slices = sliceRanges(rows, n).map(([lo, hi]) => ({
      pixels: pixels.slice(lo * per, hi * per),
      rows: hi - lo,
      share: (hi - lo) / rows,
    }));
    const useGan = ganActive(c, step);
    let lambda: number | undefined;
    if (useGan) {
      const stats = (await this.dp.map(
        slices.map((s): VqganAdaptiveRequest => ({ pixels: s.pixels, rows: s.rows })),
      )) as Array<{ rec: Float32Array; gan: Float32Array }>;
      const rec = new Float64Array(stats[0].rec.length),
        gan = new Float64Array(stats[0].gan.length);
      stats.forEach((s, i) => {
        const w = slices[i].share;
        for (let j = 0; j < rec.length; j++) {
          rec[j] += w * s.rec[j];
          gan[j] += w * s.gan[j];
        }
      });
      lambda = adaptiveWeightFrom(rec, gan, c.maxAdaptiveWeight);
    }
    const r = await this.dp.gradients(slices.map((s): VqganSlice => ({ ...s, step, lambda })));
    const infos = r.infos as VqganSliceInfo[];
    const weighted = (k: keyof LossParts) => infos.reduce((a, info, i) => a + slices[i].share * info.parts[k], 0);
    const parts: LossParts = {
      loss: weighted('loss'),
      l1: weighted('l1'),
      l2: weighted('l2'),
      codebookLoss: weighted('codebookLoss'),
      commitLoss: weighted('commitLoss'),
      ganLoss: weighted('ganLoss'),
      discLoss: weighted('discLoss'),
      adaptiveWeight: lambda ?? 0,
    };
    if (!Number.isFinite(parts.loss))
      throw new HyperlmError('TRAIN_NON_FINITE', `vqgan: generator loss is ${parts.loss} at step ${step}`);

    const indices = new Int32Array(infos.reduce((a, info) => a + info.indices.length, 0));
    const zRows = new Float32Array(infos.reduce((a, info) => a + info.zFlat.length, 0));
    let at = 0,
      zAt = 0;
    for (const info of infos) {
      indices.set(info.indices, at);
      at += info.indices.length;
      zRows.set(info.zFlat, zAt);
      zAt += info.zFlat.length;
    }
    const params = this.model.params();
    const generator: tf.NamedTensorMap = {},
      discriminator: tf.NamedTensorMap = {};
    this.layout.names.forEach((name, i) => {
      const isDisc = name.startsWith('discriminator.');
      if (isDisc && !useGan) return;
      const o = this.layout.offsets[i];
      (isDisc ? discriminator : generator)[params.get(name)!.name] = tf.tensor(
        r.grads.slice(o, o + this.layout.sizes[i]),
        this.layout.shapes[i],
        'float32',
      );
    });
    const zFlat = tf.tensor2d(zRows, [indices.length, c.codeDim]);
    let restarted: number;
    try {
      restarted = applyStep(
        this.model,
        { generator, discriminator: useGan ? discriminator : undefined, indices, zFlat },
        step,
      );
    } finally {
      tf.dispose([...Object.values(generator), ...Object.values(discriminator), zFlat]);
    }
    await this.broadcast();
    return { step, ...parts, restarted, usage: codeUsage(indices, c.codebookSize) };
  }

  /** This thread's params to every replica. */
  private async broadcast(): Promise<void> {
    await this.setParams(flatten(this.layout, this.model.params() as Map<string, tf.Tensor>));
  }
}
