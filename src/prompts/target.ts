// What a typed `run…` function of the prompt library runs on: a loaded `{ model, tokenizer }` (from loadRun,
// or built in a test) or the path of a training run / inference bundle, loaded once per path and kept.
// Also the decoding options the run functions share, and turning generated ids into text: the tokens up to
// the first stop token, decoded, HTML entities of the minimizer's escaping undone. Sibling task modules
// (title.ts, caption.ts, image.ts, code.ts) build prompts; this file only resolves and finishes.

import type { GenerateOptions } from '../model/index.js';
import { loadRun, type GPT, type LoadedRun } from '../model/index.js';
import type { Tokenizer, VocabLayout } from '../tokenize/index.js';
import { LoadOnce } from '../io/index.js';

export interface ModelAndTokenizer {
  model: GPT;
  tokenizer: Tokenizer;
}

/** A loaded model + tokenizer, or a run / bundle folder. */
export type PromptTarget = ModelAndTokenizer | string;

/** Decoding choices a run function passes to generate (each task has its own defaults). */
export type DecodeOptions = Partial<
  Pick<
    GenerateOptions,
    'maxNewTokens' | 'temperature' | 'topK' | 'topP' | 'numBeams' | 'lengthPenalty' | 'seed' | 'maxTimeMs' | 'onToken'
  >
>;

const DECODE_KEYS = [
  'maxNewTokens',
  'temperature',
  'topK',
  'topP',
  'numBeams',
  'lengthPenalty',
  'seed',
  'maxTimeMs',
  'onToken',
] as const;

/** Only the DecodeOptions fields of a run function's options (the rest are prompt options). */
export function decodeOptions(opts: DecodeOptions): DecodeOptions {
  const out: Record<string, unknown> = {};
  for (const k of DECODE_KEYS) if (opts[k] !== undefined) out[k] = opts[k];
  return out as DecodeOptions;
}

const loaded = new LoadOnce<LoadedRun>();

/** The model and tokenizer of a target; a path is loaded once per process (do not dispose its model). */
export async function resolveTarget(target: PromptTarget): Promise<ModelAndTokenizer> {
  if (typeof target !== 'string') return target;
  return loaded.get(target, () => loadRun(target));
}

/** Tokens that end an infilled span: <eom>, end of document, and any sentinel (a new span cannot start inside one). */
export function spanStops(layout: VocabLayout): number[] {
  return [layout.eom, layout.eos, ...Array.from({ length: layout.maskCount }, (_, i) => layout.maskBase + i)];
}

/** Generated ids up to (not including) the first of `stops`. */
export function untilStop(ids: number[], stops: number[]): number[] {
  const at = ids.findIndex((id) => stops.includes(id));
  return at < 0 ? ids : ids.slice(0, at);
}

/** Undo the minimizer's escaping (serialize.ts escapes & < > in text and also " in attributes). */
export function unescapeHtml(text: string): string {
  return text.replace(
    /&(amp|lt|gt|quot|#39);/g,
    (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? _,
  );
}
