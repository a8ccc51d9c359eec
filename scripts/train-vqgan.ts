// `npm run train:vqgan`: parse flags, pick the backend and the worker count (as `npm run train` does),
// resolve the run config (preset or JSON file + --set) and call trainVqgan. SIGINT checkpoints after the
// current step; a second SIGINT exits at once.
import { readFile } from 'node:fs/promises';
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
import { latestCheckpoint } from '../src/train/index.js';
import {
  checkVqganRun,
  exportBundle,
  readVqganRunConfig,
  resolveVqganRun,
  trainVqgan,
  VQGAN_PRESETS,
  DEFAULT_VQGAN_TRAIN,
} from '../src/vqgan/index.js';

const spec: CommandSpec = {
  usage:
    'npm run train:vqgan -- --images PATH... [--out RUN] [--config NAME|FILE] [--set key=value]... [--steps N] [--resume]',
  summary:
    'Train the ViT-VQGAN image tokenizer on images (png, jpg, gif, webp, avif, tiff) from folders (recursive) or from a\n' +
    'preprocess input: the <img> of HTML pages (resolved inside the input folder, never fetched), WARC image records, JSONL images.\n' +
    'A held-out share of the images (by path or URL hash, --set heldOut=0.1) is never trained on; `npm run vqgan:eval` uses it.\n' +
    'Writes RUN/config.json, RUN/metrics.jsonl, RUN/loss.png, RUN/psnr.png and RUN/checkpoints/.',
  flags: {
    images: {
      type: 'string',
      multiple: true,
      arg: 'PATH',
      help: 'image folder or file, or a preprocess input: folder of pages and images, .warc[.gz], .jsonl[.gz]',
    },
    out: { type: 'string', arg: 'RUN', help: 'run folder', default: 'runs/vqgan-CONFIG' },
    config: {
      type: 'string',
      arg: 'NAME|FILE',
      help: `model preset (${Object.keys(VQGAN_PRESETS).join(', ')}) or JSON file {preset?, key: value…}`,
      default: 'cpu-small',
    },
    set: {
      type: 'string',
      multiple: true,
      arg: 'KEY=VALUE',
      help: `override a model key (codebookSize, width…) or a training key (${Object.keys(DEFAULT_VQGAN_TRAIN).join(', ')})`,
    },
    steps: { type: 'string', arg: 'N', help: 'total training steps (same as --set steps=N)' },
    resume: {
      type: 'boolean',
      help: 'continue the run in --out from its latest checkpoint (model config from RUN/config.json)',
    },
    backend: COMMON_FLAGS.backend,
    workers: {
      type: 'string',
      arg: 'N',
      help: 'data-parallel worker threads, each a WASM replica computing gradients on its share of the batch (1 = this thread only)',
      default: 'cores with wasm, else 1',
    },
    quiet: { type: 'boolean', help: 'no progress bar' },
    export: {
      type: 'string',
      arg: 'DIR',
      help: "do not train: write an inference bundle (F16 weights without discriminator + config.json) of RUN's latest checkpoint to DIR",
    },
  },
  epilog:
    'Examples:\n  npm run train:vqgan -- --images ../shared/corpus/html --out runs/vqgan --steps 500\n' +
    '  npm run train:vqgan -- --images data/sample --config tiny --set batchSize=4 --steps 20 --out runs/vqgan-tiny\n' +
    '  npm run train:vqgan -- --images ../shared/corpus/html --out runs/vqgan --resume\n' +
    '  npm run train:vqgan -- --images crawl.warc.gz --images pages.jsonl --config tiny --steps 20 --out runs/vqgan-crawl\n' +
    "Note: with --workers N > 1 the batch's images are split over N WASM worker threads; Adam, dead-code restarts,\n" +
    'checkpoints and evaluation stay in this process. Use --workers 1 with --backend tensorflow (native TensorFlow is multi-threaded).',
};

function parseSets(sets: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of sets) {
    const eq = s.indexOf('=');
    const value = Number(s.slice(eq + 1));
    if (eq <= 0 || s.slice(eq + 1).trim() === '' || !Number.isFinite(value))
      throw new HyperlmError('CLI_BAD_FLAG', `--set ${s}: expected KEY=NUMBER`);
    out[s.slice(0, eq)] = value;
  }
  return out;
}

runMain(async () => {
  const { values } = parseCommandLine(spec);
  const log = (line: string): void => console.error(line);
  if (values.export !== undefined) {
    const runDir = (values.out as string | undefined) ?? 'runs/vqgan-cpu-small';
    const ck = await latestCheckpoint(runDir);
    if (!ck) throw new HyperlmError('INPUT_NOT_FOUND', `--export: ${runDir} has no checkpoint`);
    const r = await exportBundle(ck, await readVqganRunConfig(runDir), values.export as string);
    console.log(`${values.export}: ${r.tensors} tensors, ${(r.bytes / 2 ** 20).toFixed(2)} MiB (F16) from ${ck}`);
    return;
  }
  const images = (values.images as string[] | undefined) ?? [];
  if (images.length === 0)
    throw new HyperlmError(
      'CLI_BAD_FLAG',
      '--images PATH is required (a folder of images or pages, a WARC or a JSONL file)',
    );
  const backend = await selectBackend(backendFlag(values), log);
  // Default: one WASM replica per core; native TensorFlow (tensorflow backend) already uses every core.
  const workers = numberFlag(values, 'workers', backend.name === 'wasm' ? cpus().length : 1, {
    integer: true,
    min: 1,
    max: 256,
  });
  const sets = parseSets((values.set as string[] | undefined) ?? []);
  if (values.steps !== undefined) sets.steps = numberFlag(values, 'steps', 0, { integer: true, min: 1 });
  const configArg = (values.config as string | undefined) ?? 'cpu-small';
  const runDir =
    (values.out as string | undefined) ??
    join('runs', `vqgan-${configArg.replace(/\.json$/, '').replace(/[^\w.-]+/g, '_')}`);
  let config;
  if (values.resume) {
    const path = join(runDir, 'config.json');
    const saved = checkVqganRun(
      JSON.parse(
        await readFile(path, 'utf8').catch(() => {
          throw new HyperlmError('INPUT_NOT_FOUND', `--resume: ${path} not found`);
        }),
      ),
      path,
    );
    const modelKeys = Object.keys(sets).filter((k) => !Object.hasOwn(DEFAULT_VQGAN_TRAIN, k));
    if (modelKeys.length > 0)
      throw new HyperlmError(
        'CLI_BAD_FLAG',
        `--resume keeps the run's model config; cannot --set ${modelKeys.join(', ')}`,
      );
    config = resolveVqganRun(saved.preset, { ...saved.model, ...sets }, saved.train);
  } else if (configArg.endsWith('.json')) {
    const file = JSON.parse(await readFile(configArg, 'utf8')) as Record<string, unknown>;
    const { preset, ...rest } = file;
    config = resolveVqganRun(typeof preset === 'string' ? preset : 'cpu-small', { ...rest, ...sets });
  } else {
    config = resolveVqganRun(configArg, sets);
  }
  const ac = new AbortController();
  process.on('SIGINT', () => {
    if (ac.signal.aborted) process.exit(130);
    log('SIGINT: finishing this step and writing a checkpoint (press Ctrl-C again to quit at once)');
    ac.abort();
  });
  const r = await trainVqgan({
    runDir,
    config,
    images,
    resume: Boolean(values.resume),
    log,
    progress: !values.quiet,
    signal: ac.signal,
    workers,
  });
  console.log(
    `${runDir}: ${r.stopped} at step ${r.step}${r.losses.length ? `, loss ${r.losses.at(-1)!.toFixed(4)}` : ''}; checkpoint ${r.checkpoint}`,
  );
  if (r.stopped === 'interrupted') process.exitCode = 130;
});
