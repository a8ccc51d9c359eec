// End to end on the bundled sample: preprocess() a few pages and code files into real shards (trained
// tokenizer, CM3 on the fly in the loader), train `tiny` on them, and check that the loss falls, the run
// folder is self-contained (tokenizer copy, config, metrics, loss.png, checkpoint), and the model
// continues a prompt through the run's tokenizer.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { selectBackend } from '../src/backend/index.js';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { latestCheckpoint } from '../src/train/index.js';
import { generate } from '../src/model/generate.js';
import { GPT } from '../src/model/gpt.js';
import { readDataInfo } from '../src/model/loader.js';
import { resolveRunConfig } from '../src/model/train-config.js';
import { readRunConfig, train } from '../src/model/train.js';
import { preprocess } from '../src/pipeline/preprocess.js';
import { Tokenizer } from '../src/tokenize/tokenizer.js';
import { smallInput, tempDir, tinyConfig } from './helpers/fixtures.js';

test('tiny trains on preprocessed sample shards: loss falls and the run folder is self-contained', async (t) => {
  await selectBackend('wasm');
  const out = tempDir('e2e-data');
  await preprocess(tinyConfig([smallInput(4, 4)], out, { imageCodes: 16 }));
  const info = await readDataInfo(out);
  const runDir = tempDir('e2e-run');
  const config = await resolveRunConfig(
    'tiny',
    ['steps=30', 'batchSize=4', 'evalEvery=30', 'checkpointEvery=30', 'optim.lr=3e-3', 'optim.warmupSteps=3'],
    info,
  );
  t.is(config.model.vocabSize, info.layout.size);
  const r = await train({ runDir, config });
  const head = r.losses.slice(0, 3).reduce((a, b) => a + b) / 3;
  const tail = r.losses.slice(-3).reduce((a, b) => a + b) / 3;
  t.true(tail < head - 0.3, `loss ${head.toFixed(3)} → ${tail.toFixed(3)}`);
  for (const f of ['tokenizer.model', 'vocab.json', 'config.json', 'metrics.jsonl', 'loss.png'])
    t.true(existsSync(join(runDir, f)), f);
  t.deepEqual(readFileSync(join(runDir, 'tokenizer.model')), readFileSync(join(out, 'tokenizer.model')));

  const saved = await readRunConfig(runDir);
  const model = new GPT(saved.model, 0);
  await loadCheckpoint((await latestCheckpoint(runDir))!, model);
  const tok = await Tokenizer.load(join(runDir, 'tokenizer.model'), {
    imageCodes: info.layout.size - (info.layout as { imageBase?: number }).imageBase!,
  });
  const prompt = tok.encode('<p>The ');
  const g = generate(model, [prompt], { maxNewTokens: 8 });
  t.is(g.tokens[0].length, 8);
  t.is(typeof tok.decode(g.tokens[0]), 'string');
  model.dispose();
});
