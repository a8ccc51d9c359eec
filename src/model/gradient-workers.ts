// Where a training step's gradients are computed: in this thread on the main model (LocalGradients), or
// split by rows over N worker threads, each with its own tfjs engine and WASM backend holding a replica
// (WorkerGradients: src/backend/data-parallel.ts + replica.ts), as in PyTorch DDP. LocalGradients gives the
// caller the flat gradient of the whole batch (flat-params.ts order) and takes updated params back with
// setParams. WorkerGradients also runs ZeRO-1 (Rajbhandari et al. 2020, stage 1): the gradient sum stays
// in shared memory, each worker's AdamWShard updates its slice of the shared params in place and every
// replica then loads them; the caller keeps the step count, RNG and data position and gathers / scatters
// the moments for checkpoints, so checkpoints and exact resume do not depend on the worker count.
// src/vqgan/step-workers.ts is the image twin (optimizer in the main thread).

import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { DataParallel } from '../backend/data-parallel.js';
import type { BackendChoice } from '../backend/select.js';
import { assignFlat, flatten, paramLayout, type ParamLayout } from '../train/flat-params.js';
import { ReplicaSet, sliceRanges } from '../train/replicas.js';
import type { GPT } from './gpt.js';
import type { Batch } from './loader.js';
import type { OptimConfig } from '../train/optimizer.js';
import type { ReplicaInfo, ReplicaInit, ReplicaRequest, ReplicaSlice } from './replica.js';
import type { MoEStats } from './train.js';

export interface BatchGradients {
  /** ce + aux of the batch. */
  loss: number;
  ce: number;
  aux: number;
  /** MoE statistics per slice (one entry per worker; [] for dense models). */
  moe: MoEStats[][];
  /** d(loss)/d(params), flat, in layout order. */
  grads: Float32Array;
}

export interface GradientSource {
  readonly workers: number;
  readonly layout: ParamLayout;
  /** seed: GShard's second-expert draws; dropoutSeed (default seed): the dropout masks, per row of the batch. */
  compute(batch: Batch, seed: number, dropoutSeed?: number): Promise<BatchGradients>;
  setParams(flat: Float32Array): Promise<void>;
  close(): Promise<void>;
}

/** Rows [lo, hi) of a batch as a replica slice with its loss weights; its dropout rows start at lo. */
function sliceOf(
  b: Batch,
  T: number,
  lo: number,
  hi: number,
  totalWeight: number,
  seed: number,
  dropoutSeed: number,
): ReplicaSlice {
  const weights = b.weights.slice(lo * T, hi * T);
  const w = weights.reduce((a, x) => a + x, 0);
  const rows = b.domains.length;
  return {
    ids: b.ids.slice(lo * T, hi * T),
    targets: b.targets.slice(lo * T, hi * T),
    weights,
    domains: b.domains.slice(lo, hi),
    seed,
    dropoutSeed,
    rowOffset: lo,
    ceWeight: totalWeight > 0 ? w / totalWeight : (hi - lo) / rows,
    auxWeight: (hi - lo) / rows,
  };
}

export class LocalGradients implements GradientSource {
  readonly workers = 1;
  readonly layout: ParamLayout;
  constructor(private readonly model: GPT) {
    this.layout = paramLayout(model.params());
  }

  async compute(b: Batch, seed: number, dropoutSeed = seed): Promise<BatchGradients> {
    const B = b.domains.length,
      T = this.model.config.blockSize;
    const ids = tf.tensor2d(b.ids, [B, T], 'int32');
    const targets = tf.tensor2d(b.targets, [B, T], 'int32');
    const weights = tf.tensor2d(b.weights, [B, T], 'float32');
    const r = this.model.lossAndGrads(ids, targets, weights, { training: true, domains: b.domains, seed, dropoutSeed });
    const grads = flatten(this.layout, r.grads);
    tf.dispose([ids, targets, weights, ...r.grads.values()]);
    const moe = r.routing.map((x) => ({ layer: x.layer, load: x.load, dropRate: x.dropRate, entropy: x.entropy }));
    return { loss: r.loss, ce: r.ce, aux: r.aux, moe: moe.length > 0 ? [moe] : [], grads };
  }

  async setParams(flat: Float32Array): Promise<void> {
    assignFlat(this.layout, this.model.params(), flat);
  }

  async close(): Promise<void> {}
}

/**
 * Splitting is exact for the cross-entropy: slice i's gradient is scaled by W_i / W (its share of the
 * batch's target weight), so the sum over workers is the gradient of Σ w·nll / Σ w over the full batch.
 * MoE aux losses are averaged by row share; they (and switch capacity) are per slice, as in DDP.
 * Dropout masks are too: every slice gets the batch's dropout seed and the global index of its first
 * row, and masks are drawn per row (dropout.ts), so a dense model's dropout is the same for any N.
 */
export class WorkerGradients extends ReplicaSet implements GradientSource {
  private constructor(
    dp: DataParallel,
    layout: ParamLayout,
    private readonly T: number,
  ) {
    super(dp, layout);
  }

  /** Starts `workers` replicas of `model` (same config and seed) and loads the model's current params into them; `optim` configures the ZeRO shards. */
  static async start(
    model: GPT,
    seed: number,
    workers: number,
    backend: BackendChoice = 'wasm',
    optim?: OptimConfig,
  ): Promise<WorkerGradients> {
    const init: ReplicaInit = { model: model.config, seed, optim };
    const { dp, layout } = await ReplicaSet.open(
      fileURLToPath(new URL('./replica.js', import.meta.url)),
      init,
      model.params(),
      workers,
      backend,
    );
    return new WorkerGradients(dp, layout, model.config.blockSize);
  }

  private slices(b: Batch, seed: number, dropoutSeed: number): ReplicaSlice[] {
    const total = b.weights.reduce((a, x) => a + x, 0);
    return sliceRanges(b.domains.length, this.dp.workers).map(([lo, hi], i) =>
      sliceOf(b, this.T, lo, hi, total, (seed + i) >>> 0, dropoutSeed),
    );
  }

  async compute(b: Batch, seed: number, dropoutSeed = seed): Promise<BatchGradients> {
    const slices = this.slices(b, seed, dropoutSeed);
    const r = await this.dp.gradients(slices);
    return { ...combine(slices, r.infos as ReplicaInfo[]), grads: r.grads };
  }

  /**
   * ZeRO-1, first half of a step: micro-batch `a` of `of` (gradient accumulation) into the shared gradient,
   * g = Σ_a (Σ_workers g_a,w) / of, as train.ts's single-thread accumulation; returns the losses and Σ g² of
   * the gradient so far over `normRanges` (flat [lo, hi) ranges; all params when undefined).
   */
  async accumulate(
    b: Batch,
    seed: number,
    dropoutSeed: number,
    a: number,
    of: number,
    normRanges?: Array<[number, number]>,
  ): Promise<Omit<BatchGradients, 'grads'> & { sq: number }> {
    const slices = this.slices(b, seed, dropoutSeed);
    const r = await this.dp.accumulate(slices, { first: a === 0, divide: of, normRanges });
    return { ...combine(slices, r.infos as ReplicaInfo[]), sq: r.sq };
  }

  /** ZeRO-1, second half: every worker runs AdamW step t on its shard of the shared params, then all replicas load them. */
  async update(lr: number, gradNorm: number, t: number, selected?: boolean[]): Promise<void> {
    await this.adamw(lr, gradNorm, t, selected);
    await this.loadParams();
  }

  /** `update`'s first half: AdamW step t on each worker's shard of the shared params. */
  async adamw(lr: number, gradNorm: number, t: number, selected?: boolean[]): Promise<void> {
    await this.dp.map(this.request({ kind: 'adamw', lr, gradNorm, t, selected }));
  }

  /** `update`'s second half: every replica loads the shared params row. */
  async loadParams(): Promise<void> {
    await this.dp.loadParams();
  }

  /** The params of record (a live view of shared memory, layout order): the shards update it in place. */
  params(): Float32Array {
    return this.dp.paramsView();
  }

  /** AdamW's moments gathered from the shards, as flat layout-order arrays. */
  async optimizerState(): Promise<{ m: Float32Array; v: Float32Array }> {
    const parts = (await this.dp.map(this.request({ kind: 'adamw-state' }))) as Array<{
      m: Float32Array;
      v: Float32Array;
    }>;
    const m = new Float32Array(this.layout.total),
      v = new Float32Array(this.layout.total);
    this.dp.shardRanges().forEach(([lo], i) => {
      m.set(parts[i].m, lo);
      v.set(parts[i].v, lo);
    });
    return { m, v };
  }

  /** Scatter flat layout-order moments to the shards (resume). */
  async loadOptimizerState(m: Float32Array, v: Float32Array): Promise<void> {
    const ranges = this.dp.shardRanges();
    await this.dp.map(
      ranges.map(
        ([lo, hi]) => ({ kind: 'adamw-load', m: m.slice(lo, hi), v: v.slice(lo, hi) }) satisfies ReplicaRequest,
      ),
    );
  }

  private request(r: ReplicaRequest): ReplicaRequest[] {
    return Array.from({ length: this.dp.workers }, () => r);
  }
}

/** Loss parts of the batch from the slices' infos, weighted as the slices' gradients are. */
function combine(
  slices: ReplicaSlice[],
  infos: ReplicaInfo[],
): { loss: number; ce: number; aux: number; moe: MoEStats[][] } {
  let ce = 0,
    aux = 0;
  infos.forEach((info, i) => {
    ce += info.ce * slices[i].ceWeight!;
    aux += info.aux * slices[i].auxWeight!;
  });
  const moe = infos.map((info) => info.moe).filter((m) => m.length > 0);
  return { loss: ce + aux, ce, aux, moe };
}
