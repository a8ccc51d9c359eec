// The language model's inference bundle: exported from a run's latest checkpoint as float16 weights beside
// the run's config, tokenizer and vocabulary, it loads (loadRun) to the run's logits within float16
// rounding, at about half the checkpoint's bytes; a run without a checkpoint is a named error.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { selectBackend } from '../src/backend/index.js';
import { DEFAULT_PREPROCESS, preprocess } from '../src/pipeline/index.js';
import { exportModelBundle, loadRun, readDataInfo, resolveRunConfig, train } from '../src/model/index.js';
import { latestCheckpoint } from '../src/train/index.js';
import { smallInput, tempDir } from './helpers/fixtures.js';

test("a bundle exported from a run loads to the run's logits (float16) at half the weight bytes", async (t) => {
  await selectBackend('wasm');
  const data = tempDir('bundle-data'),
    run = tempDir('bundle-run'),
    bundle = join(tempDir('bundle-out'), 'model');
  await preprocess({
    ...DEFAULT_PREPROCESS,
    inputs: [smallInput(2, 4)],
    out: data,
    vocabSize: 600,
    images: 'none',
    workers: 1,
  });
  await t.throwsAsync(exportModelBundle(run, bundle), { code: 'INPUT_NOT_FOUND', message: /no checkpoint/ } as never);
  const config = await resolveRunConfig('tiny', ['steps=2', 'batchSize=2', 'evalEvery=0'], await readDataInfo(data));
  await train({ runDir: run, config });

  const { bytes, step } = await exportModelBundle(run, bundle);
  t.is(step, 2);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.model', 'vocab.json', 'metrics.jsonl'])
    t.true(existsSync(join(bundle, f)), f);
  const checkpointBytes = statSync(join((await latestCheckpoint(run))!, 'model.safetensors')).size;
  t.true(bytes < 0.55 * checkpointBytes, `${bytes} vs ${checkpointBytes}`);
  t.is(JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')).bundle.dtype, 'F16');

  const a = await loadRun(run),
    b = await loadRun(bundle);
  t.is(b.source.kind, 'bundle');
  t.is(b.step, 2);
  t.deepEqual(b.train, a.train, "the bundle keeps the run's training settings (eval's CM3 objective reads them)");
  t.deepEqual(a.train?.cm3, JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).train.cm3);
  const ids = tf.tensor2d([a.tokenizer.encode('<html><head><title>Install').slice(0, 16)], undefined, 'int32');
  const la = a.model.forward(ids).logits,
    lb = b.model.forward(ids).logits;
  const diff = la.sub(lb).abs().max().dataSync()[0];
  t.log(`max |Δlogit| run vs float16 bundle: ${diff.toExponential(2)}`);
  t.true(diff > 0 && diff < 5e-2);
  tf.dispose([ids, la, lb]);
  a.model.dispose();
  b.model.dispose();
});
