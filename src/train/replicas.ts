// The glue between a trainer and its data-parallel replicas (src/backend/data-parallel.ts), shared by the
// LM (src/model/gradient-workers.ts, replica.ts) and the VQGAN (src/vqgan/step-workers.ts, replica.ts):
// on the main side a ReplicaSet starts N replicas of a model module, loads the model's params into them and
// broadcasts updates; on the replica side `flatParamAccess` reads and writes a model's params as one flat
// Float32Array in flat-params.ts order; `sliceRanges` cuts a batch into the workers' contiguous row ranges.
// Optimizer state never lives in a replica, so a checkpoint needs nothing from the workers.

import * as tf from '@tensorflow/tfjs';
import { DataParallel, type PhaseTimes } from '../backend/data-parallel.js';
import type { BackendChoice } from '../backend/select.js';
import { assignFlat, flatten, paramLayout, type ParamLayout } from './flat-params.js';

/** Rows [lo, hi) of each of `n` workers for a batch of `rows` rows: contiguous, in batch order, sizes differing by ≤ 1. */
export function sliceRanges(rows: number, n: number): Array<[number, number]> {
  return Array.from({ length: n }, (_, i) => [Math.floor((i * rows) / n), Math.floor(((i + 1) * rows) / n)]);
}

/** A model's params as one flat buffer, for the getParams / setParams half of the replica contract. */
export function flatParamAccess(params: Map<string, tf.Variable>) {
  const layout = paramLayout(params);
  return {
    layout,
    getParams: (): Float32Array => flatten(layout, params as Map<string, tf.Tensor>),
    setParams: (flat: Float32Array): void => assignFlat(layout, params, flat),
  };
}

/** N replicas of a model in worker threads, holding the main thread's params. */
export class ReplicaSet {
  protected constructor(
    protected readonly dp: DataParallel,
    readonly layout: ParamLayout,
  ) {}

  /** Starts `workers` replicas from `modulePath` (its createReplica gets `init`) and loads `params` into them. */
  protected static async open(
    modulePath: string,
    init: unknown,
    params: Map<string, tf.Variable>,
    workers: number,
    backend: BackendChoice,
  ): Promise<{ dp: DataParallel; layout: ParamLayout }> {
    const dp = await DataParallel.start({ workers, backend, init, modulePath });
    const layout = paramLayout(params);
    await dp.setParams(flatten(layout, params as Map<string, tf.Tensor>));
    return { dp, layout };
  }

  /** Wall ms of the last gradient pass's phases (DataParallel.lastPhases). */
  get lastPhases(): PhaseTimes {
    return this.dp.lastPhases;
  }

  get workers(): number {
    return this.dp.workers;
  }

  /** The same flat params to every replica. */
  async setParams(flat: Float32Array): Promise<void> {
    await this.dp.setParams(flat);
  }

  /** Every replica's current params (tests check they are byte-identical to what was set). */
  async replicaParams(): Promise<Float32Array[]> {
    return this.dp.params();
  }

  async close(): Promise<void> {
    await this.dp.close();
  }
}
