// Vector quantizer with factorized, l2-normalized codes (ViT-VQGAN, Yu et al. 2022 §3.2): encoder
// outputs and codebook entries live in a low-dimensional space (codeDim, e.g. 32) and are both projected
// onto the unit sphere before the nearest-neighbour lookup, which keeps codebook usage high.
// Gradients: straight-through estimator z + sg(zq − z) (van den Oord et al. 2017), codebook loss
// ‖sg[z] − e‖² and commitment loss β‖z − sg[e]‖². Dead codes are restarted from random encoder
// outputs of the current batch; usage is reported as fraction of codes used and perplexity.

import * as tf from '@tensorflow/tfjs';
import { HyperlmError } from '../errors.js';
import { Rng, type RngState } from '../rng.js';

export interface QuantizerParams {
  codebook: tf.Variable;
} // [K, codeDim], unnormalized storage

export interface QuantizerOutput {
  zq: tf.Tensor3D; // [B, N, D] straight-through: value of the chosen code, gradient of z
  indices: tf.Tensor2D; // [B, N] int32
  codebookLoss: tf.Scalar;
  commitLoss: tf.Scalar; // already multiplied by β
  zFlat: tf.Tensor2D; // [B·N, D] normalized encoder outputs (for dead-code restarts)
}

/** Identity forward, zero gradient: tfjs has no stop_gradient op, so build one with customGrad. */
export const stopGradient: <T extends tf.Tensor>(x: T) => T = tf.customGrad(((x: tf.Tensor) => ({
  value: x.clone(),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as never) as never;

/** Straight-through estimator: forward value e, backward identity to z (and nothing to e). */
export function straightThrough<T extends tf.Tensor>(z: T, e: T): T {
  return z.add(stopGradient(e.sub(z))) as T;
}

/** x / ‖x‖ along the last axis. */
export function l2Normalize<T extends tf.Tensor>(x: T, eps = 1e-12): T {
  return x.div(tf.sqrt(x.square().sum(-1, true).add(eps))) as T;
}

/** Index of the nearest row of `codes` [K, D] for every row of `z` [M, D] under squared l2 distance. */
export function nearestCodes(codes: tf.Tensor2D, z: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const dist = z
      .square()
      .sum(1, true)
      .sub(tf.matMul(z, codes.transpose()).mul(2))
      .add(codes.square().sum(1).expandDims(0)); // [M, K]
    return tf.argMin(dist, 1) as tf.Tensor1D;
  });
}

/** Nearest-code lookup as one differentiable op: forward gather(codes, argmin dist), backward dy summed
 *  into the chosen rows of `codes` (= onehotᵀ·dy), nothing to `z`. The int32 indices are made inside the op because
 *  tfjs demands a float32 gradient for every taped tensor on a path to a variable, which gather's
 *  indices cannot provide; made here, they never enter the tape (and no GPU→CPU sync is needed). */
function nearestLookup(codes: tf.Tensor2D, z: tf.Tensor2D): { e: tf.Tensor2D; idx: tf.Tensor1D } {
  let idx: tf.Tensor1D | undefined;
  const op = tf.customGrad(((c: tf.Tensor2D, x: tf.Tensor2D, save: tf.GradSaveFunc) => {
    idx = tf.keep(nearestCodes(c, x)); // kept past the op's scope; handed to the caller's scope below
    save([idx]);
    return {
      value: tf.gather(c, idx),
      // the codebook gradient as a one-hot GEMM
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
        tf.matMul(
          tf
            .oneHot(saved[0] as tf.Tensor1D, c.shape[0])
            .toFloat()
            .transpose(),
          dy as tf.Tensor2D,
        ),
        tf.zerosLike(x),
      ],
    };
  }) as never) as (c: tf.Tensor2D, x: tf.Tensor2D) => tf.Tensor2D;
  const e = op(codes, z);
  const inner = idx as tf.Tensor1D;
  const out = inner.clone(); // tracked by the caller's tidy, unlike the kept original
  inner.dispose();
  return { e, idx: out };
}

export function createQuantizer(codebookSize: number, codeDim: number, seed: number): QuantizerParams {
  return {
    codebook: tf.variable(tf.tidy(() => l2Normalize(tf.randomNormal([codebookSize, codeDim], 0, 1, 'float32', seed)))),
  };
}

/** The codebook as used for lookup: unit rows [K, D]. */
export function normalizedCodebook(p: QuantizerParams): tf.Tensor2D {
  return l2Normalize(p.codebook as tf.Tensor2D);
}

/** z [B, N, D] (raw encoder output) → nearest unit codes with straight-through gradient and VQ losses. */
export function quantize(p: QuantizerParams, z: tf.Tensor3D, beta: number): QuantizerOutput {
  const [B, N, D] = z.shape;
  const zFlat = l2Normalize(z.reshape([B * N, D]) as tf.Tensor2D); // [B·N, D]
  const codes = normalizedCodebook(p); // [K, D]
  const { e, idx } = nearestLookup(codes, zFlat); // [B·N, D], [B·N]
  const codebookLoss = stopGradient(zFlat).sub(e).square().mean() as tf.Scalar;
  const commitLoss = zFlat.sub(stopGradient(e)).square().mean().mul(beta) as tf.Scalar;
  const zqFlat = straightThrough(zFlat, e); // [B·N, D]
  return { zq: zqFlat.reshape([B, N, D]), indices: idx.reshape([B, N]), codebookLoss, commitLoss, zFlat };
}

/** Codes [B, N] int32 → unit code vectors [B, N, D] (decoding path; no gradients needed). */
export function lookup(p: QuantizerParams, indices: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, N] = indices.shape;
    return tf.gather(normalizedCodebook(p), indices.reshape([-1])).reshape([B, N, -1]) as tf.Tensor3D;
  });
}

export interface CodeUsage {
  /** Fraction of the codebook hit at least once. */
  usedFraction: number;
  /** exp(entropy) of the code histogram: the effective number of codes in use (max = K). */
  perplexity: number;
}

export function codeUsage(indices: ArrayLike<number>, codebookSize: number): CodeUsage {
  const counts = new Float64Array(codebookSize);
  for (let i = 0; i < indices.length; i++) counts[indices[i]]++;
  let used = 0,
    entropy = 0;
  for (const c of counts) {
    if (c === 0) continue;
    used++;
    const q = c / indices.length;
    entropy -= q * Math.log(q);
  }
  return { usedFraction: used / codebookSize, perplexity: Math.exp(entropy) };
}

/** Remembers when each code was last chosen and re-seeds long-unused ones (restart, Dhariwal et al. 2020
 *  "Jukebox"; Zeghidour et al. 2021). Replacement rows are random encoder outputs of the batch. */
export class DeadCodeTracker {
  readonly lastUsed: Int32Array;
  private rng: Rng;
  constructor(
    readonly codebookSize: number,
    readonly patience: number,
    seed: number,
  ) {
    this.lastUsed = new Int32Array(codebookSize);
    this.rng = Rng.fromParts(seed, 'dead-codes');
  }

  /** Restart bookkeeping for checkpoints: last-used step per code and the generator state. */
  getState(): { lastUsed: number[]; rng: RngState } {
    return { lastUsed: Array.from(this.lastUsed), rng: this.rng.getState() };
  }

  setState(state: { lastUsed: number[]; rng: RngState | number }): void {
    if (!Array.isArray(state?.lastUsed) || state.lastUsed.length !== this.codebookSize) {
      throw new HyperlmError(
        'CHECKPOINT_CORRUPT',
        `dead-code tracker state: needs lastUsed[${this.codebookSize}] and an rng state`,
      );
    }
    this.lastUsed.set(state.lastUsed);
    // a checkpoint from before the shared Rng stored one 32-bit word: continue from a stream seeded by it
    this.rng = typeof state.rng === 'number' ? Rng.fromParts(state.rng, 'dead-codes') : Rng.fromState(state.rng);
  }

  /** Marks `indices` used at `step`; restarts codes unused for `patience` steps. Returns how many. */
  update(p: QuantizerParams, indices: ArrayLike<number>, zFlat: tf.Tensor2D, step: number): number {
    for (let i = 0; i < indices.length; i++) this.lastUsed[indices[i]] = step;
    if (this.patience <= 0) return 0;
    const dead: number[] = [];
    for (let k = 0; k < this.codebookSize; k++) if (step - this.lastUsed[k] >= this.patience) dead.push(k);
    if (dead.length === 0) return 0;
    const rows = zFlat.shape[0];
    const src = dead.map(() => this.rng.int(rows));
    tf.tidy(() => {
      const mask = tf
        .scatterND(tf.tensor2d(dead, [dead.length, 1], 'int32'), tf.ones([dead.length]), [this.codebookSize])
        .expandDims(1); // [K, 1]
      const fresh = tf.scatterND(
        tf.tensor2d(dead, [dead.length, 1], 'int32'),
        tf.gather(zFlat, tf.tensor1d(src, 'int32')),
        p.codebook.shape as number[],
      ); // [K, D]
      p.codebook.assign(tf.where(mask.cast('bool').tile([1, p.codebook.shape[1] as number]), fresh, p.codebook));
    });
    for (const k of dead) this.lastUsed[k] = step;
    return dead.length;
  }
}
