// `npm run train`: parse flags, pick the backend, resolve the run config (preset or file + --set) against
// the data, and call the training loop. SIGINT checkpoints after the current step and exits; a second
// SIGINT exits at once. With no flags it trains `tiny` on out/sample (what `npm run preprocess` writes).
import { cpus } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../src/backend/index.js';
import {
  backendFlag,
  COMMON_FLAGS,
  numberFlag,
  parseCommandLine,
  runMain,
  type CommandSpec,
} from '../src/cli/index.js';
import { HyperlmError } from '../src/errors.js';
import {
  exportModelBundle,
  initRunConfig,
  readDataInfo,
  readInitSource,
  readRunConfig,
  resolveRunConfig,
  resolveTrainConfig,
  splitSetArgs,
  train,
} from '../src/model/index.js';
import { asIoFailure } from '../src/io/index.js';

const spec: CommandSpec = {
  usage:
    'npm run train -- [--data DIR] [--config NAME|FILE | --init RUN|BUNDLE] [--set key=value]... [--out RUN] [--resume]',
  summary:
    'Train a GPT / MoE model on preprocessed shards with CM3 masking, AdamW, checkpoints and metrics.\n' +
    'Writes RUN/config.json, RUN/metrics.jsonl, RUN/loss.png, RUN/checkpoints/ and a copy of the tokenizer.',
  flags: {
    data: {
      type: 'string',
      arg: 'DIR',
      help: 'preprocessed data folder (manifest.json, vocab.json, shards)',
      default: 'out/sample',
    },
    config: {
      type: 'string',
      arg: 'NAME|FILE',
      help: 'model preset (tiny, dense-small, moe-small, code-small, cm3-125m) or JSON file',
      default: 'tiny',
    },
    init: {
      type: 'string',
      arg: 'RUN|BUNDLE',
      help: "fine-tune: start a new run from a run's latest weights or a bundle (config.json + model.safetensors); model config from there, fresh optimizer",
    },
    set: {
      type: 'string',
      multiple: true,
      arg: 'KEY=VALUE',
      help: 'override: model keys (nLayer, moe.router…) or training keys (steps, batchSize, optim.lr, cm3.lambda…)',
    },
    out: { type: 'string', arg: 'RUN', help: 'run folder', default: 'runs/CONFIG' },
    export: {
      type: 'string',
      arg: 'DIR',
      help: "do not train: write an inference bundle (float16 weights, config, tokenizer, vocab, loss curve) of --out RUN's latest checkpoint to DIR",
    },
    resume: {
      type: 'boolean',
      help: 'continue the run in --out from its latest checkpoint (config from RUN/config.json; training --set keys still apply)',
    },
    backend: COMMON_FLAGS.backend,
    workers: {
      type: 'string',
      arg: 'N',
      help: 'data-parallel worker threads, each a WASM replica computing gradients on its share of the batch (1 = this thread only)',
      default: 'cores with wasm, else 1',
    },
    'train-only-expert': {
      type: 'string',
      arg: 'K',
      help: 'DEMix: train only expert K on its domain (after `npm run experts -- add`)',
    },
    quiet: { type: 'boolean', help: 'no progress bar' },
  },
  epilog:
    'Examples:\n  npm run train\n  npm run train -- --config moe-small --set steps=2000 --set optim.lr=6e-4 --out runs/moe\n' +
    '  npm run train -- --out runs/moe --resume\n' +
    '  npm run train -- --init data/model --data out/mine --set steps=300 --out runs/mine\n' +
    'Note: with --workers N > 1 the batch rows are split over N WASM worker threads; AdamW, checkpoints and\n' +
    'validation stay in this process. Use --workers 1 with --backend tensorflow (native TensorFlow is multi-threaded).',
};

runMain(async () => {
  const { values } = parseCommandLine(spec);
  const sets = (values.set as string[] | undefined) ?? [];
  const log = (line: string): void => console.error(line);
  const backend = await selectBackend(backendFlag(values), log);
  // Default: one WASM replica per core; native TensorFlow (tensorflow backend) already uses every core.
  const workers = numberFlag(values, 'workers', backend.name === 'wasm' ? cpus().length : 1, {
    integer: true,
    min: 1,
    max: 256,
  });
  const configName = (values.config as string | undefined) ?? 'tiny';
  const runDir =
    (values.out as string | undefined) ?? join('runs', configName.replace(/\.json$/, '').replace(/[^\w.-]+/g, '_'));
  const only =
    values['train-only-expert'] === undefined
      ? []
      : [`trainOnlyExpert=${numberFlag(values, 'train-only-expert', -1, { integer: true, min: 0 })}`];
  if (typeof values.export === 'string') {
    const { bytes, step } = await exportModelBundle(runDir, values.export);
    log(`wrote ${values.export}: step ${step} of ${runDir}, ${(bytes / 2 ** 20).toFixed(1)} MiB of float16 weights`);
    return;
  }
  let config;
  if (values.resume && values.init !== undefined)
    throw new HyperlmError(
      'CLI_BAD_FLAG',
      '--resume continues a run with its own weights; --init starts a new one: pass one of them',
    );
  if (values.resume) {
    config = await readRunConfig(runDir);
    const { model, train: trainOver } = splitSetArgs([...sets, ...only]);
    if (Object.keys(model).length > 0)
      throw new HyperlmError(
        'CLI_BAD_FLAG',
        `--resume keeps the run's model config; cannot --set ${Object.keys(model).join(', ')}`,
      );
    config.train = resolveTrainConfig(config.train, trainOver);
    if (values.data !== undefined) config.data = values.data as string;
  } else if (values.init !== undefined) {
    if (values.config !== undefined)
      throw new HyperlmError('CLI_BAD_FLAG', '--init takes the model config from the source; drop --config');
    const from = values.init as string;
    const data = await readDataInfo((values.data as string | undefined) ?? 'out/sample');
    config = initRunConfig(await readInitSource(from), from, [...sets, ...only], data);
  } else {
    const data = await readDataInfo((values.data as string | undefined) ?? 'out/sample');
    config = await resolveRunConfig(configName, [...sets, ...only], data);
  }
  const ac = new AbortController();
  process.on('SIGINT', () => {
    if (ac.signal.aborted) process.exit(130);
    log('SIGINT: finishing this step and writing a checkpoint (press Ctrl-C again to quit at once)');
    ac.abort();
  });
  const r = await train({
    runDir,
    config,
    resume: Boolean(values.resume),
    log,
    progress: !values.quiet,
    signal: ac.signal,
    workers,
  }).catch((err: unknown) => {
    throw asIoFailure(
      err,
      `free space or fix the permission, then rerun with --out ${runDir} --resume: it continues from the last complete checkpoint`,
    );
  });
  const last = r.losses.at(-1);
  console.log(
    `${runDir}: ${r.stopped} at step ${r.step}${last !== undefined ? `, loss ${last.toFixed(4)}` : ''}` +
      `${r.valLoss !== undefined ? `, validation loss ${r.valLoss.toFixed(4)} (ppl ${Math.exp(r.valLoss).toFixed(2)})` : ''}; checkpoint ${r.checkpoint}`,
  );
  if (r.stopped === 'interrupted') process.exitCode = 130;
});
