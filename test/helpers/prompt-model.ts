// Shared fixtures for the prompt-library tests: a small SentencePiece tokenizer trained here on minimized
// pages from data/sample (the real encoder, with CM3 sentinels and an image block sized for the tiny VQGAN),
// and a random-init GPT with that vocabulary. Prompt strings, constraints and scoring need no trained model.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MINIMIZE, GPT, Tokenizer, minimizeHtml, resolveModelConfig, trainBpe } from '../../src/index.js';
import { SAMPLE, walk } from './fixtures.js';

/** Minimized text of the first `n` sample pages (images as alt text). */
export function samplePages(n: number): string[] {
  return walk(join(SAMPLE, 'html'))
    .filter((f) => f.endsWith('.html'))
    .slice(0, n)
    .map((f) => minimizeHtml(readFileSync(f, 'utf8'), { ...DEFAULT_MINIMIZE, imageSlots: false }, f).segments.join(''));
}

/** Raw HTML of sample page i. */
export function samplePageHtml(i: number): string {
  return readFileSync(walk(join(SAMPLE, 'html')).filter((f) => f.endsWith('.html'))[i], 'utf8');
}

let tokenizer: Promise<Tokenizer> | undefined;

/** A 700-piece tokenizer over sample pages, image block of 64 codes (VQGAN preset `tiny`). */
export function promptTokenizer(): Promise<Tokenizer> {
  tokenizer ??= Tokenizer.fromBytes(
    trainBpe(samplePages(6), { vocabSize: 700, imageCodes: 64 }),
    { imageCodes: 64 },
    'test tokenizer',
  );
  return tokenizer;
}

/** A random-init tiny GPT (dense, rotary) over the tokenizer's vocabulary. */
export function randomModel(tok: Tokenizer, over: Record<string, unknown> = {}, seed = 1): GPT {
  return new GPT(
    resolveModelConfig('tiny', {
      vocabSize: tok.layout.size,
      blockSize: 128,
      initStd: 0.1,
      moe: { every: 0 },
      ...over,
    }),
    seed,
  );
}
