// Data-parallel training (src/model/gradient-workers.ts through src/model/train.ts): one batch's
// gradient from 2 worker threads equals the single-thread gradient of the whole batch; params set on
// the workers arrive byte-identical in every replica (both with dropout 0.1: masks are drawn per global
// batch row); a dense run with dropout 0.1 and --workers 2 follows the 1-worker loss sequence within
// float tolerance and still resumes exactly; an MoE run logs routing from workers.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { selectBackend } from '../src/backend/index.js';
import { latestCheckpoint } from '../src/train/index.js';
import { GPT } from '../src/model/gpt.js';
import { LocalGradients, WorkerGradients } from '../src/model/gradient-workers.js';
import { ShardLoader, readDataInfo } from '../src/model/loader.js';
import { decodeSafetensors } from '../src/train/safetensors.js';
import { resolveRunConfig, type RunConfig } from '../src/model/train-config.js';
import { train } from '../src/model/train.js';
import { tempDir } from './helpers/fixtures.js';
import { writeSyntheticData } from './helpers/train-shards.js';

let dataDir: string;

test.before(async () => {
  await selectBackend('wasm');
  dataDir = (await writeSyntheticData(tempDir('workers-data'), { train: 60, valid: 10 })).dir;
});

async function config(sets: string[]): Promise<RunConfig> {
  const base = ['batchSize=4', 'evalEvery=0', 'evalBatches=2', 'checkpointEvery=3', 'optim.warmupSteps=2'];
  return resolveRunConfig('tiny', [...base, ...sets], await readDataInfo(dataDir));
}

test.serial('2 workers give the full-batch gradient, and set params reach every replica byte for byte', async (t) => {
  const c = await config(['moe.every=0', 'dropout=0.1']);
  const loader = await ShardLoader.open(dataDir, {
    blockSize: c.model.blockSize,
    seed: 3,
    split: 'train',
    byDomain: false,
  });
  const batch = await loader.nextBatch(4);
  await loader.close();
  batch.weights[5] = 0; // uneven target weight across the two halves: the slices must be weighted by it
  const model = new GPT(c.model, 9);
  const local = await new LocalGradients(model).compute(batch, 1, 5);
  const otherMasks = await new LocalGradients(model).compute(batch, 1, 6);
  t.true(Math.abs(otherMasks.loss - local.loss) > 1e-4, 'dropout is on: another dropout seed gives another loss');
  const workers = await WorkerGradients.start(model, 9, 2);
  try {
    const dp = await workers.compute(batch, 1, 5);
    t.true(Math.abs(dp.loss - local.loss) < 1e-5, `loss ${dp.loss} vs ${local.loss}`);
    let worst = 0,
      norm = 0;
    for (let i = 0; i < local.grads.length; i++) {
      worst = Math.max(worst, Math.abs(dp.grads[i] - local.grads[i]));
      norm = Math.max(norm, Math.abs(local.grads[i]));
    }
    t.true(worst <= 1e-5 * norm, `max |Δgrad| ${worst} vs max |grad| ${norm}`);
    const theta = Float32Array.from(local.grads, (g, i) => Math.sin(i) * 0.1 + g);
    await workers.setParams(theta);
    const replicas = await workers.replicaParams();
    t.is(replicas.length, 2);
    for (const r of replicas)
      t.true(
        Buffer.from(r.buffer, r.byteOffset, r.byteLength).equals(Buffer.from(theta.buffer)),
        'replica params differ from the broadcast',
      );
  } finally {
    await workers.close();
    model.dispose();
  }
});

function checkpointParams(dir: string): Map<string, Float32Array> {
  const { tensors } = decodeSafetensors(readFileSync(join(dir, 'model.safetensors')), dir);
  return new Map([...tensors].map(([k, v]) => [k, Float32Array.from(v.data)]));
}

test.serial(
  'a dense run with dropout and 2 workers follows the 1-worker losses, and both resume exactly',
  async (t) => {
    const c = await config(['moe.every=0', 'steps=6', 'dropout=0.1']);
    const oneDir = tempDir('w1');
    const one = await train({ runDir: oneDir, config: c, workers: 1 });
    const two = await train({ runDir: tempDir('w2'), config: c, workers: 2 });
    t.is(two.losses.length, 6);
    two.losses.forEach((l, i) => t.true(Math.abs(l - one.losses[i]) < 1e-4, `step ${i + 1}: ${l} vs ${one.losses[i]}`));
    const p1 = checkpointParams((await latestCheckpoint(oneDir))!);
    const p2 = checkpointParams(two.checkpoint!);
    let worst = 0;
    for (const [k, v] of p1) for (let i = 0; i < v.length; i++) worst = Math.max(worst, Math.abs(v[i] - p2.get(k)![i]));
    t.true(worst < 1e-3, `checkpointed params differ by up to ${worst}`);

    const runDir = tempDir('w2-resumed');
    const ac = new AbortController();
    const first = await train({
      runDir,
      config: c,
      workers: 2,
      signal: ac.signal,
      onStep: (s) => {
        if (s === 3) ac.abort();
      },
    });
    t.is(first.stopped, 'interrupted');
    const second = await train({ runDir, config: c, workers: 2, resume: true });
    t.deepEqual([...first.losses, ...second.losses], two.losses);

    const oneResumed = tempDir('w1-resumed');
    const ac1 = new AbortController();
    const head = await train({
      runDir: oneResumed,
      config: c,
      workers: 1,
      signal: ac1.signal,
      onStep: (s) => {
        if (s === 3) ac1.abort();
      },
    });
    const tail = await train({ runDir: oneResumed, config: c, workers: 1, resume: true });
    t.deepEqual([...head.losses, ...tail.losses], one.losses);
  },
);

test.serial('an MoE run with 2 workers logs expert load from the workers', async (t) => {
  const runDir = tempDir('w2-moe');
  const r = await train({ runDir, config: await config(['steps=2']), workers: 2 });
  t.is(r.losses.length, 2);
  const lines = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((l) => 'loss' in l);
  for (const l of lines) {
    t.is(l.moe.length, 1);
    t.is(l.moe[0].load.length, 4);
    t.true(
      Math.abs(l.moe[0].load.reduce((a: number, b: number) => a + b, 0) + l.moe[0].dropRate - 1) < 1e-6,
      'load fractions and drop rate add up to 1',
    );
    t.true(l.moe[0].entropy > 0);
  }
});
