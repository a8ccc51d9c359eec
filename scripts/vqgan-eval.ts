// `npm run vqgan:eval`: PSNR, SSIM and codebook usage of a trained VQGAN on the held-out images of its
// training split, next to the same-budget 16×16 shrink-and-enlarge baseline (evaluate.ts).
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
import { selectBackend } from '../src/backend/index.js';
import { HyperlmError } from '../src/errors.js';
import {
  baselineMetrics,
  listImageFiles,
  loadEvalImages,
  loadVqgan,
  readVqganRunConfig,
  reconstructionMetrics,
  splitImageFiles,
  PSNR_CAP,
} from '../src/vqgan/index.js';

const spec: CommandSpec = {
  usage: 'npm run vqgan:eval -- --run DIR --images PATH... [--all] [--limit N] [--benchmarks FILE]',
  summary:
    'Reconstruction quality of a trained VQGAN (run folder or bundle) on the held-out images (the split by path or URL hash\n' +
    'that training never used; fraction from RUN/config.json), and of a naive 16×16 baseline with the same budget.',
  flags: {
    run: { type: 'string', arg: 'DIR', help: 'VQGAN run folder or bundle', default: 'data/vqgan' },
    images: {
      type: 'string',
      multiple: true,
      arg: 'PATH',
      help: 'the inputs the run was trained on (image folders or files, page folders, .warc[.gz], .jsonl[.gz])',
    },
    all: { type: 'boolean', help: 'evaluate every image, not only the held-out split' },
    limit: { type: 'string', arg: 'N', help: 'evaluate at most N images' },
    json: { type: 'boolean', help: 'print the report as JSON' },
    benchmarks: {
      type: 'string',
      arg: 'FILE',
      help: 'also write the result as the "vqgan-quality" section of this BENCHMARKS.md',
    },
    backend: COMMON_FLAGS.backend,
  },
};

runMain(async () => {
  const { values } = parseCommandLine(spec);
  const images = (values.images as string[] | undefined) ?? [];
  if (images.length === 0)
    throw new HyperlmError('CLI_BAD_FLAG', '--images PATH is required (the inputs the run was trained on)');
  await selectBackend(backendFlag(values), (l) => console.error(l));
  const run = (values.run as string | undefined) ?? 'data/vqgan';
  const runConfig = await readVqganRunConfig(run);
  const files = await listImageFiles(images);
  const split = splitImageFiles(files, runConfig.train.heldOut);
  const chosen = (values.all ? files : split.heldOut).slice(
    0,
    numberFlag(values, 'limit', Infinity, { integer: true, min: 1 }),
  );
  if (chosen.length === 0)
    throw new HyperlmError('INPUT_NOT_FOUND', `no ${values.all ? '' : 'held-out '}images under ${images.join(', ')}`);
  const model = await loadVqgan(run);
  const t0 = performance.now();
  const rec = await reconstructionMetrics(model, chosen);
  const seconds = (performance.now() - t0) / 1000;
  const { rgb } = await loadEvalImages(chosen, model.resolution);
  const base = await baselineMetrics(rgb, model.resolution);
  const report = {
    run,
    images: rec.images,
    split: values.all ? 'all' : `held-out (${runConfig.train.heldOut})`,
    vqgan: { psnr: rec.psnr, ssim: rec.ssim, ...rec.usage },
    baseline16: base,
    dropped: rec.dropped,
    seconds,
  };
  if (values.json) console.log(JSON.stringify(report, null, 2));
  const table = markdownTable(
    ['', 'PSNR dB', 'SSIM', 'codes used', 'perplexity'],
    [
      [
        `VQGAN ${run} (${model.codesPerImage} codes of ${model.codebookSize})`,
        rec.psnr.toFixed(2),
        rec.ssim.toFixed(3),
        `${(rec.usage.usedFraction * 100).toFixed(1)}% (${Math.round(rec.usage.usedFraction * model.codebookSize)})`,
        rec.usage.perplexity.toFixed(0),
      ],
      ['baseline: 16×16 pixels, Lanczos down and up', base.psnr.toFixed(2), base.ssim.toFixed(3), '', ''],
    ],
  );
  const body = `${rec.images} ${report.split} images of ${images.join(', ')} at ${model.resolution}×${model.resolution} (per-image PSNR capped at ${PSNR_CAP} dB, then averaged; usage over all ${rec.images * model.codesPerImage} codes).\n\n${table}`;
  if (!values.json) console.log(body);
  if (values.benchmarks) {
    const cmd = `npm run vqgan:eval -- --run ${run} --images ${images.join(' ')}${values.all ? ' --all' : ''} --benchmarks ${values.benchmarks}`;
    await writeBenchmarkSection(
      values.benchmarks as string,
      'vqgan-quality',
      'VQGAN reconstruction quality (held-out images)',
      cmd,
      body,
    );
  }
});
