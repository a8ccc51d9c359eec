// The model path of the harness on a tiny model trained here (as test/library-example.test.ts does): the
// harness's model predictions are exactly what the prompt library's run functions return for the same
// page, prompts are the documented strings, image_gen reports finite PSNR/SSIM and a log-probability score,
// one failing item is recorded instead of stopping the run, and the n-gram baseline trained on the run's
// shards (found through RUN/config.json) reproduces a line it has seen.
import test from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PREPROCESS, preprocess, readDataInfo, resolveRunConfig, selectBackend, train } from '../src/index.js';
import { HyperlmError } from '../src/errors.js';
import { runTitle } from '../src/prompts/index.js';
import {
  EvalModel,
  evaluate,
  ngramSystem,
  readTaskFile,
  runDataDir,
  taskSystems,
  tolerant,
  type InfillRow,
} from '../src/prompts/eval/index.js';
import { REPO, smallInput, tempDir } from './helpers/fixtures.js';

const ROOT = join(REPO, 'test/fixtures/eval-sample');
const VQGAN = join(REPO, 'data/vqgan');
const SEEN_LINE = '  const zebraQuokka = computeFlux(marmotOffset, 4217) * wombatScale;\n';
const SEEN_PREFIX = 'export function makeFluxCapacitor(marmotOffset, wombatScale) {\n';
const SEEN_NEXT = '  return zebraQuokka + marmotOffset;\n';

let shared: Promise<{ dataDir: string; runDir: string }> | undefined;
/** Preprocess a few sample files plus one distinctive source file, train `tiny` for 4 steps with room for an image. */
function tinyRun(): Promise<{ dataDir: string; runDir: string }> {
  shared ??= (async () => {
    await selectBackend('auto', () => {});
    const input = smallInput(4, 4);
    mkdirSync(join(input, 'code/flux'), { recursive: true });
    for (let i = 0; i < 3; i++)
      writeFileSync(join(input, `code/flux/flux${i}.js`), `${SEEN_PREFIX}${SEEN_LINE}${SEEN_NEXT}}\n`);
    const dataDir = tempDir('eval-data');
    const runDir = tempDir('eval-run');
    await preprocess({
      ...DEFAULT_PREPROCESS,
      inputs: [input],
      out: dataDir,
      vocabSize: 1000,
      images: 'none',
      workers: 1,
      validFraction: 0.01,
    });
    const config = await resolveRunConfig(
      'tiny',
      ['steps=4', 'batchSize=2', 'blockSize=384'],
      await readDataInfo(dataDir),
    );
    await train({ runDir, config, log: () => {} });
    return { dataDir, runDir };
  })();
  return shared;
}

test('summarize: the harness returns what runTitle returns, with the documented prompts', async (t) => {
  const { runDir } = await tinyRun();
  const model = await EvalModel.load(runDir);
  const rows = (await readTaskFile('summarize', join(ROOT, 'tasks/summarize.jsonl'), ROOT)).slice(0, 2);
  const { records, summary } = await evaluate({
    task: 'summarize',
    rows,
    systems: taskSystems('summarize', { model: model.systems('summarize', { numBeams: 2 }) }),
  });
  t.deepEqual(
    summary.map((s) => s.name),
    ['model:title', 'model:title-no-h1', 'model:description', 'first-heading', 'lead-10'],
  );
  for (const [i, row] of rows.entries()) {
    const got = records[i].systems['model:title'];
    const direct = await runTitle(
      { model: model.run.model, tokenizer: model.run.tokenizer },
      readFileSync(row.file, 'utf8'),
      { numBeams: 2, source: row.file },
    );
    t.is(got.prediction, direct.prediction);
    t.is(got.metrics.failed, 0);
    t.true(got.prompt!.startsWith('<html><head><title><mask:0></title></head><body>'), got.prompt);
    t.true(
      records[i].systems['model:description'].prompt!.includes(
        '<head><meta content="<mask:0>" name="description"></head><body>',
      ),
    );
    t.true(Number.isFinite(got.metrics.rouge1));
  }
  t.is(summary[0].means.failed, 0);
  model.dispose();
});

test('caption and image_gen: VQGAN codes in the prompt, finite PSNR/SSIM and a model score', async (t) => {
  const { runDir } = await tinyRun();
  const model = await EvalModel.load(runDir);
  const rows = (await readTaskFile('caption', join(ROOT, 'tasks/caption.jsonl'), ROOT)).slice(1, 2);
  const cap = await evaluate({
    task: 'caption',
    rows,
    maxPromptChars: 1e6,
    systems: model.systems('caption', { vqgan: VQGAN, numBeams: 2 }),
  });
  const c = cap.records[0].systems.model;
  t.is(c.metrics.failed, 0, JSON.stringify(c.extra));
  t.regex(
    c.prompt!,
    /(<img alt="<mask:0>" src="<image>(<img:\d+>){256}<\/image>"><mask:0>|<img src="<image>(<img:\d+>){256}<\/image>" title=")$/,
  );
  t.true(Number.isFinite(cap.summary[0].means.ciderD));
  const gen = await evaluate({
    task: 'image_gen',
    rows,
    systems: model.systems('image_gen', { vqgan: VQGAN, imageSamples: 1, seed: 3 }),
  });
  const m = gen.records[0].systems.model.metrics;
  t.is(m.failed, 0, JSON.stringify(gen.records[0].systems.model.extra));
  t.true(m.infillPsnr > 0 && Number.isFinite(m.infillPsnr));
  t.true(m.infillSsim >= -1 && m.infillSsim <= 1);
  t.true(m.ownScore < 0);
  t.is(gen.records[0].systems.model.prompt, `<img alt="${rows[0].alt}" src="<image>`);
  model.dispose();
});

test('infill: the InCoder prompt with both sentinels, left to right without them; lines end at one newline', async (t) => {
  const { runDir } = await tinyRun();
  const model = await EvalModel.load(runDir);
  const rows = await readTaskFile('infill_line', join(ROOT, 'tasks/infill_line.jsonl'), ROOT);
  const { records, summary } = await evaluate({
    task: 'infill_line',
    rows,
    maxPromptChars: 1e6,
    systems: model.systems('infill_line', { mode: 'both' }),
  });
  t.deepEqual(
    summary.map((s) => s.name),
    ['model:infill', 'model:ltr'],
  );
  for (const [i, row] of rows.entries()) {
    const inf = records[i].systems['model:infill'];
    const ltr = records[i].systems['model:ltr'];
    t.is(inf.metrics.failed, 0, JSON.stringify(inf.extra));
    t.true(inf.prompt!.startsWith(`<| file lang=javascript path=${row.path} |>\n`), inf.prompt!.slice(0, 80));
    t.true(
      inf.prompt!.endsWith(`${row.suffix.trimEnd()}\n<mask:1><mask:0>`) || inf.prompt!.endsWith('<mask:1><mask:0>'),
    );
    t.is(inf.prompt!.split('<mask:0>').length, 3);
    t.false(ltr.prompt!.includes('<mask:'));
    t.true(ltr.prompt!.endsWith(row.prefix.slice(-20)));
    for (const p of [inf.prediction, ltr.prediction]) t.true(!p.slice(0, -1).includes('\n'), JSON.stringify(p));
  }
  t.deepEqual(
    model.systems('infill_span', { mode: 'ltr' }).map((s) => s.name),
    ['model:ltr'],
  );
  model.dispose();
});

test('a failing item is recorded as failed, other errors still throw', async (t) => {
  const failing = tolerant(async () => {
    throw new HyperlmError('PROMPT_TOO_LONG', 'does not fit');
  });
  t.deepEqual(await failing({}, 0), {
    prediction: '',
    metrics: { failed: 1 },
    extra: { error: 'PROMPT_TOO_LONG: does not fit' },
  });
  const broken = tolerant(async () => {
    throw new TypeError('bug');
  });
  await t.throwsAsync(broken({}, 0), { instanceOf: TypeError });
});

test('n-gram baseline: trained on the run\'s shards (RUN/config.json "data"), it completes a line it has seen', async (t) => {
  const { dataDir, runDir } = await tinyRun();
  t.is(await runDataDir(runDir), dataDir);
  const { system, tokens } = await ngramSystem(dataDir);
  t.true(tokens > 1000);
  const row: InfillRow = {
    id: 'x',
    file: 'code/flux/flux0.js',
    path: 'code/flux/flux0.js',
    prefix: SEEN_PREFIX,
    middle: SEEN_LINE,
    suffix: `${SEEN_NEXT}}\n`,
    language: 'javascript',
  };
  t.is((await system.predict(row, 0)).prediction, SEEN_LINE);
  // a span stops after as many lines as its target has (what follows is the n-gram's business)
  const span = (await system.predict({ ...row, middle: SEEN_LINE + SEEN_NEXT }, 0)).prediction;
  t.true(span.startsWith(SEEN_LINE));
  t.is(span.split('\n').length, 3, JSON.stringify(span));
});
