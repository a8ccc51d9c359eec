// The training loop (src/model/train.ts) with the `tiny` preset on synthetic shards, real engine:
// 6 steps equal 3 steps + resume + 3 steps bit for bit, at dropout 0 and 0.1; tensor count stays flat across steps; a huge
// learning rate stops with TRAIN_NON_FINITE naming the step and keeps the last good checkpoint; an
// abort (SIGINT) checkpoints and resumes; metrics.jsonl and loss.png are written; the loss falls.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { selectBackend } from '../src/backend/index.js';
import { HyperlmError } from '../src/errors.js';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { latestCheckpoint } from '../src/train/index.js';
import { readDataInfo } from '../src/model/loader.js';
import { resolveRunConfig, type RunConfig } from '../src/model/train-config.js';
import { train } from '../src/model/train.js';
import { tempDir } from './helpers/fixtures.js';
import { writeSyntheticData } from './helpers/train-shards.js';

let dataDir: string;

test.before(async () => {
  await selectBackend('wasm');
  dataDir = (await writeSyntheticData(tempDir('train-data'), { train: 60, valid: 10 })).dir;
});

async function config(sets: string[]): Promise<RunConfig> {
  const base = ['batchSize=2', 'evalEvery=0', 'evalBatches=2', 'checkpointEvery=3', 'optim.warmupSteps=2'];
  return resolveRunConfig('tiny', [...base, ...sets], await readDataInfo(dataDir));
}

test.serial('6 steps in one run equal 3 steps + resume + 3 steps, exactly', async (t) => {
  const c = await config(['steps=6']);
  const full = await train({ runDir: tempDir('run-full'), config: c });
  t.is(c.model.dropout, 0);
  t.is(full.losses.length, 6);
  const runDir = tempDir('run-resumed');
  const ac = new AbortController();
  const first = await train({
    runDir,
    config: c,
    signal: ac.signal,
    onStep: (s) => {
      if (s === 3) ac.abort();
    },
  });
  t.is(first.stopped, 'interrupted');
  t.is(first.step, 3);
  const second = await train({ runDir, config: c, resume: true });
  t.is(second.stopped, 'done');
  t.deepEqual([...first.losses, ...second.losses], full.losses);
  // metrics.jsonl of the resumed run holds each step once, with the same losses
  const lines = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    lines.filter((l) => 'loss' in l).map((l) => l.loss),
    full.losses,
  );
  t.true(
    lines.every((l) =>
      'loss' in l ? Number.isFinite(l.gradNorm) && Number.isFinite(l.tokPerSec) && Array.isArray(l.moe) : true,
    ),
  );
  t.is(lines[0].moe[0].load.length, 4, 'MoE load fractions per expert are logged');
  t.true(existsSync(join(runDir, 'loss.png')));
  const png = readFileSync(join(runDir, 'loss.png'));
  t.is(png.subarray(1, 4).toString('latin1'), 'PNG');
});

test.serial('with dropout 0.1, 6 steps in one run equal 3 steps + resume + 3 steps, exactly', async (t) => {
  const c = await config(['steps=6', 'dropout=0.1']);
  const full = await train({ runDir: tempDir('run-drop-full'), config: c });
  const noDropout = await train({ runDir: tempDir('run-drop-0'), config: await config(['steps=1']) });
  t.not(full.losses[0], noDropout.losses[0], 'dropout changes the first loss (same weights, same batch)');
  const runDir = tempDir('run-drop-resumed');
  const ac = new AbortController();
  const first = await train({
    runDir,
    config: c,
    signal: ac.signal,
    onStep: (s) => {
      if (s === 3) ac.abort();
    },
  });
  t.is(first.step, 3);
  const second = await train({ runDir, config: c, resume: true });
  t.deepEqual([...first.losses, ...second.losses], full.losses);
  const again = await train({ runDir: tempDir('run-drop-again'), config: c });
  t.deepEqual(again.losses, full.losses, 'a fresh run with the same seed repeats the losses');
});

test.serial('an abort mid-interval writes a checkpoint at that step', async (t) => {
  const runDir = tempDir('run-abort');
  const ac = new AbortController();
  const r = await train({
    runDir,
    config: await config(['steps=10', 'checkpointEvery=100']),
    signal: ac.signal,
    onStep: (s) => {
      if (s === 2) ac.abort();
    },
  });
  t.is(r.stopped, 'interrupted');
  const ck = await latestCheckpoint(runDir);
  t.truthy(ck);
  t.is((await loadCheckpoint(ck!)).step, 2);
});

test.serial('memory stays flat: the tensor count is equal across steps after warm-up', async (t) => {
  const counts: number[] = [];
  await train({
    runDir: tempDir('run-leak'),
    config: await config(['steps=6', 'evalEvery=2', 'checkpointEvery=2']),
    onStep: () => counts.push(tf.memory().numTensors),
  });
  t.is(counts.length, 6);
  t.deepEqual(counts.slice(1), new Array(5).fill(counts[1]), `numTensors per step: ${counts.join(', ')}`);
});

test.serial('a NaN/Inf loss stops with the step named and keeps the last good checkpoint', async (t) => {
  const runDir = tempDir('run-nan');
  const err = await t.throwsAsync(
    train({
      runDir,
      config: await config([
        'steps=8',
        'checkpointEvery=1',
        'optim.lr=1e30',
        'optim.warmupSteps=0',
        'optim.clipNorm=0',
      ]),
    }),
  );
  t.true(err instanceof HyperlmError);
  t.is((err as HyperlmError).code, 'TRAIN_NON_FINITE');
  const step = Number(/step (\d+)/.exec(err!.message)![1]);
  t.true(step >= 2, err!.message);
  t.regex(err!.message, /last good checkpoint is .*step-0+\d/);
  const ck = await latestCheckpoint(runDir);
  const state = await loadCheckpoint(ck!);
  t.is(state.step, step - 1, 'the newest checkpoint is the step before the failure');
});

test.serial('the loss falls on learnable data, and validation loss is logged', async (t) => {
  const runDir = tempDir('run-learn');
  const r = await train({
    runDir,
    config: await config(['steps=40', 'batchSize=4', 'evalEvery=20', 'checkpointEvery=40', 'optim.lr=3e-3']),
  });
  const head = r.losses.slice(0, 5).reduce((a, b) => a + b) / 5;
  const tail = r.losses.slice(-5).reduce((a, b) => a + b) / 5;
  t.true(tail < head - 0.5, `loss ${head.toFixed(3)} → ${tail.toFixed(3)}`);
  const vals = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((l) => 'valLoss' in l);
  t.deepEqual(
    vals.map((v) => v.step),
    [20, 40],
  );
  t.true(vals[1].valLoss < vals[0].valLoss + 0.5);
  t.true(Math.abs(vals[1].valPpl - Math.exp(vals[1].valLoss)) < 1e-6 * vals[1].valPpl);
});

test.serial('a run folder with checkpoints refuses to start over without --resume', async (t) => {
  const runDir = tempDir('run-twice');
  const c = await config(['steps=1', 'checkpointEvery=1']);
  await train({ runDir, config: c });
  const err = await t.throwsAsync(train({ runDir, config: c }));
  t.regex(err!.message, /--resume/);
});
