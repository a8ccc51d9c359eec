// The VQGAN training loop as a library function (the image twin of src/model/train.ts, whose checkpoint
// naming and loss plot it reuses): seeded crop/flip batches from the training split → one step, either
// Vqgan.trainStep in this thread or split over `workers` data-parallel worker threads (step-workers.ts;
// optimizers, dead-code restarts and data stay here) → metrics.jsonl; held-out PSNR every evalEvery
// steps; checkpoint (+ loss.png, psnr.png) every checkpointEvery steps, at the end, and on SIGINT.
// Images come from folders, HTML pages' <img>, WARC and JSONL; the held-out split is never trained on.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../backend/index.js';
import { Progress, formatCount } from '../io/progress.js';
import { writeJsonAtomic } from '../io/atomic-file.js';
import { MetricsLog, checkpointDue, existingCheckpoint, workerCount } from '../train/index.js';
import { plotLossCurve, type CurvePoint } from '../train/plot.js';
import { adamPowers, loadVqganCheckpoint, saveVqganCheckpoint } from './checkpoint.js';
import { reconstructionMetrics } from './evaluate.js';
import { ImageBatcher } from './image-batches.js';
import { describeImageList, listImageFiles, newImageListStats, splitImageFiles } from './image-files.js';
import { VqganWorkers } from './step-workers.js';
import type { VqganRunConfig } from './train-config.js';
import { Vqgan, type TrainStepResult } from './vqgan.js';

export interface VqganTrainOptions {
  /** Run folder: config.json, metrics.jsonl, loss.png, psnr.png, checkpoints/. */
  runDir: string;
  config: VqganRunConfig;
  /** Image folders or files. */
  images: string[];
  /** Continue from the run's latest checkpoint (a run without one starts fresh). */
  resume?: boolean;
  /** Stop after this step count instead of config.train.steps (the learning schedule is constant, so this only cuts the run). */
  stopAt?: number;
  log?: (line: string) => void;
  progress?: boolean;
  signal?: AbortSignal;
  onStep?: (step: number, metrics: Record<string, number>) => void;
  /**
   * Data-parallel worker threads (default 1: compute in this thread). With N > 1 each batch's images are
   * split over N WASM replicas; losses equal the 1-worker run's up to float rounding. Capped at batchSize.
   */
  workers?: number;
}

export interface VqganTrainResult {
  step: number;
  /** Total loss of each step run by this call. */
  losses: number[];
  stopped: 'done' | 'interrupted';
  checkpoint?: string;
}

/**
 * Train (or resume) the VQGAN run in `opts.runDir`. A resumed run restores weights, both Adam states, the
 * dead-code tracker, the data position and the crop/flip generator, so its losses equal an uninterrupted
 * run's with the same worker count (and, up to float summation order, any other). The held-out split
 * (image-files.ts) is never trained on.
 */
export async function trainVqgan(opts: VqganTrainOptions): Promise<VqganTrainResult> {
  const { runDir, config } = opts;
  const tc = config.train;
  const log = opts.log ?? (() => {});
  if (!tf.engine().backendName) await selectBackend('auto'); // a caller that chose a backend keeps it
  const existing = await existingCheckpoint(runDir, opts.resume);
  const listed = newImageListStats();
  const files = await listImageFiles(opts.images, listed);
  const split = splitImageFiles(files, tc.heldOut);
  log(
    `images: ${describeImageList(listed)}; ${split.train.length} train, ${split.heldOut.length} held out (${(tc.heldOut * 100).toFixed(0)}% by path/URL hash)`,
  );
  const batcher = new ImageBatcher(split.train, {
    size: config.model.resolution,
    cropScale: tc.cropScale,
    flipProbability: tc.flipProbability,
    seed: tc.seed,
    maxImagePixels: tc.maxImagePixels,
  });
  await mkdir(runDir, { recursive: true });
  await writeJsonAtomic(join(runDir, 'config.json'), config);
  const model = new Vqgan(config.model, tc.seed);
  let step = 0;
  if (existing) {
    const ck = await loadVqganCheckpoint(existing, model, true);
    step = ck.step;
    batcher.setState(ck.data);
    log(`resumed from ${existing} at step ${step}`);
  }
  // metrics.jsonl, one JSON object per line:
  //   {"step":1,"loss":0.61,"l1":0.31,"l2":0.17,"codebookLoss":0.02,"commitLoss":0.005,"ganLoss":0,
  //    "discLoss":0,"adaptiveWeight":0,"psnr":13.7,"usedFraction":0.01,"perplexity":40.2,"restarted":0,
  //    "seconds":3.1,"elapsed":3.1}
  //   {"step":100,"heldOutPsnr":21.3,"heldOutSsim":0.61}
  // "psnr" is the batch's PSNR at the network's internal resolution, 10·log10(4 / l2) (pixels in [-1, 1]).
  const metrics = await MetricsLog.open(join(runDir, 'metrics.jsonl'), step);
  const history = metrics.history;
  const params = [...model.params()]
    .filter(([k]) => !k.startsWith('discriminator.'))
    .reduce((a, [, v]) => a + v.size, 0);
  log(
    `model: ${formatCount(params)} generator parameters, ${config.model.resolution}² → ${model.codesPerImage} codes of ${config.model.codebookSize}; batch ${tc.batchSize}`,
  );

  const workers = workerCount(opts.workers, tc.batchSize, 'image', log);
  let parallel: VqganWorkers | undefined;
  const end = Math.min(tc.steps, opts.stopAt ?? tc.steps);
  const progress = opts.progress ? new Progress({ label: 'train:vqgan', total: end }) : undefined;
  const started = performance.now();
  const losses: number[] = [];
  let lastCheckpoint = existing;
  // The next batch is decoded (sharp, off-thread) while the current step runs; `dataState` is the position
  // of the first batch not yet trained on, which is what a checkpoint records — a prefetched batch is
  // simply loaded again, identically, after a resume.
  let dataState = batcher.getState();
  let prefetched: Promise<Float32Array> | undefined;
  const fetchBatch = (): Promise<Float32Array> => {
    const p = batcher.next(tc.batchSize);
    p.catch(() => {}); // a failure surfaces when this batch is awaited, not as an unhandled rejection
    return p;
  };
  const checkpoint = async (): Promise<void> => {
    lastCheckpoint = await saveVqganCheckpoint(
      runDir,
      model,
      { step, data: dataState, deadCodes: model.deadCodes.getState(), adamPowers: adamPowers(model), config },
      tc.keepCheckpoints,
    );
    const title = `VQGAN ${config.preset}`;
    await plotLossCurve(
      join(runDir, 'loss.png'),
      history.filter((h) => h.loss !== undefined).map((h): CurvePoint => ({ step: h.step, loss: h.loss })),
      `${title}: training loss`,
    );
    await plotLossCurve(
      join(runDir, 'psnr.png'),
      history.map((h): CurvePoint => ({ step: h.step, loss: h.psnr, valLoss: h.heldOutPsnr })),
      `${title}: PSNR dB (line: batch, dots: held-out)`,
    );
  };
  const trainStep = async (pixels: Float32Array): Promise<TrainStepResult> => {
    if (parallel) return parallel.step(pixels, tc.batchSize, step);
    const R = config.model.resolution;
    const batch = tf.tensor4d(pixels, [tc.batchSize, R, R, 3]);
    try {
      return model.trainStep(batch, step);
    } finally {
      batch.dispose();
    }
  };
  try {
    if (workers > 1 && step < end) {
      parallel = await VqganWorkers.start(model, tc.seed, workers);
      log(
        `data parallel: ${workers} worker threads (WASM), gradients summed in shared memory, Adam and dead-code restarts in this thread`,
      );
    }
    while (step < end) {
      const t0 = performance.now();
      const pixels = await (prefetched ?? fetchBatch());
      const afterBatch = batcher.getState(); // no load is in flight here
      prefetched = step + 1 < end ? fetchBatch() : undefined;
      const r = await trainStep(pixels);
      dataState = afterBatch;
      step++;
      losses.push(r.loss);
      const seconds = (performance.now() - t0) / 1000;
      const line: Record<string, number> = {
        step,
        loss: r.loss,
        l1: r.l1,
        l2: r.l2,
        codebookLoss: r.codebookLoss,
        commitLoss: r.commitLoss,
        ganLoss: r.ganLoss,
        discLoss: r.discLoss,
        adaptiveWeight: r.adaptiveWeight,
        psnr: 10 * Math.log10(4 / r.l2),
        usedFraction: r.usage.usedFraction,
        perplexity: r.usage.perplexity,
        restarted: r.restarted,
        seconds,
        elapsed: (performance.now() - started) / 1000,
      };
      await metrics.append(line);
      if (tc.evalEvery > 0 && step % tc.evalEvery === 0 && split.heldOut.length > 0) {
        const m = await reconstructionMetrics(model, split.heldOut.slice(0, tc.evalImages), {
          maxImagePixels: tc.maxImagePixels,
        });
        const v = { step, heldOutPsnr: m.psnr, heldOutSsim: m.ssim, heldOutUsedFraction: m.usage.usedFraction };
        await metrics.append(v);
        log(`step ${step}: held-out PSNR ${m.psnr.toFixed(2)} dB, SSIM ${m.ssim.toFixed(3)} on ${m.images} images`);
      }
      progress?.update(step, {
        loss: r.loss.toFixed(4),
        psnr: line.psnr.toFixed(2),
        codes: `${(r.usage.usedFraction * 100).toFixed(1)}%`,
        's/step': seconds.toFixed(2),
      });
      opts.onStep?.(step, line);
      const interrupted = opts.signal?.aborted === true && step < end;
      if (checkpointDue(step, end, tc.checkpointEvery, interrupted)) await checkpoint();
      if (interrupted) {
        log(`interrupted: checkpoint written at step ${step} (${lastCheckpoint})`);
        progress?.finish();
        return { step, losses, stopped: 'interrupted', checkpoint: lastCheckpoint };
      }
    }
    progress?.finish();
    if (Object.keys(batcher.dropped).length > 0) log(`training images skipped: ${JSON.stringify(batcher.dropped)}`);
    return { step, losses, stopped: 'done', checkpoint: lastCheckpoint };
  } finally {
    await parallel?.close();
    model.dispose();
  }
}
