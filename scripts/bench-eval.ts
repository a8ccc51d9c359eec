// `npm run bench:eval`: how fast the evaluation harness runs a model — items/s per task (each model system,
// from `evaluate`), decode ms/token for greedy, beam 5 and 8 samples on one prompt, and the harness's
// overhead over raw `generate()`: the title task timed through `evaluate` against the same prompts' ids
// (built beforehand, untimed) decoded by `generate` with the same options, the fastest of three alternating rounds
// each. Writes a BENCHMARKS.md section.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { selectBackend } from '../src/backend/index.js';
import {
  backendFlag,
  COMMON_FLAGS,
  type CommandSpec,
  markdownTable,
  numberFlag,
  parseCommandLine,
  runMain,
  writeBenchmarkSection,
} from '../src/cli/index.js';
import { HyperlmError } from '../src/errors.js';
import { decodeHtmlBytes } from '../src/minimize/index.js';
import { generate } from '../src/model/index.js';
import { encodePrompt, spanStops, titlePrompt } from '../src/prompts/index.js';
import {
  EVAL_TASKS,
  EvalModel,
  defaultRunDir,
  defaultTaskFile,
  evaluate,
  readTaskFile,
  selectRows,
  type EvalTask,
  type TaskRows,
} from '../src/prompts/eval/index.js';

const spec: CommandSpec = {
  usage: 'npm run bench:eval -- [--run RUN] [--root DIR] [--n N] [--tasks LIST] [--no-write]',
  summary:
    'Items/s of npm run eval per task, decode ms/token (greedy, beam 5, 8 samples) and the harness overhead over raw generate().',
  flags: {
    run: {
      type: 'string',
      arg: 'RUN',
      help: 'training run or bundle',
      default: 'data/model if present, else the newest run in runs/',
    },
    root: { type: 'string', arg: 'DIR', help: 'dev-set root', default: '../shared/eval' },
    n: { type: 'string', arg: 'N', help: 'items per task (drawn with seed 0)', default: '4' },
    tasks: { type: 'string', arg: 'LIST', help: 'comma-separated tasks to time', default: EVAL_TASKS.join(',') },
    'new-tokens': { type: 'string', arg: 'N', help: 'tokens decoded per decode-speed case', default: '32' },
    vqgan: { type: 'string', arg: 'DIR', help: 'image tokenizer for caption and image_gen', default: 'data/vqgan' },
    'no-write': COMMON_FLAGS.noWrite,
    backend: COMMON_FLAGS.backend,
  },
};

async function taskRows<T extends EvalTask>(task: T, root: string, n: number): Promise<Array<TaskRows[T]>> {
  return selectRows(await readTaskFile(task, defaultTaskFile(task, root), root), n, 0); // a spread: the files are sorted by package
}

runMain(async () => {
  const { values } = parseCommandLine(spec);
  await selectBackend(backendFlag(values), (l) => console.error(l));
  const runDir = typeof values.run === 'string' ? values.run : await defaultRunDir();
  if (runDir === undefined)
    throw new HyperlmError('INPUT_NOT_FOUND', 'no model: pass --run RUN (no data/model and no run in runs/)');
  const root = resolve(typeof values.root === 'string' ? values.root : '../shared/eval');
  const n = numberFlag(values, 'n', 4, { integer: true, min: 1 });
  const newTokens = numberFlag(values, 'new-tokens', 32, { integer: true, min: 1 });
  const vqgan = typeof values.vqgan === 'string' ? values.vqgan : 'data/vqgan';
  const tasks = String(values.tasks ?? EVAL_TASKS.join(','))
    .split(',')
    .map((t) => {
      if (!(EVAL_TASKS as readonly string[]).includes(t)) {
        throw new HyperlmError('CLI_BAD_FLAG', `--tasks: unknown task ${JSON.stringify(t)} (${EVAL_TASKS.join('|')})`);
      }
      return t as EvalTask;
    });
  const model = await EvalModel.load(runDir);
  const { model: gpt, tokenizer } = model.run;
  const L = tokenizer.layout;
  console.error(`bench:eval on ${runDir} (${model.describe()})`);

  // 1. items/s per task and model system (n items each)
  const itemRows: Array<Array<string | number>> = [];
  for (const task of tasks) {
    const rows = await taskRows(task, root, n);
    const r = await evaluate({ task, rows, systems: model.systems(task, { vqgan }) });
    for (const s of r.summary)
      itemRows.push([task, s.name, s.items, (s.items / s.seconds).toFixed(3), (s.means.failed ?? 0).toFixed(2)]);
    console.error(
      `${task}: ${r.summary.map((s) => `${s.name} ${(s.items / s.seconds).toFixed(3)} items/s`).join(', ')}`,
    );
  }

  // 2. decode ms/token on one page's title prompt
  const page = (await taskRows('summarize', root, 1))[0];
  const html = decodeHtmlBytes(new Uint8Array(await readFile(page.file)), page.file).text;
  const ids = encodePrompt(tokenizer, titlePrompt(html).parts, gpt.config.blockSize - newTokens, page.file).ids;
  const decodeRows: Array<Array<string | number>> = [];
  const cases: Array<[string, Parameters<typeof generate>[2]]> = [
    ['greedy', { maxNewTokens: newTokens, temperature: 0 }],
    ['beam 5', { maxNewTokens: newTokens, numBeams: 5 }],
    ['8 samples', { maxNewTokens: newTokens, temperature: 1, topK: 40, numSamples: 8, seed: 1 }],
  ];
  for (const [name, opts] of cases) {
    generate(gpt, [ids], { ...opts, maxNewTokens: 2 }); // warm-up
    const t0 = performance.now();
    const out = generate(gpt, [ids], { ...opts, padToken: L.pad });
    const ms = performance.now() - t0;
    const steps = Math.max(...out.tokens.map((t) => t.length));
    decodeRows.push([name, ids.length, steps, (ms / steps).toFixed(2)]);
    console.error(`${name}: ${(ms / steps).toFixed(2)} ms per decoding step (prompt ${ids.length} tokens)`);
  }

  // 3. harness overhead: the title system through evaluate vs generate on the same prompts
  const rows = await taskRows('summarize', root, n);
  const title = model.systems('summarize').filter((s) => s.name === 'model:title');
  const prompts: number[][] = [];
  for (const row of rows) {
    const text = decodeHtmlBytes(new Uint8Array(await readFile(row.file)), row.file).text;
    prompts.push(encodePrompt(tokenizer, titlePrompt(text).parts, gpt.config.blockSize - 24, row.file).ids);
  }
  // alternate the two three times and keep each one's fastest round, so warm-up and a busy neighbour count less
  let raw = Infinity,
    harness = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (const p of prompts)
      generate(gpt, [p], { numBeams: 5, maxNewTokens: 24, stopTokens: spanStops(L), padToken: L.pad });
    raw = Math.min(raw, performance.now() - t0);
    harness = Math.min(harness, (await evaluate({ task: 'summarize', rows, systems: title })).seconds * 1000);
  }
  const ratio = harness / raw;
  console.error(
    `harness ${harness.toFixed(0)} ms vs raw generate ${raw.toFixed(0)} ms over ${rows.length} titles: ${ratio.toFixed(3)}×`,
  );
  model.dispose();

  const body = [
    `Model \`${runDir}\` (${model.describe()}); ${n} items per task from \`${root}\`.`,
    '',
    markdownTable(['task', 'system', 'items', 'items/s', 'failed'], itemRows),
    '',
    `Decode speed, title prompt of ${ids.length} tokens, ${newTokens} new tokens (a step decodes every beam / sample row at once):`,
    '',
    markdownTable(['decoding', 'prompt tokens', 'steps', 'ms/step'], decodeRows),
    '',
    `Harness overhead (summarize, model:title, beam 5, ${rows.length} pages): evaluate ${harness.toFixed(0)} ms / raw generate ` +
      `${raw.toFixed(0)} ms = **${ratio.toFixed(3)}×** (target ≤ 1.1×).`,
  ].join('\n');
  process.stdout.write(`${body}\n`);
  if (!values['no-write']) {
    await writeBenchmarkSection(
      fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url)),
      'eval',
      'Evaluation harness',
      `npm run bench:eval${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      body,
    );
  }
});
