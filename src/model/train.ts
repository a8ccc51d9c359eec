// The training loop as a library function (nanoGPT's train.py): packed CM3 batches from the loader →
// gradients of each micro-batch, in this thread or split over `workers` data-parallel worker threads
// (gradient-workers.ts; summed over gradAccum micro-batches) → non-finite check → global-norm clip →
// AdamW on the flat params (in this thread, or with workers ZeRO-1 style: each worker updates its shard of
// the shared params and every replica loads them) → metrics.jsonl; validation every
// evalEvery steps; checkpoint (+ loss.png) every checkpointEvery steps, at the end, and on SIGINT.
// Unlike nanoGPT's loop, resume is exact for any worker count; src/vqgan/train.ts is the image twin.

import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Progress, formatCount } from '../io/progress.js';
import { HyperlmError } from '../errors.js';
import { writeJsonAtomic } from '../io/atomic-file.js';
import { Rng } from '../rng.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { MetricsLog, checkpointDue, existingCheckpoint, workerCount } from '../train/index.js';
import { dropoutSeed } from './dropout.js';
import { assignFlat, flatten, paramLayout } from '../train/flat-params.js';
import { GPT } from './gpt.js';
import { loadGPTWeights } from './weights.js';
import { LocalGradients, WorkerGradients, type GradientSource } from './gradient-workers.js';
import { ShardLoader, batchOf, readDataInfo, type Batch, type DataInfo, type Row } from './loader.js';
import { AdamW, learningRate } from '../train/optimizer.js';
import { plotLossCurve, type CurvePoint } from '../train/plot.js';
import type { RunConfig } from './train-config.js';

export interface TrainOptions {
  /** Run folder: config.json, tokenizer copy, metrics.jsonl, loss.png, checkpoints/. */
  runDir: string;
  config: RunConfig;
  /** Continue from the run's latest checkpoint (a run without one starts fresh). */
  resume?: boolean;
  log?: (line: string) => void;
  /** Progress bar / periodic progress lines on stderr. */
  progress?: boolean;
  /** Aborting (e.g. on SIGINT) checkpoints after the current step and returns. */
  signal?: AbortSignal;
  /** Called after each optimizer step with its metrics line (tests watch memory here). */
  onStep?: (step: number, metrics: Record<string, unknown>) => void;
  /**
   * Data-parallel worker threads (default 1: compute in this thread). With N > 1 each micro-batch's rows
   * are split over N WASM replicas; a dense model's losses equal the 1-worker run's up to float rounding.
   * Capped at batchSize.
   */
  workers?: number;
}

export interface TrainResult {
  /** Steps completed. */
  step: number;
  /** Training loss of each step run by this call. */
  losses: number[];
  valLoss?: number;
  stopped: 'done' | 'interrupted';
  checkpoint?: string;
}

export interface MoEStats {
  layer: number;
  load: number[];
  dropRate: number;
  entropy: number;
}

/** Per-layer expert load fractions, dropped-assignment rate and router entropy, averaged over micro-batches (and worker slices). */
export function moeStats(passes: MoEStats[][]): MoEStats[] {
  if (passes.length === 0) return [];
  return passes[0].map((first, i) => {
    const n = passes.length;
    const load = first.load.map((_, e) => passes.reduce((s, p) => s + p[i].load[e], 0) / n);
    return {
      layer: first.layer,
      load,
      dropRate: passes.reduce((s, p) => s + p[i].dropRate, 0) / n,
      entropy: passes.reduce((s, p) => s + p[i].entropy, 0) / n,
    };
  });
}

/** The DEMix domain mapping: data domain id → expert index via the domain names, -1 to skip. */
function domainMapping(config: RunConfig, data: DataInfo): ((d: number) => number) | undefined {
  const { moe } = config.model;
  if (!(moe.every > 0 && moe.router === 'demix')) return undefined;
  const names = moe.domains ?? [];
  const keyOf = new Map(Object.entries(data.domains).map(([k, id]) => [id, k]));
  const only = config.train.trainOnlyExpert;
  return (d) => {
    const e = names.length > 0 ? names.indexOf(keyOf.get(d) ?? '') : d < moe.experts ? d : -1;
    return only >= 0 && e !== only ? -1 : e;
  };
}

function tensors(b: Batch, T: number): [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D] {
  const B = b.domains.length;
  return [
    tf.tensor2d(b.ids, [B, T], 'int32'),
    tf.tensor2d(b.targets, [B, T], 'int32'),
    tf.tensor2d(b.weights, [B, T], 'float32'),
  ];
}

/**
 * Mean validation loss over the first `batches` batches of the valid split (the same ones every call; a
 * split shorter than that is scored whole, its last partial batch included).
 */
export async function evaluate(model: GPT, loader: ShardLoader, batches: number, batchSize: number): Promise<number> {
  let sum = 0,
    weight = 0;
  const score = (rows: Row[]): void => {
    const b = batchOf(rows, model.config.blockSize);
    const [ids, targets, weights] = tensors(b, model.config.blockSize);
    const r = model.loss(ids, targets, weights, { training: false, domains: b.domains });
    const w = b.weights.reduce((a, x) => a + x, 0);
    sum += r.ce.dataSync()[0] * w;
    weight += w;
    tf.dispose([ids, targets, weights, r.loss, r.ce, r.aux]);
  };
  let rows: Row[] = [],
    scored = 0;
  for await (const row of loader.epochRows()) {
    rows.push(row);
    if (rows.length === batchSize) {
      score(rows);
      rows = [];
      if (++scored === batches) break;
    }
  }
  if (rows.length > 0) score(rows);
  return weight > 0 ? sum / weight : NaN;
}

/** Copy the data's tokenizer and vocabulary into the run so it is self-contained; write config.json. */
async function prepareRunDir(runDir: string, config: RunConfig): Promise<void> {
  await mkdir(runDir, { recursive: true });
  for (const f of ['tokenizer.model', 'vocab.json']) {
    await copyFile(join(config.data, f), join(runDir, f)).catch(() => undefined);
  }
  await writeJsonAtomic(join(runDir, 'config.json'), config);
}

/** Read RUN/config.json. */
export async function readRunConfig(runDir: string): Promise<RunConfig> {
  const path = join(runDir, 'config.json');
  try {
    return JSON.parse(await readFile(path, 'utf8')) as RunConfig;
  } catch (err) {
    throw new HyperlmError('INPUT_NOT_FOUND', `${path}: cannot read the run's config (is ${runDir} a training run?)`, {
      cause: err,
    });
  }
}

/**
 * Train (or resume) the run in `opts.runDir`. A resumed run restores weights, AdamW state, the step RNG and
 * the data position, so its losses equal an uninterrupted run's, whatever the worker count (RNG and data
 * position stay in this thread; with workers AdamW's moments are gathered from the ZeRO shards for each
 * checkpoint and scattered back on resume, in the same per-name format); dropout masks are counter-based (dropout.ts: run seed, step,
 * micro-batch, row, layer, site), so this holds at dropout > 0 too. A NaN/Inf loss or gradient stops with
 * TRAIN_NON_FINITE naming the step; nothing is saved after the last good checkpoint.
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { runDir, config } = opts;
  const log = opts.log ?? (() => {});
  const tc = config.train;
  const T = config.model.blockSize;
  const data = await readDataInfo(config.data);
  if (data.layout.size > config.model.vocabSize) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `model config vocabSize ${config.model.vocabSize} is smaller than the data's vocabulary (${data.layout.size} ids in ${config.data}/vocab.json)`,
    );
  }
  const existing = await existingCheckpoint(runDir, opts.resume);
  await prepareRunDir(runDir, config);

  const domainOf = domainMapping(config, data);
  const loaderOpts = { blockSize: T, seed: tc.seed, byDomain: domainOf !== undefined, domainOf, cm3: tc.cm3 };
  const loader = await ShardLoader.open(config.data, { ...loaderOpts, split: 'train' });
  const valid = data.shards.some((s) => s.split === 'valid')
    ? await ShardLoader.open(config.data, { ...loaderOpts, split: 'valid', shuffle: false }).catch(() => undefined)
    : undefined;
  const model = new GPT(config.model, tc.seed);
  const optimizer = new AdamW(tc.optim);
  let rng = Rng.fromParts(tc.seed, 'train-steps');
  let step = 0;
  let tokensSeen = 0;
  const metricsPath = join(runDir, 'metrics.jsonl');
  if (existing) {
    const ck = await loadCheckpoint(existing, model, optimizer);
    step = ck.step;
    tokensSeen = ck.tokensSeen;
    rng = Rng.fromState(ck.rng);
    if (ck.loader.documents !== undefined && ck.loader.documents !== loader.documentCount) {
      log(
        `the data selection changed (${ck.loader.documents} → ${loader.documentCount} documents): continuing at the start of epoch ${ck.loader.epoch + 1}`,
      );
      loader.setState({ epoch: ck.loader.epoch + 1, cursor: 0, pending: {} });
    } else {
      loader.setState(ck.loader);
    }
    log(`resumed from ${existing} at step ${step}`);
  } else if (config.init) {
    await loadGPTWeights(model, config.init); // fine-tuning: weights only; AdamW, step and data start fresh
    log(`initialised from ${config.init}`);
  }
  // metrics.jsonl, one JSON object per line:
  //   {"step":1,"loss":5.2,"ce":5.19,"aux":0.01,"lr":5e-5,"gradNorm":1.3,"tokens":256,"tokPerSec":900,
  //    "elapsed":0.4,"moe":[{"layer":1,"load":[0.3,0.2,0.25,0.25],"dropRate":0.02,"entropy":1.38}]}
  //   {"step":50,"valLoss":4.1,"valPpl":60.3}
  const metrics = await MetricsLog.open(metricsPath, step);
  const curve = metrics.history as unknown as CurvePoint[];
  log(
    `model: ${formatCount(model.numParams())} parameters, ${config.model.nLayer} layers, d=${config.model.dModel}, ` +
      `${config.model.moe.every > 0 ? `MoE ${config.model.moe.router} × ${config.model.moe.experts}` : 'dense'}; ` +
      `data: ${loader.documentCount} train documents; batch ${tc.batchSize}×${tc.gradAccum}×${T} tokens`,
  );

  const params = model.params();
  const layout = paramLayout(params);
  const onlyPrefix = tc.trainOnlyExpert >= 0 ? `.mlp.experts.${tc.trainOnlyExpert}.` : undefined;
  const only = onlyPrefix ? (name: string) => name.includes(onlyPrefix) : undefined;
  const workers = workerCount(opts.workers, tc.batchSize, 'row', log);
  const sharded = workers > 1 ? await WorkerGradients.start(model, tc.seed, workers, 'wasm', tc.optim) : undefined;
  const source: GradientSource = sharded ?? new LocalGradients(model);
  // The params of record: this thread's array, or with workers the shared row the optimizer shards update in place.
  const theta = sharded ? sharded.params() : flatten(layout, params as Map<string, tf.Tensor>);
  // ZeRO-1: the shards own m and v (scattered from a resumed checkpoint); the norm and the update cover `only`'s params.
  const selected = only ? layout.names.map(only) : undefined;
  const normRanges = selected
    ? layout.offsets.map((o, i): [number, number] => [o, o + layout.sizes[i]]).filter((_, i) => selected[i])
    : undefined;
  let updatedHere = false; // whether this call took an optimizer step (then every selected param has moments)
  if (sharded) {
    const { m, v } = optimizer.flatState(layout);
    await sharded.loadOptimizerState(m, v);
    log(
      `data parallel: ${workers} worker threads (WASM), gradients summed in shared memory, AdamW sharded over the workers (ZeRO-1)`,
    );
  }
  let modelCurrent = true; // whether the main model's variables hold theta (with workers they are updated lazily)
  const syncModel = (): void => {
    if (!modelCurrent) assignFlat(layout, params, theta);
    modelCurrent = true;
  };
  const progress = opts.progress ? new Progress({ label: 'train', total: tc.steps, startAt: step }) : undefined;
  const started = performance.now();
  const losses: number[] = [];
  let valLoss: number | undefined;
  let lastCheckpoint = existing;
  const collapseWarned = new Set<number>();

  const checkpoint = async (): Promise<void> => {
    syncModel();
    if (sharded) {
      const { m, v } = await sharded.optimizerState();
      optimizer.setFlatState(layout, m, v, (name) => optimizer.m.has(name) || (updatedHere && (!only || only(name))));
    }
    lastCheckpoint = await saveCheckpoint(
      runDir,
      model,
      optimizer,
      { step, rng: rng.getState(), loader: loader.getState(), tokensSeen, config },
      tc.keepCheckpoints,
    );
    await plotLossCurve(
      join(runDir, 'loss.png'),
      curve,
      `${config.model.nLayer}-layer ${config.model.moe.every > 0 ? config.model.moe.router + ' MoE' : 'dense'}`,
    );
  };

  try {
    while (step < tc.steps) {
      const t0 = performance.now();
      const lr = learningRate(step, tc.steps, tc.optim);
      let grads: Float32Array | undefined;
      let loss = 0,
        ce = 0,
        aux = 0,
        tokens = 0,
        sq = 0;
      const routing: MoEStats[][] = [];
      for (let a = 0; a < tc.gradAccum; a++) {
        const batch = await loader.nextBatch(tc.batchSize);
        const seed = rng.nextU32(),
          dSeed = dropoutSeed(tc.seed, step, a);
        const r = sharded
          ? await sharded.accumulate(batch, seed, dSeed, a, tc.gradAccum, normRanges)
          : await source.compute(batch, seed, dSeed);
        loss += r.loss / tc.gradAccum;
        ce += r.ce / tc.gradAccum;
        aux += r.aux / tc.gradAccum;
        tokens += batch.tokens;
        routing.push(...r.moe);
        if ('grads' in r) grads = accumulate(grads, r.grads, tc.gradAccum);
        else sq = r.sq; // Σ g² of the gradient accumulated so far, over the selected params
      }
      const gradNorm = sharded ? Math.sqrt(sq) : normOf(layout.names, layout.offsets, layout.sizes, grads!, only);
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        throw new HyperlmError(
          'TRAIN_NON_FINITE',
          `step ${step + 1}: ${!Number.isFinite(loss) ? `loss is ${loss}` : `gradient norm is ${gradNorm}`} ` +
            `(lr ${lr.toExponential(2)}); stopped without saving — the last good checkpoint is ${lastCheckpoint ?? 'none (no checkpoint was written yet)'}`,
        );
      }
      if (sharded) {
        optimizer.step++; // the shards take this step; m and v stay with them until a checkpoint gathers them
        await sharded.update(lr, gradNorm, optimizer.step, selected);
        updatedHere = true;
        modelCurrent = false;
      } else {
        optimizer.applyFlat(layout, theta, grads!, lr, gradNorm, only);
        await source.setParams(theta);
      }
      step++;
      tokensSeen += tokens;
      losses.push(loss);
      const seconds = (performance.now() - t0) / 1000;
      const moe = moeStats(routing);
      const line: Record<string, unknown> = {
        step,
        loss,
        ce,
        aux,
        lr,
        gradNorm,
        tokens,
        tokPerSec: tokens / seconds,
        elapsed: (performance.now() - started) / 1000,
      };
      if (moe.length > 0) line.moe = moe;
      if (config.model.moe.router !== 'demix') {
        for (const m of moe) {
          const top = Math.max(...m.load);
          if (m.load.length > 1 && top > tc.collapseThreshold && !collapseWarned.has(m.layer)) {
            collapseWarned.add(m.layer);
            log(
              `warning: routing collapse at step ${step}, layer ${m.layer}: expert ${m.load.indexOf(top)} takes ${(top * 100).toFixed(0)}% of tokens`,
            );
          }
        }
      }
      await metrics.append(line);
      if (valid && ((tc.evalEvery > 0 && step % tc.evalEvery === 0) || step === tc.steps)) {
        syncModel();
        valLoss = await evaluate(model, valid, tc.evalBatches, tc.batchSize);
        await metrics.append({ step, valLoss, valPpl: Math.exp(valLoss) });
        log(`step ${step}: validation loss ${valLoss.toFixed(4)}, perplexity ${Math.exp(valLoss).toFixed(2)}`);
      }
      progress?.update(step, {
        loss: loss.toFixed(4),
        'tok/s': formatCount(tokens / seconds),
        lr: lr.toExponential(2),
      });
      opts.onStep?.(step, line);
      const interrupted = opts.signal?.aborted === true && step < tc.steps;
      if (checkpointDue(step, tc.steps, tc.checkpointEvery, interrupted)) await checkpoint();
      if (interrupted) {
        log(`interrupted: checkpoint written at step ${step} (${lastCheckpoint})`);
        progress?.finish();
        return { step, losses, valLoss, stopped: 'interrupted', checkpoint: lastCheckpoint };
      }
    }
    progress?.finish();
    return { step, losses, valLoss, stopped: 'done', checkpoint: lastCheckpoint };
  } finally {
    await source.close();
    model.dispose();
    optimizer.dispose();
    await loader.close();
    await valid?.close();
  }
}

/** acc + g / n (g itself when it is the first of n = 1), elementwise. */
function accumulate(acc: Float32Array | undefined, g: Float32Array, n: number): Float32Array {
  if (n === 1 && !acc) return g;
  const out = acc ?? new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) out[i] += g[i] / n;
  return out;
}

/** ‖g‖₂ over the parameters `only` selects (all when undefined), accumulated in float64. */
function normOf(
  names: string[],
  offsets: number[],
  sizes: number[],
  g: Float32Array,
  only?: (name: string) => boolean,
): number {
  let sq = 0;
  names.forEach((name, i) => {
    if (only && !only(name)) return;
    for (let j = offsets[i], end = offsets[i] + sizes[i]; j < end; j++) sq += g[j] * g[j];
  });
  return Math.sqrt(sq);
}
