// Code infilling (InCoder §2.2) as a typed run function over the infill server's prompt builder
// (code-infill.ts, the serve branch's, used as is): `header prefix <mask:0> suffix <mask:1> <mask:0>` → the
// middle until <eom> (any sentinel or </s> also ends it), in three modes — single-line (also stops at the
// first newline), multi-line, and left-to-right (header + prefix only, the same model as a baseline).
// The builder fits the prompt to the model's context keeping the text nearest the cursor (3:1 prefix:suffix
// by default); this file decodes with generate.ts and reports the completion, why it stopped and token counts.

import { generate, type FinishReason } from '../model/index.js';
import {
  buildInfillPrompt,
  INFILL_DEFAULTS,
  type InfillInput,
  type InfillMode,
  type InfillOptions,
  type InfillPrompt,
} from './code-infill.js';
import { decodeOptions, resolveTarget, untilStop, type DecodeOptions, type PromptTarget } from './target.js';

export interface CodeInfillOptions
  extends DecodeOptions, Partial<Omit<InfillOptions, 'contextTokens' | 'maxNewTokens'>> {
  /** Extra stop strings on top of the mode's (e.g. ['\n'] to make left-to-right stop at the line end). */
  stopStrings?: string[];
}

export interface CodeInfillResult {
  /** The generated middle (or continuation, left-to-right), cut before its stop token or stop string. */
  completion: string;
  finish: FinishReason;
  /** The stop string that ended it, if one did. */
  stopString?: string;
  mode: InfillMode;
  promptTokens: number;
  /** Tokens generated, including a final stop token. */
  generatedTokens: number;
  /** Tokens before the stop token (with a stop string, up to and including the token that completed it). */
  completionTokens: number;
  /** Whether the builder left text out to fit the context, and what it kept per part. */
  truncated: boolean;
  parts: InfillPrompt['parts'];
}

/** Fill the cursor position of a file (greedy, ≤ 64 new tokens, multi-line, by default). */
export async function runCodeInfill(
  target: PromptTarget,
  input: InfillInput,
  opts: CodeInfillOptions = {},
): Promise<CodeInfillResult> {
  const { model, tokenizer } = await resolveTarget(target);
  const L = tokenizer.layout;
  const maxNewTokens = opts.maxNewTokens ?? 64;
  const prompt = buildInfillPrompt(tokenizer, input, {
    ...INFILL_DEFAULTS,
    ...(opts.mode ? { mode: opts.mode } : {}),
    ...(opts.prefixShare !== undefined ? { prefixShare: opts.prefixShare } : {}),
    ...(opts.extraShare !== undefined ? { extraShare: opts.extraShare } : {}),
    ...(opts.truncateStep !== undefined ? { truncateStep: opts.truncateStep } : {}),
    contextTokens: model.config.blockSize,
    maxNewTokens,
  });
  const stopStrings = [...prompt.stopStrings, ...(opts.stopStrings ?? [])];
  const middle = (ids: number[]) => untilStop(ids, prompt.stopTokens).filter((id) => id < L.imageBase);
  const out = generate(model, [prompt.tokens], {
    ...decodeOptions(opts),
    maxNewTokens,
    stopTokens: prompt.stopTokens,
    padToken: L.pad,
    ...(stopStrings.length ? { stopStrings, decode: (ids: number[]) => tokenizer.decode(middle(ids)) } : {}),
  });
  const ids = middle(out.tokens[0]);
  const completion = stopStrings.length ? out.text![0] : tokenizer.decode(ids);
  return {
    completion,
    finish: out.finish[0],
    ...(out.stopString?.[0] !== undefined ? { stopString: out.stopString[0] } : {}),
    mode: prompt.mode,
    promptTokens: prompt.tokens.length,
    generatedTokens: out.tokens[0].length,
    completionTokens: ids.length,
    truncated: prompt.truncated,
    parts: prompt.parts,
  };
}
