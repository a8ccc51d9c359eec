// The training loop as a library function (nanoGPT's train.py, minus DDP): packed CM3 batches from the
// loader → GPT.lossAndGrads (summed over gradAccum micro-batches) → non-finite check → global-norm clip →
// AdamW → metrics.jsonl; validation every evalEvery steps; checkpoint (+ loss.png) every checkpointEvery
// steps, at the end, and when `signal` aborts (SIGINT). A resumed run restores weights, AdamW state, the
// step RNG and the data position, so its losses equal an uninterrupted run's. A NaN/Inf loss or
// gradient stops with TRAIN_NON_FINITE naming the step; nothing is saved after the last good checkpoint.
//
// metrics.jsonl, one JSON object per line:
//   {"step":1,"loss":5.2,"ce":5.19,"aux":0.01,"lr":5e-5,"gradNorm":1.3,"tokens":256,"tokPerSec":900,
//    "elapsed":0.4,"moe":[{"layer":1,"load":[0.3,0.2,0.25,0.25],"dropRate":0.02,"entropy":1.38}]}
//   {"step":50,"valLoss":4.1,"valPpl":60.3}

import { appendFile, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Progress, formatCount } from '../cli/progress.js';
import { HyperlmError } from '../errors.js';
import { writeJsonAtomic } from '../io/atomic-file.js';
import { Rng } from '../rng.js';
import { latestCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { GPT } from './gpt.js';
import { ShardLoader, readDataInfo, type Batch, type DataInfo } from './loader.js';
import type { RoutingInfo } from './moe.js';
import { AdamW, globalNorm, learningRate } from './optimizer.js';
import { plotLossCurve, type CurvePoint } from './plot.js';
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

export interface MoEStats { layer: number; load: number[]; dropRate: number; entropy: number }

/** Per-layer expert load fractions, dropped-assignment rate and router entropy, averaged over micro-batches. */
export function moeStats(passes: RoutingInfo[][]): MoEStats[] {
  if (passes.length === 0) return [];
  return passes[0].map((first, i) => {
    const n = passes.length;
    const load = first.load.map((_, e) => passes.reduce((s, p) => s + p[i].load[e], 0) / n);
    return {
      layer: first.layer, load,
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
  return [tf.tensor2d(b.ids, [B, T], 'int32'), tf.tensor2d(b.targets, [B, T], 'int32'), tf.tensor2d(b.weights, [B, T], 'float32')];
}

/** Mean validation loss over the first `batches` batches of the valid split (the same ones every call). */
export async function evaluate(model: GPT, loader: ShardLoader, batches: number, batchSize: number): Promise<number> {
  loader.setState({ epoch: 0, cursor: 0, pending: {} });
  let sum = 0, weight = 0;
  for (let i = 0; i < batches; i++) {
    const b = await loader.nextBatch(batchSize);
    if (b.epoch > 0) break;
    const [ids, targets, weights] = tensors(b, model.config.blockSize);
    const r = model.loss(ids, targets, weights, { training: false, domains: b.domains });
    const w = b.weights.reduce((a, x) => a + x, 0);
    sum += r.ce.dataSync()[0] * w;
    weight += w;
    tf.dispose([ids, targets, weights, r.loss, r.ce, r.aux]);
  }
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
    throw new HyperlmError('INPUT_NOT_FOUND', `${path}: cannot read the run's config (is ${runDir} a training run?)`, { cause: err });
  }
}

/** Metrics lines up to `step` (a resumed run drops what came after its checkpoint), and the loss curve in them. */
async function loadHistory(path: string, step: number): Promise<{ lines: string[]; curve: CurvePoint[] }> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const lines = text.split('\n').filter((l) => l.trim() !== '' && (JSON.parse(l) as { step: number }).step <= step);
  const curve = lines.map((l) => JSON.parse(l) as CurvePoint);
  return { lines, curve };
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { runDir, config } = opts;
  const log = opts.log ?? (() => {});
  const tc = config.train;
  const T = config.model.blockSize;
  const data = await readDataInfo(config.data);
  if (data.layout.size > config.model.vocabSize) {
    throw new HyperlmError('CONFIG_BAD_VALUE', `model config vocabSize ${config.model.vocabSize} is smaller than the data's vocabulary (${data.layout.size} ids in ${config.data}/vocab.json)`);
  }
  const existing = await latestCheckpoint(runDir);
  if (existing && !opts.resume) {
    throw new HyperlmError('CONFIG_BAD_VALUE', `${runDir} already has checkpoints (${existing}); pass --resume to continue it or choose another --out`);
  }
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
      log(`the data selection changed (${ck.loader.documents} → ${loader.documentCount} documents): continuing at the start of epoch ${ck.loader.epoch + 1}`);
      loader.setState({ epoch: ck.loader.epoch + 1, cursor: 0, pending: {} });
    } else {
      loader.setState(ck.loader);
    }
    log(`resumed from ${existing} at step ${step}`);
  }
  const history = await loadHistory(metricsPath, step);
  await writeFile(metricsPath, history.lines.map((l) => l + '\n').join(''));
  const curve = history.curve;
  log(`model: ${formatCount(model.numParams())} parameters, ${config.model.nLayer} layers, d=${config.model.dModel}, ` +
    `${config.model.moe.every > 0 ? `MoE ${config.model.moe.router} × ${config.model.moe.experts}` : 'dense'}; ` +
    `data: ${loader.documentCount} train documents; batch ${tc.batchSize}×${tc.gradAccum}×${T} tokens`);

  const params = model.params();
  const onlyPrefix = tc.trainOnlyExpert >= 0 ? `.mlp.experts.${tc.trainOnlyExpert}.` : undefined;
  const progress = opts.progress ? new Progress({ label: 'train', total: tc.steps }) : undefined;
  const started = performance.now();
  const losses: number[] = [];
  let valLoss: number | undefined;
  let lastCheckpoint = existing;
  const collapseWarned = new Set<number>();

  const checkpoint = async (): Promise<void> => {
    lastCheckpoint = await saveCheckpoint(runDir, model, optimizer, { step, rng: rng.getState(), loader: loader.getState(), tokensSeen, config }, tc.keepCheckpoints);
    await plotLossCurve(join(runDir, 'loss.png'), curve, `${config.model.nLayer}-layer ${config.model.moe.every > 0 ? config.model.moe.router + ' MoE' : 'dense'}`);
  };

  try {
    while (step < tc.steps) {
      const t0 = performance.now();
      const lr = learningRate(step, tc.steps, tc.optim);
      let grads = new Map<string, tf.Tensor>();
      let loss = 0, ce = 0, aux = 0, tokens = 0;
      const routing: RoutingInfo[][] = [];
      for (let a = 0; a < tc.gradAccum; a++) {
        const batch = await loader.nextBatch(tc.batchSize);
        const [ids, targets, weights] = tensors(batch, T);
        const r = model.lossAndGrads(ids, targets, weights, { training: true, domains: batch.domains, seed: rng.nextU32() });
        tf.dispose([ids, targets, weights]);
        loss += r.loss / tc.gradAccum; ce += r.ce / tc.gradAccum; aux += r.aux / tc.gradAccum;
        tokens += batch.tokens;
        routing.push(r.routing);
        grads = accumulate(grads, r.grads, tc.gradAccum);
      }
      if (onlyPrefix) {
        for (const [name, g] of grads) if (!name.includes(onlyPrefix)) { g.dispose(); grads.delete(name); }
      }
      const gradNorm = globalNorm(grads);
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        tf.dispose([...grads.values()]);
        throw new HyperlmError('TRAIN_NON_FINITE', `step ${step + 1}: ${!Number.isFinite(loss) ? `loss is ${loss}` : `gradient norm is ${gradNorm}`} ` +
          `(lr ${lr.toExponential(2)}); stopped without saving — the last good checkpoint is ${lastCheckpoint ?? 'none (no checkpoint was written yet)'}`);
      }
      optimizer.apply(params, grads, lr, gradNorm);
      tf.dispose([...grads.values()]);
      step++;
      tokensSeen += tokens;
      losses.push(loss);
      const seconds = (performance.now() - t0) / 1000;
      const moe = moeStats(routing);
      const line: Record<string, unknown> = { step, loss, ce, aux, lr, gradNorm, tokens, tokPerSec: tokens / seconds, elapsed: (performance.now() - started) / 1000 };
      if (moe.length > 0) line.moe = moe;
      if (config.model.moe.router !== 'demix') {
        for (const m of moe) {
          const top = Math.max(...m.load);
          if (m.load.length > 1 && top > tc.collapseThreshold && !collapseWarned.has(m.layer)) {
            collapseWarned.add(m.layer);
            log(`warning: routing collapse at step ${step}, layer ${m.layer}: expert ${m.load.indexOf(top)} takes ${(top * 100).toFixed(0)}% of tokens`);
          }
        }
      }
      await appendFile(metricsPath, JSON.stringify(line) + '\n');
      curve.push({ step, loss });
      if (valid && ((tc.evalEvery > 0 && step % tc.evalEvery === 0) || step === tc.steps)) {
        valLoss = await evaluate(model, valid, tc.evalBatches, tc.batchSize);
        const v = { step, valLoss, valPpl: Math.exp(valLoss) };
        await appendFile(metricsPath, JSON.stringify(v) + '\n');
        curve.push(v);
        log(`step ${step}: validation loss ${valLoss.toFixed(4)}, perplexity ${Math.exp(valLoss).toFixed(2)}`);
      }
      progress?.update(step, { loss: loss.toFixed(4), 'tok/s': formatCount(tokens / seconds), lr: lr.toExponential(2) });
      opts.onStep?.(step, line);
      const interrupted = opts.signal?.aborted === true && step < tc.steps;
      if (step % tc.checkpointEvery === 0 || step === tc.steps || interrupted) await checkpoint();
      if (interrupted) {
        log(`interrupted: checkpoint written at step ${step} (${lastCheckpoint})`);
        progress?.finish();
        return { step, losses, valLoss, stopped: 'interrupted', checkpoint: lastCheckpoint };
      }
    }
    progress?.finish();
    return { step, losses, valLoss, stopped: 'done', checkpoint: lastCheckpoint };
  } finally {
    model.dispose();
    optimizer.dispose();
    await loader.close();
    await valid?.close();
  }
}

/** Sum micro-batch gradients divided by `n` into `acc` (disposing what it replaces). */
function accumulate(acc: Map<string, tf.Tensor>, grads: Map<string, tf.Tensor>, n: number): Map<string, tf.Tensor> {
  for (const [name, g] of grads) {
    const scaled = n === 1 ? g : tf.tidy(() => g.div(n));
    if (scaled !== g) g.dispose();
    const prev = acc.get(name);
    if (prev) {
      acc.set(name, tf.add(prev, scaled));
      tf.dispose([prev, scaled]);
    } else {
      acc.set(name, scaled);
    }
  }
  return acc;
}
