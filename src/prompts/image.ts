// Image generation and image infilling through the HTML image slot (CM3 §4.2.2 and §4.2.1):
//   text → image   <img alt="{text}" src="<image>   then exactly codesPerImage codes, sampled only from the
//                  image-code block (allowedIds), then </image>; the VQGAN decodes them to RGB → PNG. N samples
//                  are reranked by the model's own score of the alt text given each image (noisy channel:
//                  <img alt="<mask:0>" src="<image>…</image>"><mask:0>{text}<eom>; no CLIP weights exist here).
//   image infill   <img src="<image>{prefix codes}<mask:0>{suffix codes}</image>"><mask:0>  then exactly the
//                  missing number of codes from the block; PSNR/SSIM of the decoded image against the original.
// Codes are 0-based VQGAN codes; the vocabulary's image block (imageBase…) must hold the VQGAN's codebook.

import sharp from 'sharp';
import { HyperlmError } from '../errors.js';
import { generate } from '../model/index.js';
import { escapeAttr } from '../minimize/serialize.js';
import type { Tokenizer } from '../tokenize/index.js';
import { loadImage, loadImageTokenizer, psnr, ssim, type ImageTokenizer } from '../vqgan/index.js';
import { checkCodes, encodePrompt, type PromptPart } from './prompt.js';
import { candidateLogProbs } from './score.js';
import { decodeOptions, resolveTarget, type DecodeOptions, type PromptTarget } from './target.js';

/** `<img alt="{text}" src="<image>`. Pure. */
export function textToImagePrompt(text: string): PromptPart[] {
  if (text.trim() === '') throw new HyperlmError('PROMPT_EMPTY', 'text-to-image: the alt text is empty');
  return [{ text: `<img alt="${escapeAttr(text)}" src="` }, { image: 'begin' }];
}

/** `<img alt="<mask:0>" src="<image>{codes}</image>"><mask:0>`: the noisy-channel scoring prompt. Pure. */
export function altScoringPrompt(codes: ArrayLike<number>): PromptPart[] {
  return [
    { text: '<img alt="' },
    { mask: 0 },
    { text: '" src="' },
    { image: 'begin' },
    { codes },
    { image: 'end' },
    { text: '">' },
    { mask: 0 },
  ];
}

/** `<img[ alt="{alt}"] src="<image>{codes before start}<mask:0>{codes from end}</image>"><mask:0>`. Pure. */
export function imageInfillPrompt(codes: ArrayLike<number>, start: number, end: number, alt?: string): PromptPart[] {
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start < end && end <= codes.length)) {
    throw new HyperlmError(
      'PROMPT_BAD_INPUT',
      `image infill: span [${start}, ${end}) must be non-empty within the image's ${codes.length} codes`,
    );
  }
  const all = Array.from(codes);
  return [
    { text: alt === undefined ? '<img src="' : `<img alt="${escapeAttr(alt)}" src="` },
    { image: 'begin' },
    { codes: all.slice(0, start) },
    { mask: 0 },
    { codes: all.slice(end) },
    { image: 'end' },
    { text: '">' },
    { mask: 0 },
  ];
}

/** An image file's bytes → the VQGAN's RGB input and its codes. */
export async function encodeImage(
  imageTokenizer: ImageTokenizer,
  bytes: Uint8Array,
  source = 'image',
): Promise<{ rgb: Uint8Array; codes: Uint16Array }> {
  const img = await loadImage(bytes, { size: imageTokenizer.resolution }, source);
  if ('drop' in img)
    throw new HyperlmError('PROMPT_BAD_INPUT', `${source}: cannot load the image (${img.drop}: ${img.detail})`);
  const [codes] = await imageTokenizer.encode([img.rgb]);
  return { rgb: img.rgb, codes };
}

/** size×size RGB → PNG bytes. */
export async function rgbToPng(rgb: Uint8Array, size: number): Promise<Uint8Array> {
  return new Uint8Array(
    await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), {
      raw: { width: size, height: size, channels: 3 },
    })
      .png()
      .toBuffer(),
  );
}

async function imageTokenizerOf(it: ImageTokenizer | string, tokenizer: Tokenizer): Promise<ImageTokenizer> {
  const vq = typeof it === 'string' ? await loadImageTokenizer(it) : it;
  if (vq.codebookSize > tokenizer.layout.imageCount) {
    throw new HyperlmError(
      'PROMPT_BAD_INPUT',
      `image tokenizer has ${vq.codebookSize} codes but the vocabulary's image block holds ${tokenizer.layout.imageCount}`,
    );
  }
  return vq;
}

/** A budget or callback that stopped a row early leaves an image without all its codes. */
function checkComplete(rows: number[][], n: number): void {
  const short = rows.find((r) => r.length < n);
  if (short)
    throw new HyperlmError(
      'PROMPT_BAD_INPUT',
      `image generation stopped after ${short.length} of ${n} codes (maxTimeMs or onToken); an image needs all of them`,
    );
}

export interface ImageOptions extends DecodeOptions {
  /** The VQGAN (or its run / bundle folder, e.g. data/vqgan). */
  imageTokenizer: ImageTokenizer | string;
}

export interface GeneratedImage {
  codes: Uint16Array;
  png: Uint8Array;
  /** Σ log P(alt text, <eom> | image) under the noisy-channel prompt. */
  score: number;
}

export interface TextToImageResult {
  /** Best noisy-channel score first. */
  samples: GeneratedImage[];
  prompt: string;
}

/** Text → N images (default 4, temperature 1), reranked by the model's score of the text given each image. */
export async function runTextToImage(
  target: PromptTarget,
  text: string,
  opts: ImageOptions & { numSamples?: number },
): Promise<TextToImageResult> {
  const { model, tokenizer } = await resolveTarget(target);
  const vq = await imageTokenizerOf(opts.imageTokenizer, tokenizer);
  const L = tokenizer.layout,
    N = vq.codesPerImage;
  const enc = encodePrompt(tokenizer, textToImagePrompt(text), model.config.blockSize - N, 'text-to-image prompt');
  const out = generate(model, [enc.ids], {
    temperature: 1,
    ...decodeOptions(opts),
    numBeams: 1,
    numSamples: opts.numSamples ?? 4,
    maxNewTokens: N,
    allowedIds: [[L.imageBase, L.imageBase + vq.codebookSize]],
    padToken: L.pad,
  });
  checkComplete(out.tokens, N);
  const codes = out.tokens.map((row) => Uint16Array.from(row, (id) => id - L.imageBase));
  const rgbs = await vq.decode(codes);
  const alt = [...tokenizer.encode(escapeAttr(text)), L.eom];
  const samples: GeneratedImage[] = [];
  for (let i = 0; i < codes.length; i++) {
    const scoring = encodePrompt(
      tokenizer,
      altScoringPrompt(codes[i]),
      model.config.blockSize - alt.length,
      'text-to-image reranking prompt',
    );
    samples.push({
      codes: codes[i],
      png: await rgbToPng(rgbs[i], vq.resolution),
      score: candidateLogProbs(model, scoring.ids, [alt])[0],
    });
  }
  samples.sort((a, b) => b.score - a.score);
  return { samples, prompt: enc.text };
}

export interface ImageInfillInput {
  /** The image's codes; codes[start..end) are regenerated. */
  codes: ArrayLike<number>;
  start: number;
  end: number;
  alt?: string;
  /** The original RGB (resolution² × 3) to measure against; default the VQGAN decode of `codes`. */
  original?: Uint8Array;
}

export interface ImageInfillResult {
  /** All codes, the span filled in. */
  codes: Uint16Array;
  png: Uint8Array;
  psnr: number;
  ssim: number;
  prompt: string;
}

/** Regenerate codes[start..end) from the rest of the image (greedy by default). */
export async function runImageInfill(
  target: PromptTarget,
  input: ImageInfillInput,
  opts: ImageOptions,
): Promise<ImageInfillResult> {
  const { model, tokenizer } = await resolveTarget(target);
  const vq = await imageTokenizerOf(opts.imageTokenizer, tokenizer);
  const L = tokenizer.layout;
  checkCodes(input.codes, vq.codebookSize, 'image infill');
  if (input.codes.length !== vq.codesPerImage) {
    throw new HyperlmError(
      'PROMPT_BAD_INPUT',
      `image infill: ${input.codes.length} codes given, the image tokenizer uses ${vq.codesPerImage} per image`,
    );
  }
  const missing = input.end - input.start;
  const enc = encodePrompt(
    tokenizer,
    imageInfillPrompt(input.codes, input.start, input.end, input.alt),
    model.config.blockSize - missing,
    'image infill prompt',
  );
  const out = generate(model, [enc.ids], {
    ...decodeOptions(opts),
    numBeams: 1,
    maxNewTokens: missing,
    allowedIds: [[L.imageBase, L.imageBase + vq.codebookSize]],
    padToken: L.pad,
  });
  checkComplete(out.tokens, missing);
  const codes = Uint16Array.from(input.codes);
  out.tokens[0].forEach((id, i) => (codes[input.start + i] = id - L.imageBase));
  const [rgb, reference] = await vq
    .decode(input.original ? [codes] : [codes, Uint16Array.from(input.codes)])
    .then((r) => [r[0], input.original ?? r[1]]);
  const size = vq.resolution;
  return {
    codes,
    png: await rgbToPng(rgb, size),
    psnr: psnr(reference, rgb),
    ssim: ssim(reference, rgb, size, size),
    prompt: enc.text,
  };
}
