// The README "Prompts" examples, run as written (only the paths differ): train a tiny model on a few sample
// pages (blockSize 320 so an image's 256 codes fit), load it with loadRun, and run every task once —
// title, caption, text → image, image infill, a calibrated multiple-choice score, code infill in 3 modes. If this changes, change
// docs-prompts-section.md. Checks are on the shapes the README promises, not on quality (4 training steps).
import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DEFAULT_PREPROCESS,
  encodeImage,
  loadRun,
  preprocess,
  rank,
  readDataInfo,
  resolveRunConfig,
  runCaption,
  runImageInfill,
  runCodeInfill,
  runTextToImage,
  runTitle,
  score,
  selectBackend,
  train,
  vqgan,
} from '../src/index.js';
import { REPO, SAMPLE, smallInput, tempDir } from './helpers/fixtures.js';

test('the README prompt-library examples run end to end', async (t) => {
  const input = smallInput(4, 4);
  const out = tempDir('prompts-data');
  const runDir = tempDir('prompts-run');
  const pagePath = join(SAMPLE, 'html/gimp-help-en/filters-distort.html');
  const figurePath = join(SAMPLE, 'html/gimp-help-en/images/menus/filters/distorts.png');
  const bestPng = join(tempDir('prompts-png'), 'best.png');
  await selectBackend('auto', console.error);
  await preprocess({ ...DEFAULT_PREPROCESS, inputs: [input], out, vocabSize: 1000, images: 'none' });
  const config = await resolveRunConfig('tiny', ['steps=4', 'batchSize=2', 'blockSize=320'], await readDataInfo(out));
  await train({ runDir, config });

  const completions: Array<Awaited<ReturnType<typeof runCodeInfill>>> = [];
  // --- README example (begin) ---
  const run = await loadRun(runDir); // a training run folder or an inference bundle
  const page = await readFile(pagePath, 'utf8');
  const title = await runTitle(run, page, { numBeams: 5, maxNewTokens: 16 });
  console.error(`${title.prediction} (page title: ${title.reference})`);

  const vq = await vqgan.loadImageTokenizer(join(REPO, 'data/vqgan')); // 256×256 → 256 codes of 8192
  const { codes } = await encodeImage(vq, await readFile(figurePath));
  const caption = await runCaption(run, { context: '<p>The Distort filters</p>', codes }, { maxNewTokens: 12 });
  console.error(`${caption.prediction} (from the ${caption.chosen} prompt)`);

  const images = await runTextToImage(run, 'The Distort filters menu', { imageTokenizer: vq, numSamples: 2, seed: 1 });
  await writeFile(bestPng, images.samples[0].png); // best noisy-channel score first

  const infill = await runImageInfill(run, { codes, start: 128, end: 256 }, { imageTokenizer: vq });
  console.error(`bottom half regenerated: PSNR ${infill.psnr.toFixed(1)} dB, SSIM ${infill.ssim.toFixed(3)}`);

  const ids = (s: string) => run.tokenizer.encode(s);
  const question = ids('<div class="question">Which filter bends the image?</div><div class="answer">');
  const choices = ['Curve Bend</div>', 'Sharpen</div>'].map(ids);
  const scores = score(run.model, question, choices, {
    premise: ids('<div class="answer">'), // DC-PMI: the answer slot alone
    contentFree: ['N/A', '', '[MASK]'].map((x) => ids(`<div class="question">${x}</div><div class="answer">`)),
  });
  console.error(`sum: ${rank(scores, 'sum')}, pmi: ${rank(scores, 'pmi')}, calibrated: ${rank(scores, 'calibrated')}`);

  const code = { prefix: 'function add(a, b) {\n  return ', suffix: ';\n}\n', path: 'src/add.js' };
  for (const mode of ['single-line', 'multi-line', 'left-to-right'] as const) {
    const r = await runCodeInfill(run, code, { mode, maxNewTokens: 16 });
    console.error(
      `${mode}: ${JSON.stringify(r.completion)} (${r.finish}, ${r.promptTokens} + ${r.generatedTokens} tokens)`,
    );
    completions.push(r);
  }
  // --- README example (end) ---

  t.regex(title.reference!, /^5\.\sDistort Filters$/);
  t.false(caption.prediction.includes('<mask:'), 'sentinels end a span, they are not caption text');
  t.true(title.generatedTokens >= 1 && title.generatedTokens <= 16);
  t.is(codes.length, 256);
  t.true(caption.candidates.length === 2 && ['masked', 'causal'].includes(caption.chosen));
  t.is(images.samples.length, 2);
  t.true(images.samples.every((s) => s.codes.length === 256 && s.png.length > 100));
  t.deepEqual(Array.from(infill.codes.slice(0, 128)), Array.from(codes.slice(0, 128)));
  t.true(Number.isFinite(infill.psnr) && infill.ssim <= 1);
  t.is(scores.length, 2);
  t.true(Math.abs(scores[0].calibrated! + scores[1].calibrated! - 1) < 1e-9);
  t.deepEqual(
    completions.map((c) => c.mode),
    ['single-line', 'multi-line', 'left-to-right'],
  );
  t.false(completions[0].completion.includes('\n'));
  t.true((await readFile(bestPng)).subarray(1, 4).toString() === 'PNG');
  run.model.dispose();
});
