// The README's library example, run as written (only the paths differ): preprocess a folder, train a
// tiny model for a few steps, load its checkpoint and generate. If this test changes, change the README.
import test from 'ava';
import { join } from 'node:path';
import {
  DEFAULT_PREPROCESS, GPT, Tokenizer, generate, latestCheckpoint, loadCheckpoint, preprocess, readDataInfo,
  resolveRunConfig, selectBackend, train,
} from '../src/index.js';
import { smallInput, tempDir } from './helpers/fixtures.js';

test('the README library example runs end to end', async (t) => {
  const input = smallInput(4, 4);
  const out = tempDir('lib-data');
  const runDir = tempDir('lib-run');

  // --- README example (begin) ---
  await selectBackend('auto', console.error);                    // tfjs-node-gpu → tfjs-node → WASM
  const manifest = await preprocess({ ...DEFAULT_PREPROCESS, inputs: [input], out, vocabSize: 1000, images: 'none' });
  console.error(`${manifest.documents.out} documents, ${manifest.tokens.total} tokens`);

  const config = await resolveRunConfig('tiny', ['steps=4', 'batchSize=2'], await readDataInfo(out));
  await train({ runDir, config });

  const tokenizer = await Tokenizer.load(join(out, 'tokenizer.model'));
  const model = new GPT(config.model, 0);
  await loadCheckpoint((await latestCheckpoint(runDir))!, model);
  const prompt = tokenizer.encode('<html><head><title>');
  const { tokens } = generate(model, [prompt], { maxNewTokens: 8, temperature: 0.8, topK: 40, stopTokens: [tokenizer.layout.eos] });
  console.error(tokenizer.decode(tokens[0]));
  // --- README example (end) ---

  t.true(manifest.documents.out >= 6);
  t.true(tokens[0].length >= 1 && tokens[0].length <= 8);
  t.true(tokens[0].every((id) => id >= 0 && id < tokenizer.layout.size));
});
