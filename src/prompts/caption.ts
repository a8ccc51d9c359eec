// Image captioning as in CM3 §4.2.3, in the two forms the paper prompts with. The minimizer writes attributes
// alphabetically, so alt comes before src and a left-to-right model cannot see the image before its alt text:
//   masked (CM3 infilling)  {context}<img alt="<mask:0>" src="<image><img:c>…</image>"><mask:0>  → until <eom>
//   causal (title after src) {context}<img src="<image><img:c>…</image>" title="                  → until `"`
// The context is the page's minimized HTML before the image, cut at its start to fit. Each form proposes a
// caption; both are scored under both prompts (score.ts, mean log-probability) and the better average wins.
// Image codes come from the VQGAN (image.ts `encodeImage`), as the pipeline's `--images vqgan` writes them.

import { generate } from '../model/index.js';
import { checkCodes, encodePrompt, type PromptPart } from './prompt.js';
import { candidateLogProbs } from './score.js';
import {
  decodeOptions,
  resolveTarget,
  spanStops,
  unescapeHtml,
  untilStop,
  type DecodeOptions,
  type PromptTarget,
} from './target.js';

export interface CaptionInput {
  /** Minimized HTML of the page before the image (may be empty). */
  context?: string;
  /** The image's VQGAN codes (0-based). */
  codes: ArrayLike<number>;
}

const imagePart = (codes: ArrayLike<number>): PromptPart[] => [{ image: 'begin' }, { codes }, { image: 'end' }];

/** `{context}<img alt="<mask:0>" src="<image>…</image>"><mask:0>`. Pure. */
export function captionPromptMasked(input: CaptionInput): PromptPart[] {
  return [
    { text: input.context ?? '', truncate: 'start' },
    { text: '<img alt="' },
    { mask: 0 },
    { text: '" src="' },
    ...imagePart(input.codes),
    { text: '">' },
    { mask: 0 },
  ];
}

/** `{context}<img src="<image>…</image>" title="`. Pure. */
export function captionPromptCausal(input: CaptionInput): PromptPart[] {
  return [
    { text: input.context ?? '', truncate: 'start' },
    { text: '<img src="' },
    ...imagePart(input.codes),
    { text: '" title="' },
  ];
}

export interface CaptionCandidate {
  form: 'masked' | 'causal';
  text: string;
  /** Mean log-probability of the caption under each prompt, and their average (−∞ for an empty caption). */
  scores: { masked: number; causal: number; combined: number };
  finish: string;
}

export interface CaptionResult {
  /** The better-scoring candidate's text. */
  prediction: string;
  chosen: 'masked' | 'causal';
  candidates: CaptionCandidate[];
  prompts: { masked: string; causal: string };
  promptTokens: { masked: number; causal: number };
}

export interface CaptionOptions extends DecodeOptions {
  /** Which forms to run (default both). */
  forms?: Array<'masked' | 'causal'>;
}

/** Caption an image from its codes (and the page before it): each form proposes, both prompts judge. */
export async function runCaption(
  target: PromptTarget,
  input: CaptionInput,
  opts: CaptionOptions = {},
): Promise<CaptionResult> {
  const { model, tokenizer } = await resolveTarget(target);
  const L = tokenizer.layout;
  checkCodes(input.codes, L.imageCount, 'caption image');
  const maxNewTokens = opts.maxNewTokens ?? 16;
  const budget = model.config.blockSize - maxNewTokens - 2; // room for the caption and its closing token when scored
  const masked = encodePrompt(tokenizer, captionPromptMasked(input), budget, 'caption prompt (masked)');
  const causal = encodePrompt(tokenizer, captionPromptCausal(input), budget, 'caption prompt (causal)');
  const stops = [...spanStops(L), L.imageBegin];
  const decode = (ids: number[]) => tokenizer.decode(untilStop(ids, stops).filter((id) => id < L.imageBase));
  const dec = decodeOptions(opts);
  const candidates: CaptionCandidate[] = [];
  const raws: string[] = []; // each candidate as generated, before unescaping
  for (const form of opts.forms ?? (['masked', 'causal'] as const)) {
    const out =
      form === 'masked'
        ? generate(model, [masked.ids], { ...dec, maxNewTokens, stopTokens: stops, padToken: L.pad })
        : generate(model, [causal.ids], {
            ...dec,
            numBeams: 1,
            maxNewTokens,
            stopTokens: stops,
            stopStrings: ['"'],
            decode,
            padToken: L.pad,
          });
    const text = form === 'causal' ? out.text![0] : decode(out.tokens[0]);
    candidates.push({
      form,
      text: unescapeHtml(text).trim(),
      scores: { masked: -Infinity, causal: -Infinity, combined: -Infinity },
      finish: out.finish[0],
    });
    raws.push(text.trim());
  }
  // mean log-probability of the caption as written in the attribute (still escaped), cut to the context
  const meanOf = (prompt: number[], ids: number[]): number => {
    const kept = ids.slice(0, model.config.blockSize - prompt.length);
    return candidateLogProbs(model, prompt, [kept])[0] / kept.length;
  };
  candidates.forEach((c, i) => {
    if (c.text === '') return;
    const m = meanOf(masked.ids, [...tokenizer.encode(raws[i]), L.eom]);
    const k = meanOf(causal.ids, tokenizer.encode(raws[i] + '"'));
    c.scores = { masked: m, causal: k, combined: (m + k) / 2 };
  });
  const best = candidates.reduce((a, b) => (b.scores.combined > a.scores.combined ? b : a));
  return {
    prediction: best.text,
    chosen: best.form,
    candidates,
    prompts: { masked: masked.text, causal: causal.text },
    promptTokens: { masked: masked.ids.length, causal: causal.ids.length },
  };
}
