// Shared fixtures for the infill server's tests: a small code tokenizer trained on the bundled semver
// sources, and model folders in the two layouts the server loads — a training run trained here for a few
// seconds on a handful of tiny files (so greedy infilling of those files is learnt and ends in <eom>), and
// an untrained bundle (config.json + model.safetensors at the top) for tests that only need a real engine.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveModelConfig } from '../../src/model/config.js';
import { GPT } from '../../src/model/gpt.js';
import { encodeSafetensors, variablesToSafeTensors } from '../../src/train/index.js';
import { resolveRunConfig } from '../../src/model/train-config.js';
import { train } from '../../src/model/train.js';
import { readDataInfo } from '../../src/model/loader.js';
import { preprocess } from '../../src/pipeline/preprocess.js';
import { trainBpe } from '../../src/tokenize/bpe-trainer.js';
import { Tokenizer } from '../../src/tokenize/tokenizer.js';
import { writeVocabJson } from '../../src/tokenize/vocab.js';
import { SAMPLE, tempDir, tinyConfig, walk } from './fixtures.js';

/** Source files the tokenizer is trained on. */
export function semverSources(): string[] {
  return walk(join(SAMPLE, 'code/semver-7.8.6'))
    .filter((f) => f.endsWith('.js'))
    .map((f) => readFileSync(f, 'utf8'));
}

/** A BPE tokenizer (no image codes) trained on the semver sources. */
export async function codeTokenizer(vocabSize = 700): Promise<Tokenizer> {
  return Tokenizer.fromBytes(trainBpe(semverSources(), { vocabSize, imageCodes: 0 }), { imageCodes: 0 });
}

/** The toy project the test model learns by heart (CM3-masked differently in every epoch). */
export const TOY_FILES: Record<string, string> = {
  'src/add.js': 'export function add(a, b) {\n  return a + b;\n}\n',
  'src/greet.js': 'export function greet(name) {\n  console.log("hello " + name);\n}\n',
};

/**
 * A training run (config.json, checkpoints/, tokenizer.model, vocab.json) of a tiny dense model trained for
 * a few seconds on TOY_FILES, CM3-masked on the fly: short documents make `<mask:0> span <eom>` frequent,
 * so greedy infilling soon learns to close spans with <eom>. Returns the run folder.
 */
export async function trainToyRun(opts: { steps?: number; blockSize?: number; sets?: string[] } = {}): Promise<string> {
  const input = tempDir('serve-input');
  for (const [rel, text] of Object.entries(TOY_FILES)) {
    mkdirSync(join(input, rel, '..'), { recursive: true });
    writeFileSync(join(input, rel), text);
  }
  const data = tempDir('serve-data');
  await preprocess(
    tinyConfig([input], data, { vocabSize: 560, images: 'none', validFraction: 0, tokenizerSampleMb: 1 }),
  );
  const runDir = tempDir('serve-run');
  const config = await resolveRunConfig(
    'tiny',
    [
      `steps=${opts.steps ?? 60}`,
      'batchSize=4',
      'evalEvery=0',
      'checkpointEvery=1000',
      'optim.lr=1e-2',
      'optim.warmupSteps=5',
      `blockSize=${opts.blockSize ?? 96}`,
      'moe.every=0',
      ...(opts.sets ?? []),
    ],
    await readDataInfo(data),
  );
  await train({ runDir, config });
  return runDir;
}

/** An untrained bundle: config.json (a run config), model.safetensors, tokenizer.model, vocab.json. */
export async function randomBundle(opts: { blockSize?: number; seed?: number } = {}): Promise<string> {
  const tokenizer = await codeTokenizer();
  const dir = tempDir('serve-bundle');
  const model = resolveModelConfig('tiny', {
    vocabSize: tokenizer.layout.size,
    blockSize: opts.blockSize ?? 128,
    'moe.every': 0,
    initStd: 0.1,
  });
  const gpt = new GPT(model, opts.seed ?? 1);
  writeFileSync(
    join(dir, 'model.safetensors'),
    encodeSafetensors(variablesToSafeTensors(gpt.params()), { config: JSON.stringify(model) }),
  );
  gpt.dispose();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model }));
  writeFileSync(join(dir, 'tokenizer.model'), tokenizer.modelData());
  await writeVocabJson(dir, tokenizer);
  return dir;
}
