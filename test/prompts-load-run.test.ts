// loadRun: an inference bundle (config.json + model.safetensors at top level) and a training run (config.json
// with `model`, checkpoints/latest.json → step-N, written by the real checkpoint writer) both load to a model
// whose logits equal the saved one's, with the run's tokenizer and layout; each missing file is named.
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadRun, saveGPT, type GPT } from '../src/model/index.js';
import { encodeSafetensors, variablesToSafeTensors, writeCheckpointDir } from '../src/train/index.js';
import { writeVocabJson } from '../src/tokenize/index.js';
import { tempDir } from './helpers/fixtures.js';
import { promptTokenizer, randomModel } from './helpers/prompt-model.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

function logits(model: GPT, ids: number[]): Float32Array {
  const input = tf.tensor2d([ids], [1, ids.length], 'int32');
  const r = model.forward(input);
  const out = r.logits.dataSync() as Float32Array;
  tf.dispose([input, r.logits, r.aux]);
  return out;
}

async function folder(kind: 'bundle' | 'run'): Promise<{ dir: string; model: GPT }> {
  const tokenizer = await promptTokenizer();
  const model = randomModel(tokenizer, {}, 9);
  const dir = tempDir(`load-${kind}`);
  writeFileSync(join(dir, 'tokenizer.model'), tokenizer.modelData());
  await writeVocabJson(dir, tokenizer);
  if (kind === 'bundle') {
    writeFileSync(join(dir, 'config.json'), JSON.stringify(model.config));
    await saveGPT(model, join(dir, 'model.safetensors'), { step: '42' });
  } else {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model: model.config, train: {} }));
    await writeCheckpointDir(
      dir,
      7,
      {
        'model.safetensors': encodeSafetensors(variablesToSafeTensors(model.params()), {
          config: JSON.stringify(model.config),
        }),
        'state.json': JSON.stringify({ step: 7, rng: [1, 2, 3, 4], loader: {}, tokensSeen: 0, config: {} }),
      },
      2,
    );
  }
  return { dir, model };
}

for (const kind of ['bundle', 'run'] as const) {
  test(`loadRun reads a ${kind}: same logits, the run's tokenizer and layout`, async (t) => {
    const { dir, model } = await folder(kind);
    const run = await loadRun(dir);
    const tok = await promptTokenizer();
    const ids = tok.encode('<html><head><title>Filters</title>');
    t.deepEqual(Array.from(logits(run.model, ids)), Array.from(logits(model, ids)));
    t.is(run.step, kind === 'bundle' ? 42 : 7);
    t.is(run.source.kind, kind);
    t.deepEqual(run.layout, tok.layout);
    t.is(run.tokenizer.hash(), tok.hash());
    t.deepEqual(run.config, model.config);
    run.model.dispose();
    model.dispose();
  });
}

test('loadRun names the missing file', async (t) => {
  await t.throwsAsync(loadRun(join(tempDir('load-none'), 'nope')), {
    code: 'INPUT_NOT_FOUND',
    message: /no such run or bundle/,
  } as never);
  for (const file of ['config.json', 'vocab.json', 'tokenizer.model', 'model.safetensors']) {
    const { dir, model } = await folder('bundle');
    model.dispose();
    rmSync(join(dir, file));
    const err = await t.throwsAsync(loadRun(dir));
    t.is((err as { code?: string }).code, 'INPUT_NOT_FOUND', file);
    t.true(err!.message.includes(file), `${file}: ${err!.message}`);
  }
  const { dir, model } = await folder('run');
  model.dispose();
  rmSync(join(dir, 'checkpoints'), { recursive: true });
  await t.throwsAsync(loadRun(dir), { message: /latest\.json/ });
});
