// The code-infill prompt (InCoder, Fried et al. 2022, §2.2 "Inference: infilling"), written with this
// project's CM3 sentinels and code-document format, as a pure function of text → token ids:
//
//   [extra files…]  <| file lang=L path=P |>\n  prefix  <mask:0>  suffix  <mask:1>  <mask:0>   → middle <eom>
//
// Training documents are `header + file` with spans cut out and moved to the end as `<mask:i> span <eom>`
// (src/tokenize/cm3.ts), so asking for span 0 after the document makes the model write the middle and
// close it with <eom>. `<mask:1>` after the suffix is always present: it says the document goes on past
// what we show (a truncated suffix), so the model does not try to finish the file inside span 0. Extra files
// (llama.cpp's `input_extra`) come first as whole code documents ending in </s>, as documents are packed in
// training. Everything is counted in tokens: the prompt fits `contextTokens − maxNewTokens`, keeping the
// text nearest the cursor (prefix end, suffix start). Modes: multi-line, single-line (stop at the first
// newline) and left-to-right (header + prefix only, the baseline InCoder compares infilling against).

import { HyperlmError } from '../errors.js';
import { codeDocumentText, languageForPath } from '../minimize/index.js';
import type { VocabLayout } from '../tokenize/vocab.js';

export type InfillMode = 'multi-line' | 'single-line' | 'left-to-right';

export interface InfillOptions {
  /** Positions the model attends over (its blockSize, or a smaller served context). */
  contextTokens: number;
  /** Positions kept free for the generated middle. */
  maxNewTokens: number;
  mode: InfillMode;
  /** Share of the local budget for the prefix; the suffix gets the rest, and either side's unused part goes to the other. */
  prefixShare: number;
  /** Most of the budget that extra files may take (measured on the budget alone, so it does not move with the local text). */
  extraShare: number;
  /**
   * A prefix cut from the left drops a multiple of this many tokens: the prompt's start then moves only every
   * few tokens of typing, so the next request still shares its beginning with the cached one.
   */
  truncateStep: number;
}

export const INFILL_DEFAULTS: Omit<InfillOptions, 'contextTokens' | 'maxNewTokens'> = {
  mode: 'multi-line', // what editors ask for by default; single-line is their "complete this line"
  prefixShare: 0.75, // llama.cpp's 3:1 prefix:suffix split: the code before the cursor predicts more
  extraShare: 0.25, // the current file matters most; other files are hints
  truncateStep: 16, // ~1–2 lines of code per step; costs at most 15 prompt tokens
};

export interface InfillFile {
  filename: string;
  text: string;
}

export interface InfillInput {
  /** Text before the cursor (llama.cpp: input_prefix + prompt). */
  prefix: string;
  /** Text after the cursor. */
  suffix: string;
  /** The file's path, for the header; its extension names the language unless `language` is given. */
  path?: string;
  language?: string;
  /** Other files for context, oldest first (llama.vim's ring of chunks). */
  extra?: readonly InfillFile[];
}

/** The tokenizer surface the builder needs (src/tokenize/tokenizer.ts's Tokenizer has it). */
export interface InfillTokenizer {
  encode(text: string): number[];
  readonly layout: Pick<VocabLayout, 'eos' | 'eom' | 'maskBase' | 'maskCount'>;
}

export interface InfillPrompt {
  tokens: number[];
  /** Generation ends when one of these is sampled (not part of the middle): <eom>, </s> and every <mask:i>. */
  stopTokens: number[];
  /** Text that ends the middle when generated (cut off): "\n" in single-line mode. */
  stopStrings: string[];
  mode: InfillMode;
  /** Token counts kept / available per part. */
  parts: {
    extraFiles: { kept: number; total: number; tokens: number };
    header: number;
    prefix: { kept: number; total: number };
    suffix: { kept: number; total: number };
  };
  /** Whether any text was left out to fit the context. */
  truncated: boolean;
}

/** Language for the header: explicit, else from the path; undefined when neither says (then no header). */
function headerText(path: string | undefined, language: string | undefined): string | undefined {
  const lang = language ?? (path !== undefined ? languageForPath(path) : undefined);
  return lang === undefined ? undefined : codeDocumentText(path ?? '', lang, '');
}

function checkOptions(o: InfillOptions): void {
  const bad = (field: string, why: string, value: unknown): never => {
    throw new HyperlmError('CONFIG_BAD_VALUE', `code infill: options.${field} ${why}, got ${JSON.stringify(value)}`);
  };
  if (!Number.isInteger(o.contextTokens) || o.contextTokens < 1)
    bad('contextTokens', 'must be a positive integer', o.contextTokens);
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 0)
    bad('maxNewTokens', 'must be a non-negative integer', o.maxNewTokens);
  if (!(o.prefixShare >= 0 && o.prefixShare <= 1)) bad('prefixShare', 'must be in [0, 1]', o.prefixShare);
  if (!(o.extraShare >= 0 && o.extraShare <= 1)) bad('extraShare', 'must be in [0, 1]', o.extraShare);
  if (!Number.isInteger(o.truncateStep) || o.truncateStep < 1)
    bad('truncateStep', 'must be a positive integer', o.truncateStep);
  if (!['multi-line', 'single-line', 'left-to-right'].includes(o.mode))
    bad('mode', 'must be multi-line, single-line or left-to-right', o.mode);
}

/** Whole extra files, newest first, while they fit `budget`; returned in their original order. */
function fitExtraFiles(
  tok: InfillTokenizer,
  files: readonly InfillFile[],
  budget: number,
): { ids: number[]; kept: number } {
  const chosen: number[][] = [];
  let used = 0;
  for (let i = files.length - 1; i >= 0; i--) {
    const f = files[i];
    const ids = [
      ...tok.encode(codeDocumentText(f.filename, languageForPath(f.filename) ?? 'text', f.text)),
      tok.layout.eos,
    ];
    if (used + ids.length > budget) continue;
    used += ids.length;
    chosen.unshift(ids);
  }
  return { ids: chosen.flat(), kept: chosen.length };
}

/** The last `keep` prefix tokens, with the cut rounded up to a multiple of `step` (see truncateStep). */
function keepPrefixTail(ids: number[], keep: number, step: number): number[] {
  if (keep >= ids.length) return ids;
  const cut = Math.min(ids.length, Math.ceil((ids.length - keep) / step) * step);
  return ids.slice(cut);
}

/**
 * Builds the prompt. Throws PROMPT_EMPTY when prefix, suffix and extra files are all empty, and
 * PROMPT_TOO_LONG when the context minus maxNewTokens cannot hold the header, the sentinels and one token.
 */
export function buildInfillPrompt(tok: InfillTokenizer, input: InfillInput, options: InfillOptions): InfillPrompt {
  checkOptions(options);
  const { mode } = options;
  const infill = mode !== 'left-to-right';
  const extra = input.extra ?? [];
  if (input.prefix === '' && (input.suffix === '' || !infill) && extra.length === 0) {
    throw new HyperlmError(
      'PROMPT_EMPTY',
      `code infill: input prefix${infill ? ' and suffix are' : ' is'} empty and there are no extra files: nothing to condition on`,
    );
  }
  const { maskBase, maskCount, eom, eos } = tok.layout;
  if (infill && maskCount < 2)
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `code infill needs the sentinels <mask:0> and <mask:1>; the vocabulary has ${maskCount}`,
    );
  const header = headerText(input.path, input.language);
  const headerIds = header === undefined ? [] : tok.encode(header);
  const sentinels = infill ? 3 : 0; // <mask:0> after the prefix, <mask:1> after the suffix, <mask:0> to ask for span 0
  const budget = options.contextTokens - options.maxNewTokens;
  const fixed = headerIds.length + sentinels;
  if (budget < fixed + 1) {
    throw new HyperlmError(
      'PROMPT_TOO_LONG',
      `code infill: context ${options.contextTokens} − maxNewTokens ${options.maxNewTokens} leaves ${budget} prompt tokens; the header and sentinels alone need ${fixed} + 1`,
    );
  }
  const extraFit = fitExtraFiles(tok, extra, Math.min(budget - fixed, Math.floor(options.extraShare * budget)));
  const local = budget - fixed - extraFit.ids.length;
  const prefixIds = tok.encode(input.prefix);
  const suffixIds = infill ? tok.encode(input.suffix) : [];
  // split `local` prefixShare : rest, lending either side's unused share to the other
  let prefixTake = Math.min(prefixIds.length, Math.floor(local * options.prefixShare));
  const suffixTake0 = Math.min(suffixIds.length, local - prefixTake);
  prefixTake = Math.min(prefixIds.length, local - suffixTake0);
  const prefixKept = keepPrefixTail(prefixIds, prefixTake, options.truncateStep);
  const suffixKept = suffixIds.slice(0, Math.min(suffixIds.length, local - prefixKept.length));
  const tokens = infill
    ? [...extraFit.ids, ...headerIds, ...prefixKept, maskBase, ...suffixKept, maskBase + 1, maskBase]
    : [...extraFit.ids, ...headerIds, ...prefixKept];
  return {
    tokens,
    stopTokens: [eom, eos, ...Array.from({ length: maskCount }, (_, i) => maskBase + i)],
    stopStrings: mode === 'single-line' ? ['\n'] : [],
    mode,
    parts: {
      extraFiles: { kept: extraFit.kept, total: extra.length, tokens: extraFit.ids.length },
      header: headerIds.length,
      prefix: { kept: prefixKept.length, total: prefixIds.length },
      suffix: { kept: suffixKept.length, total: suffixIds.length },
    },
    truncated:
      extraFit.kept < extra.length || prefixKept.length < prefixIds.length || suffixKept.length < suffixIds.length,
  };
}
