// Counter-based dropout: every mask is a pure function of (seed, global batch row, layer, site), so a
// training step's masks are reproduced exactly by a resumed run (nothing to checkpoint beyond the step and
// the run seed) and by any data-parallel split of the batch (a slice passes the global index of its first
// row). Unlike tf.dropout, whose one seed covers the whole tensor, row b gets its own xoshiro128** stream
// (src/rng.ts); the mask is applied as tf.dropout does: x · keep / (1 - rate).

import * as tf from '@tensorflow/tfjs';
import { HyperlmError } from '../errors.js';
import { Rng, seedFrom } from '../rng.js';

/** Where in the model a mask is drawn (one stream per row, layer and site). */
export type DropoutSite = 'embed' | 'attn-probs' | 'attn-out' | 'mlp-out';

/** The dropout seed of micro-batch `micro` of optimizer step `step` (0-based) in a run seeded `runSeed`. */
export function dropoutSeed(runSeed: number, step: number, micro: number): number {
  return seedFrom(runSeed, 'dropout', step, micro);
}

/**
 * Why not tf.dropout(x, rate, undefined, seed): in tfjs 4.22 its seed is deterministic (randomUniform fills
 * the noise in JS with seedrandom's alea(String(seed)) on every backend), but one seed covers the whole
 * tensor, so a batch split over workers would draw different masks than the whole batch.
 */
export class RowDropout {
  /**
   * rate: drop probability in [0, 1); seed: e.g. dropoutSeed(...); rowOffset: the global index of this
   * batch's row 0 (a data-parallel slice's first row in the full batch).
   */
  constructor(
    readonly rate: number,
    readonly seed: number,
    readonly rowOffset = 0,
  ) {
    if (!(rate >= 0 && rate < 1))
      throw new HyperlmError('CONFIG_BAD_VALUE', `dropout rate must be in [0, 1), got ${rate}`);
    if (!Number.isInteger(rowOffset) || rowOffset < 0) {
      throw new HyperlmError('CONFIG_BAD_VALUE', `dropout rowOffset must be a non-negative integer, got ${rowOffset}`);
    }
  }

  /** x: [B, ...] → x · mask, mask 0 with probability `rate`, else 1 / (1 - rate); row b's from (seed, rowOffset + b, layer, site). */
  apply(x: tf.Tensor, layer: number, site: DropoutSite): tf.Tensor {
    if (this.rate === 0) return x;
    const rows = x.shape[0] ?? 1;
    const per = x.size / rows;
    const scale = 1 / (1 - this.rate);
    const threshold = this.rate * 0x100000000; // keep iff a uniform uint32 ≥ rate · 2^32
    const mask = new Float32Array(x.size);
    for (let b = 0; b < rows; b++) {
      const rng = Rng.fromParts(this.seed, this.rowOffset + b, layer, site);
      for (let i = b * per, end = i + per; i < end; i++) mask[i] = rng.nextU32() >= threshold ? scale : 0;
    }
    return x.mul(tf.tensor(mask, x.shape, 'float32'));
  }
}
