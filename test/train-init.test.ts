// Fine-tuning with --init (src/model/init-from.ts and train.ts): a new run started from a tiny dense run, or
// from a bundle made of it (float16 weights), computes the source's logits before its first update (the
// first step's loss equals the source model's loss on that batch, computed here by hand), keeps the
// source's model config, starts AdamW fresh; a vocabulary that differs from the data's is a named
// error giving both sizes, and a shape-changing override is refused.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { selectBackend } from '../src/backend/index.js';
import { HyperlmError } from '../src/errors.js';
import { exportModelBundle } from '../src/model/bundle.js';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { latestCheckpoint } from '../src/train/index.js';
import { GPT } from '../src/model/gpt.js';
import { initRunConfig, readInitSource } from '../src/model/init-from.js';
import { ShardLoader, readDataInfo } from '../src/model/loader.js';
import { resolveRunConfig } from '../src/model/train-config.js';
import { readRunConfig, train } from '../src/model/train.js';
import { loadGPTWeights } from '../src/model/weights.js';
import { readSafetensors, writeSafetensors } from '../src/train/safetensors.js';
import { REPO, tempDir } from './helpers/fixtures.js';
import { writeSyntheticData } from './helpers/train-shards.js';

let dataDir: string;
let sourceRun: string;

test.before(async () => {
  await selectBackend('wasm');
  dataDir = (await writeSyntheticData(tempDir('init-data'), { train: 30, valid: 6 })).dir;
  sourceRun = tempDir('init-source');
  const c = await resolveRunConfig(
    'tiny',
    [
      'moe.every=0',
      'steps=4',
      'batchSize=2',
      'evalEvery=0',
      'checkpointEvery=4',
      'optim.lr=1e-2',
      'optim.warmupSteps=1',
    ],
    await readDataInfo(dataDir),
  );
  await train({ runDir: sourceRun, config: c });
});

async function sourceModel(): Promise<GPT> {
  const saved = await readRunConfig(sourceRun);
  const m = new GPT(saved.model, 99);
  await loadCheckpoint((await latestCheckpoint(sourceRun))!, m);
  return m;
}

function logits(m: GPT, ids: number[][]): Float32Array {
  return tf.tidy(
    () => m.forward(tf.tensor2d(ids, [ids.length, ids[0].length], 'int32')).logits.dataSync() as Float32Array,
  );
}

test.serial(
  "init from a run: the source config and weights (same logits), and the first step's loss is the source's on that batch",
  async (t) => {
    const data = await readDataInfo(dataDir);
    const source = await readInitSource(sourceRun);
    t.is(source.kind, 'run');
    const config = initRunConfig(
      source,
      sourceRun,
      ['steps=1', 'batchSize=2', 'evalEvery=0', 'seed=77', 'dropout=0'],
      data,
    );
    t.deepEqual(config.model, (await readRunConfig(sourceRun)).model);
    t.is(config.train.seed, 77);

    const src = await sourceModel();
    const fresh = new GPT(config.model, config.train.seed);
    const ids = [
      [23, 24, 25, 26, 27, 28, 29, 30],
      [40, 41, 6, 43, 44, 22, 2, 50],
    ];
    t.notDeepEqual(logits(fresh, ids), logits(src, ids), 'a fresh model differs from the source');
    await loadGPTWeights(fresh, config.init!);
    t.deepEqual(logits(fresh, ids), logits(src, ids));

    // through train(): the loss of step 1 is computed on the initial weights
    const loader = await ShardLoader.open(dataDir, {
      split: 'train',
      blockSize: config.model.blockSize,
      seed: 77,
      byDomain: false,
      cm3: config.train.cm3,
    });
    const b = await loader.nextBatch(2);
    await loader.close();
    const T = config.model.blockSize;
    const expected = tf.tidy(
      () =>
        src
          .loss(
            tf.tensor2d(b.ids, [2, T], 'int32'),
            tf.tensor2d(b.targets, [2, T], 'int32'),
            tf.tensor2d(b.weights, [2, T], 'float32'),
            { training: false, domains: b.domains },
          )
          .loss.dataSync()[0],
    );
    const r = await train({ runDir: tempDir('init-run'), config });
    t.true(Math.abs(r.losses[0] - expected) < 1e-4, `first loss ${r.losses[0]} vs source ${expected}`);
    const scratch = await train({ runDir: tempDir('init-scratch'), config: { ...config, init: undefined } });
    t.true(Math.abs(scratch.losses[0] - expected) > 0.05, "without --init the first loss is a fresh model's");
    [fresh, src].forEach((m) => m.dispose());
  },
);

test.serial(
  "init from a bundle (config.json + float16 model.safetensors) gives the source's logits to float16 precision",
  async (t) => {
    const bundle = tempDir('init-bundle');
    mkdirSync(bundle, { recursive: true });
    const saved = await readRunConfig(sourceRun);
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(saved.model));
    const weights = join((await latestCheckpoint(sourceRun))!, 'model.safetensors');
    const { tensors } = await readSafetensors(weights);
    const half = new Map([...tensors].map(([name, v]) => [name, { ...v, dtype: 'F16' as const }]));
    await writeSafetensors(join(bundle, 'model.safetensors'), half);
    copyFileSync(join(sourceRun, 'vocab.json'), join(bundle, 'vocab.json'));
    const source = await readInitSource(bundle);
    t.is(source.kind, 'bundle');
    const config = initRunConfig(source, bundle, ['steps=1'], await readDataInfo(dataDir));
    const m = new GPT(config.model, 1);
    await loadGPTWeights(m, config.init!);
    const src = await sourceModel();
    const ids = [[23, 24, 25, 26, 27, 28, 29, 30]];
    const a = logits(m, ids),
      b = logits(src, ids);
    const worst = a.reduce((w, x, i) => Math.max(w, Math.abs(x - b[i])), 0);
    t.true(worst < 0.05, `max logit difference ${worst}`);
    t.true(readFileSync(source.weights).length < 0.6 * readFileSync(weights).length, 'the bundle really is float16');
    [m, src].forEach((x) => x.dispose());
  },
);

test.serial('init from a bundle written by the exporter (its config.json is a whole run config)', async (t) => {
  const bundle = tempDir('init-exported');
  copyFileSync(join(REPO, 'data/model/tokenizer.model'), join(sourceRun, 'tokenizer.model'));
  await exportModelBundle(sourceRun, bundle);
  const source = await readInitSource(bundle);
  t.is(source.kind, 'bundle');
  t.is(source.weights, join(bundle, 'model.safetensors'));
  t.deepEqual(source.model, (await readRunConfig(sourceRun)).model);
  const empty = tempDir('init-empty');
  mkdirSync(empty, { recursive: true });
  writeFileSync(join(empty, 'config.json'), JSON.stringify(await readRunConfig(sourceRun)));
  const err = await t.throwsAsync(readInitSource(empty), { instanceOf: HyperlmError });
  t.regex(err!.message, /neither a training run with checkpoints .* nor a bundle .*model\.safetensors/);
});

test.serial(
  "a vocabulary that differs from the data's is TRAIN_VOCAB_MISMATCH naming both sizes; shape-changing overrides are refused",
  async (t) => {
    const other = (await writeSyntheticData(tempDir('init-other'), { train: 4, valid: 2 })).dir;
    const vocab = JSON.parse(readFileSync(join(other, 'vocab.json'), 'utf8'));
    vocab.layout.size = 80;
    writeFileSync(join(other, 'vocab.json'), JSON.stringify(vocab));
    const source = await readInitSource(sourceRun);
    const info = await readDataInfo(other);
    const err = t.throws(() => initRunConfig(source, sourceRun, [], info), { instanceOf: HyperlmError });
    t.is((err as HyperlmError).code, 'TRAIN_VOCAB_MISMATCH');
    t.regex(err!.message, /64 ids.*has 80/);
    const data = await readDataInfo(dataDir);
    const bad = t.throws(() => initRunConfig(source, sourceRun, ['nLayer=4'], data), { instanceOf: HyperlmError });
    t.regex(bad!.message, /nLayer would change/);
    t.notThrows(() => initRunConfig(source, sourceRun, ['dropout=0.1', 'blockSize=64', 'optim.lr=1e-4'], data));
  },
);
