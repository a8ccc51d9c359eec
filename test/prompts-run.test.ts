// The typed run functions on a random-init GPT and a random-init tiny VQGAN (the real engines, untrained):
// results carry what they promise — titles until <eom> within the context, the caption the scores choose,
// exactly codesPerImage codes from the image block decoded to a PNG and reranked by an independently
// recomputed noisy-channel score, image infill that keeps the codes outside its span with PSNR/SSIM recomputed.
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import sharp from 'sharp';
import {
  altScoringPrompt,
  candidateLogProbs,
  rank,
  runMultipleChoice,
  score,
  encodePrompt,
  runCaption,
  runImageInfill,
  runTextToImage,
  runTitle,
} from '../src/prompts/index.js';
import { escapeAttr } from '../src/minimize/serialize.js';
import { vqgan } from '../src/index.js';
import { promptTokenizer, randomModel, samplePageHtml } from './helpers/prompt-model.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

test('runTitle: a prediction until <eom>, the page cut to fit, both <h1> variants reported', async (t) => {
  const tokenizer = await promptTokenizer();
  const model = randomModel(tokenizer);
  const html = samplePageHtml(2); // "14.11. Bayer Matrix", ~2,400 characters minimized
  const r = await runTitle({ model, tokenizer }, html, { numBeams: 2, maxNewTokens: 8 });
  t.true(r.promptTokens <= 128 - 8);
  t.true(r.truncatedTokens > 0, 'a whole sample page does not fit 120 tokens');
  t.true(r.prompt.endsWith('</body></html><mask:0>') && r.prompt.includes('<title><mask:0></title>'));
  t.true(r.generatedTokens >= 1 && r.generatedTokens <= 8);
  t.true(['stop-token', 'length'].includes(r.finish));
  t.is(typeof r.prediction, 'string');
  t.true((r.reference ?? '').length > 0, 'sample pages have titles');
  const dropped = await runTitle({ model, tokenizer }, html, { numBeams: 1, maxNewTokens: 4, dropRepeatedH1: true });
  t.is(dropped.h1RepeatsTitle, r.h1RepeatsTitle);
  t.is(dropped.droppedH1, r.h1RepeatsTitle);
  model.dispose();
});

test('runCaption: the chosen candidate has the best combined score, and scores are recomputable', async (t) => {
  const tokenizer = await promptTokenizer();
  const model = randomModel(tokenizer, {}, 3);
  const codes = Array.from({ length: 16 }, (_, i) => (i * 5) % 64);
  const r = await runCaption(
    { model, tokenizer },
    { context: '<p>Filters distort the image.</p>', codes },
    { maxNewTokens: 6, temperature: 0.8, seed: 2 },
  );
  t.is(r.candidates.length, 2);
  t.deepEqual(
    r.candidates.map((c) => c.form),
    ['masked', 'causal'],
  );
  const best = Math.max(...r.candidates.map((c) => c.scores.combined));
  t.is(r.candidates.find((c) => c.form === r.chosen)!.scores.combined, best);
  t.true(r.prompts.masked.endsWith('</image>"><mask:0>') && r.prompts.causal.endsWith('</image>" title="'));
  for (const c of r.candidates.filter((x) => x.text !== '')) {
    const ids = [...tokenizer.encode(escapeAttr(c.text)), tokenizer.layout.eom]; // captions here have no characters to escape
    if (escapeAttr(c.text) !== c.text) continue;
    const masked = encodePrompt(
      tokenizer,
      [
        { text: '<p>Filters distort the image.</p>' },
        { text: '<img alt="' },
        { mask: 0 },
        { text: '" src="' },
        { image: 'begin' },
        { codes },
        { image: 'end' },
        { text: '">' },
        { mask: 0 },
      ],
      128,
      't',
    ).ids;
    t.true(Math.abs(c.scores.masked - candidateLogProbs(model, masked, [ids])[0] / ids.length) < 1e-5);
    t.false(c.text.includes('"'), 'the causal form stops at the closing quote');
  }
  model.dispose();
});

test('runTextToImage: exactly codesPerImage codes from the block, PNGs, reranked by the noisy-channel score', async (t) => {
  const tokenizer = await promptTokenizer();
  const model = randomModel(tokenizer, {}, 5);
  const vq = new vqgan.Vqgan(vqgan.VQGAN_PRESETS.tiny, 1);
  const r = await runTextToImage({ model, tokenizer }, 'a blue square', { imageTokenizer: vq, numSamples: 3, seed: 7 });
  t.is(r.prompt, '<img alt="a blue square" src="<image>');
  t.is(r.samples.length, 3);
  const L = tokenizer.layout;
  for (let i = 0; i < r.samples.length; i++) {
    const s = r.samples[i];
    t.is(s.codes.length, vq.codesPerImage);
    t.true(s.codes.every((c) => c >= 0 && c < vq.codebookSize));
    const meta = await sharp(Buffer.from(s.png)).metadata();
    t.deepEqual([meta.format, meta.width, meta.height], ['png', 32, 32]);
    const prompt = encodePrompt(tokenizer, altScoringPrompt(s.codes), 128, 't').ids;
    const want = candidateLogProbs(model, prompt, [[...tokenizer.encode('a blue square'), L.eom]])[0];
    t.true(Math.abs(s.score - want) < 1e-5);
    if (i > 0) t.true(r.samples[i - 1].score >= s.score, 'best first');
  }
  t.true(new Set(r.samples.map((s) => s.codes.join(','))).size > 1, 'samples differ');
  // a vocabulary whose image block cannot hold the codebook, and a context too short for the codes
  const big = new vqgan.Vqgan({ ...vqgan.VQGAN_PRESETS.tiny, codebookSize: 128 }, 1);
  await t.throwsAsync(runTextToImage({ model, tokenizer }, 'x', { imageTokenizer: big }), { message: /image block/ });
  const short = randomModel(tokenizer, { blockSize: 16 });
  await t.throwsAsync(runTextToImage({ model: short, tokenizer }, 'a blue square', { imageTokenizer: vq }), {
    message: /fit/,
  });
  short.dispose();
  model.dispose();
});

test('runImageInfill: only the span changes; PSNR and SSIM are against the original', async (t) => {
  const tokenizer = await promptTokenizer();
  const model = randomModel(tokenizer, {}, 6);
  const vq = new vqgan.Vqgan(vqgan.VQGAN_PRESETS.tiny, 2);
  const original = Uint16Array.from({ length: 16 }, (_, i) => (i * 3 + 1) % 64);
  const r = await runImageInfill(
    { model, tokenizer },
    { codes: original, start: 4, end: 10, alt: 'tiles' },
    { imageTokenizer: vq },
  );
  t.deepEqual(Array.from(r.codes.slice(0, 4)), Array.from(original.slice(0, 4)));
  t.deepEqual(Array.from(r.codes.slice(10)), Array.from(original.slice(10)));
  t.true(r.codes.every((c) => c < 64));
  t.true(
    r.prompt.startsWith('<img alt="tiles" src="<image><img:1><img:4><img:7><img:10><mask:0><img:') &&
      r.prompt.endsWith('</image>"><mask:0>'),
  );
  const [mine, ref] = await vq.decode([r.codes, original]);
  t.is(r.psnr, vqgan.psnr(ref, mine));
  t.is(r.ssim, vqgan.ssim(ref, mine, 32, 32));
  await t.throwsAsync(
    runImageInfill({ model, tokenizer }, { codes: original, start: 5, end: 5 }, { imageTokenizer: vq }),
    { message: /non-empty/ },
  );
  await t.throwsAsync(
    runImageInfill(
      { model, tokenizer },
      { codes: [...original.slice(1), 64], start: 1, end: 2 },
      { imageTokenizer: vq },
    ),
    { message: /outside the image block/ },
  );
  await t.throwsAsync(
    runImageInfill({ model, tokenizer }, { codes: original.slice(2), start: 1, end: 2 }, { imageTokenizer: vq }),
    { message: /per image/ },
  );
  model.dispose();
});

test('runMultipleChoice fills the template into score(): premise, content-free inputs, and the chosen rule', async (t) => {
  const tokenizer = await promptTokenizer();
  const model = randomModel(tokenizer, {}, 8);
  const ids = (s: string) => tokenizer.encode(s);
  const choices = ['Curve Bend', 'Sharpen', 'Emboss'];
  const r = await runMultipleChoice({ model, tokenizer }, 'Which filter bends?', choices, { rule: 'calibrated' });
  const want = score(
    model,
    ids('<div class="question">Which filter bends?</div><div class="answer">'),
    choices.map((c) => ids(`${c}</div>`)),
    {
      premise: ids('</div><div class="answer">'),
      contentFree: ['N/A', '', '[MASK]'].map((x) => ids(`<div class="question">${x}</div><div class="answer">`)),
    },
  );
  t.deepEqual(r.scores, want);
  t.is(r.best, rank(want, 'calibrated'));
  t.is(r.choice, choices[r.best]);
  await t.throwsAsync(runMultipleChoice({ model, tokenizer }, 'Q', ['a', ' ']), { message: /empty choice/ });
  model.dispose();
});

test.serial('run functions leak no tensors (second call)', async (t) => {
  const tokenizer = await promptTokenizer();
  const model = randomModel(tokenizer, {}, 10);
  const vq = new vqgan.Vqgan(vqgan.VQGAN_PRESETS.tiny, 3);
  const target = { model, tokenizer };
  const codes = Array.from({ length: 16 }, (_, i) => i);
  const all = async () => {
    await runTitle(target, samplePageHtml(2), { numBeams: 2, maxNewTokens: 3 });
    await runCaption(target, { codes }, { maxNewTokens: 3 });
    await runTextToImage(target, 'a square', { imageTokenizer: vq, numSamples: 2 });
    await runImageInfill(target, { codes, start: 2, end: 5 }, { imageTokenizer: vq });
    await runMultipleChoice(target, 'Q?', ['a', 'b']);
  };
  await all();
  const before = tf.memory().numTensors;
  await all();
  t.is(tf.memory().numTensors, before);
  model.dispose();
});
