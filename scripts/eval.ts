// `npm run eval`: measure a run on one task file beside the baselines, computed by the same harness on the
// same items (src/prompts/eval). Parses flags, reads and validates the task file, loads the model and the
// n-gram baseline's training data, then calls `evaluate`; prints the summary table and optionally writes
// the per-item results JSONL and a section of BENCHMARKS.md with the command that produced it.
// `--task perplexity` instead scores a preprocessed folder's valid split per domain (src/model/perplexity.ts).
import { mkdir } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { selectBackend } from '../src/backend/index.js';
import {
  backendFlag,
  COMMON_FLAGS,
  choiceFlag,
  type CommandSpec,
  markdownTable,
  numberFlag,
  parseCommandLine,
  type ParsedArgs,
  runMain,
  writeBenchmarkSection,
} from '../src/cli/index.js';
import { HyperlmError } from '../src/errors.js';
import { domainPerplexity, loadRun } from '../src/model/index.js';
import {
  EVAL_TASKS,
  EvalModel,
  MODEL_SYSTEM_DEFAULTS,
  defaultRunDir,
  defaultTaskFile,
  evaluate,
  formatMarkdownTable,
  formatTextTable,
  ngramSystem,
  readTaskFile,
  runDataDir,
  selectRows,
  taskSystems,
  type EvalTask,
} from '../src/prompts/eval/index.js';

const spec: CommandSpec = {
  usage:
    'npm run eval -- --task summarize|caption|infill_line|infill_span|image_gen [--run RUN] [--tasks FILE.jsonl] [--root DIR] [options]',
  summary:
    'Evaluate a run zero-shot on a task file (schema: ../shared/eval/tasks/README.md) beside simple baselines run on the same items;\n' +
    'prints the mean of each metric per system, optionally writes one JSON line per item and a BENCHMARKS.md section.',
  flags: {
    task: {
      type: 'string',
      arg: 'TASK',
      help: `task: ${EVAL_TASKS.join('|')}, or perplexity (per-domain validation perplexity on --data)`,
    },
    data: {
      type: 'string',
      arg: 'DIR',
      help: 'perplexity: preprocessed folder whose valid split is scored',
      default: 'the run\'s data (RUN/config.json "data")',
    },
    rows: {
      type: 'string',
      arg: 'N',
      help: 'perplexity: rows of blockSize tokens scored at most per domain',
      default: '128',
    },
    run: {
      type: 'string',
      arg: 'RUN',
      help: 'training run or bundle folder',
      default: 'data/model if present, else the newest run in runs/',
    },
    tasks: {
      type: 'string',
      arg: 'FILE.jsonl',
      help: 'task file',
      default: 'ROOT/tasks/TASK.jsonl (image_gen: caption.jsonl)',
    },
    root: {
      type: 'string',
      arg: 'DIR',
      help: 'dev-set root the paths inside the task file are relative to',
      default: '../shared/eval',
    },
    n: {
      type: 'string',
      arg: 'N',
      help: 'evaluate N items drawn with --seed, kept in file order (the files are sorted by package)',
      default: 'all',
    },
    seed: { type: 'string', arg: 'N', help: 'seed of the --n sample and of sampling', default: '0' },
    out: {
      type: 'string',
      arg: 'RESULTS.jsonl',
      help: 'write one JSON line per item: id, reference, per system prediction, prompt, metrics',
    },
    benchmarks: {
      type: 'string',
      arg: 'BENCHMARKS.md',
      help: "write/update this task's section of a BENCHMARKS.md with the table and the command",
    },
    mode: {
      type: 'string',
      arg: 'infill|ltr|both',
      default: 'both',
      help: 'infill tasks: the model with the infill prompt, left to right (prefix only), or both',
    },
    'baselines-only': { type: 'boolean', help: 'evaluate only the baselines (no model is loaded)' },
    'ngram-data': {
      type: 'string',
      arg: 'DIR',
      help: 'preprocessed folder (tokenizer.model, train shards) for the n-gram baseline',
      default: 'the run\'s data (RUN/config.json "data")',
    },
    vqgan: {
      type: 'string',
      arg: 'DIR',
      help: 'image tokenizer for caption and image_gen',
      default: MODEL_SYSTEM_DEFAULTS.vqgan,
    },
    beams: {
      type: 'string',
      arg: 'N',
      help: 'beam width for titles and masked captions',
      default: String(MODEL_SYSTEM_DEFAULTS.numBeams),
    },
    'image-samples': {
      type: 'string',
      arg: 'N',
      help: 'image_gen: text → image samples reranked per item',
      default: String(MODEL_SYSTEM_DEFAULTS.imageSamples),
    },
    'max-prompt-chars': {
      type: 'string',
      arg: 'N',
      help: 'longest prompt kept per item in --out (middle elided)',
      default: '2000',
    },
    backend: COMMON_FLAGS.backend,
    quiet: { type: 'boolean', help: 'no progress bar' },
  },
  epilog:
    'Examples:\n' +
    '  npm run eval -- --task summarize --n 50\n' +
    '  npm run eval -- --task infill_line --baselines-only --ngram-data out/sample --out results/line.jsonl\n' +
    '  npm run eval -- --task caption --run runs/tiny --benchmarks BENCHMARKS.md\n' +
    '  npm run eval -- --task perplexity --data corpus-v1 --rows 128',
};

runMain(async () => {
  const { values } = parseCommandLine(spec);
  if (typeof values.task !== 'string')
    throw new HyperlmError('CLI_BAD_FLAG', `--task is required (${[...EVAL_TASKS, 'perplexity'].join('|')})`);
  if (values.task === 'perplexity') return runPerplexity(values);
  await runEval(choiceFlag(values, 'task', EVAL_TASKS, 'summarize'), values);
});

async function runEval<T extends EvalTask>(task: T, values: ParsedArgs['values']): Promise<void> {
  const root = resolve(typeof values.root === 'string' ? values.root : '../shared/eval');
  const tasksFile = typeof values.tasks === 'string' ? resolve(values.tasks) : defaultTaskFile(task, root);
  const n =
    values.n === undefined || values.n === 'all' ? undefined : numberFlag(values, 'n', 0, { integer: true, min: 1 });
  const seed = numberFlag(values, 'seed', 0, { integer: true });
  const mode = choiceFlag(values, 'mode', ['infill', 'ltr', 'both'] as const, 'both');
  const baselinesOnly = Boolean(values['baselines-only']);
  const infill = task === 'infill_line' || task === 'infill_span';

  const rows = selectRows(await readTaskFile(task, tasksFile, root), n, seed);
  const runDir = typeof values.run === 'string' ? values.run : await defaultRunDir();
  if (!baselinesOnly && runDir === undefined) {
    throw new HyperlmError(
      'INPUT_NOT_FOUND',
      'no model to evaluate: no --run, no data/model and no run in runs/ (use --baselines-only for the baselines alone)',
    );
  }
  if (!baselinesOnly) await selectBackend(backendFlag(values), (l) => console.error(l));

  const model = baselinesOnly ? undefined : await EvalModel.load(runDir!);
  if (model) console.error(`model: ${runDir} (${model.describe()})`);
  let ngram;
  let ngramNote = '';
  if (infill) {
    const dataDir =
      typeof values['ngram-data'] === 'string'
        ? values['ngram-data']
        : runDir !== undefined
          ? await runDataDir(runDir)
          : undefined;
    if (dataDir === undefined) {
      const why = runDir === undefined ? 'no run was found' : `${runDir} records no data folder`;
      throw new HyperlmError(
        'INPUT_NOT_FOUND',
        `the n-gram baseline needs training shards: ${why}; pass --ngram-data DIR`,
      );
    }
    const t0 = performance.now();
    const trained = await ngramSystem(dataDir);
    ngram = trained.system;
    ngramNote = `n-gram trained on \`${dataDir}\` (${trained.documents} documents, ${trained.tokens} tokens)`;
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    console.error(
      `n-gram baseline: Kneser–Ney 4-gram on ${dataDir} (${trained.documents} documents, ${trained.tokens} tokens) in ${seconds} s`,
    );
  }
  const systems = taskSystems(task, {
    ngram,
    model: model?.systems(task, {
      mode,
      seed,
      vqgan: typeof values.vqgan === 'string' ? values.vqgan : MODEL_SYSTEM_DEFAULTS.vqgan,
      numBeams: numberFlag(values, 'beams', MODEL_SYSTEM_DEFAULTS.numBeams, { integer: true, min: 1 }),
      imageSamples: numberFlag(values, 'image-samples', MODEL_SYSTEM_DEFAULTS.imageSamples, { integer: true, min: 1 }),
    }),
  });
  console.error(
    `eval ${task}: ${rows.length} items from ${tasksFile}; systems ${systems.map((s) => s.name).join(', ')}`,
  );
  const result = await evaluate({
    task,
    rows,
    systems,
    out: typeof values.out === 'string' ? values.out : undefined,
    progress: !values.quiet,
    maxPromptChars: numberFlag(values, 'max-prompt-chars', 2000, { integer: true, min: 20 }),
  });
  model?.dispose();
  process.stdout.write(`${formatTextTable(result.table)}\n`);
  if (typeof values.out === 'string') console.error(`wrote ${result.records.length} records to ${values.out}`);
  if (typeof values.benchmarks === 'string') {
    const command = `npm run eval -- ${process.argv.slice(2).join(' ')}`;
    const what = [
      `${rows.length} items of \`${basename(tasksFile)}\``,
      model ? `model \`${runDir}\` (${model.describe()})` : 'baselines only',
    ];
    if (ngramNote) what.push(ngramNote);
    await mkdir(dirname(values.benchmarks), { recursive: true });
    const runName = model ? basename(resolve(runDir!)) : undefined;
    const section = runName ? `eval-${task}-${runName}` : `eval-${task}`; // one section per task and model
    await writeBenchmarkSection(
      values.benchmarks,
      section,
      `Evaluation: ${task}${runName ? ` (${runName})` : ', baselines'}`,
      command,
      `${what.join('; ')}; ${result.seconds.toFixed(1)} s.\n\n${formatMarkdownTable(result.table)}`,
    );
    console.error(`updated section ${section} of ${values.benchmarks}`);
  }
}

/** `--task perplexity`: per-domain validation perplexity, CM3 objective and left to right. */
async function runPerplexity(values: ParsedArgs['values']): Promise<void> {
  const runDir = typeof values.run === 'string' ? values.run : await defaultRunDir();
  if (runDir === undefined)
    throw new HyperlmError('INPUT_NOT_FOUND', 'no model to evaluate: no --run, no data/model and no run in runs/');
  const dataDir = typeof values.data === 'string' ? values.data : await runDataDir(runDir);
  if (dataDir === undefined)
    throw new HyperlmError('INPUT_NOT_FOUND', `${runDir} records no data folder; pass --data DIR`);
  const rows = numberFlag(values, 'rows', 128, { integer: true, min: 1 });
  const seed = numberFlag(values, 'seed', 0, { integer: true });
  await selectBackend(backendFlag(values), (l) => console.error(l));
  const run = await loadRun(runDir);
  const cm3 = run.train?.cm3;
  const t0 = performance.now();
  const reports = [];
  for (const objective of ['cm3', 'ltr'] as const) {
    reports.push(await domainPerplexity(run.model, dataDir, objective, { rows, batchSize: 4, seed, cm3 }));
    console.error(`perplexity (${objective}) done after ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  run.model.dispose();
  const header = ['objective', 'domain', 'tokens', 'loss (nats)', 'perplexity'];
  const lines = reports.flatMap((r) =>
    [...r.domains, r.all].map((d) => [r.objective, d.domain, String(d.tokens), d.loss.toFixed(3), d.ppl.toFixed(1)]),
  );
  process.stdout.write(`${[header, ...lines].map((l) => l.join('\t')).join('\n')}\n`);
  if (typeof values.benchmarks === 'string') {
    const runName = basename(resolve(runDir));
    const command = `npm run eval -- ${process.argv.slice(2).join(' ')}`;
    const what =
      `model \`${runDir}\` (step ${run.step}) on the valid split of \`${dataDir}\`, at most ${rows} rows of ${run.config.blockSize} tokens per domain (the first in file order), packed per domain; ` +
      'cm3 = the training objective (spans moved to the end, sentinel targets unscored), ltr = the same documents left to right';
    await writeBenchmarkSection(
      values.benchmarks,
      `eval-perplexity-${runName}`,
      `Evaluation: validation perplexity by domain (${runName})`,
      command,
      `${what}; ${((performance.now() - t0) / 1000).toFixed(1)} s.\n\n${markdownTable(header, lines)}`,
    );
    console.error(`updated section eval-perplexity-${runName} of ${values.benchmarks}`);
  }
}
