// What every protocol does once it has read its fields: build the prompt (src/prompts/code-infill.ts for
// infill and suffix requests, the raw text for llama.cpp's /completion), run it through the engine with the
// text rules of completion.ts, and hand back the content, the stop reason and the counts that each protocol
// reports under its own names. Protocol files (llama-cpp.ts, openai.ts, ollama.ts) only map fields.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildInfillPrompt, type InfillFile, type InfillMode, type InfillPrompt } from '../prompts/code-infill.js';
import { CompletionText, type StopType } from './completion.js';
import type { ServeConfig } from './config.js';
import type { InferenceEngine, JobResult } from './engine.js';
import { ServeError } from './http.js';
import type { Fields } from './fields.js';
import type { ServedModel } from './load-model.js';

export interface ServeContext {
  served: ServedModel;
  engine: InferenceEngine;
  config: ServeConfig;
  /** Positions per slot. */
  ctx: number;
}

export interface GenerationParams {
  nPredict: number;
  temperature: number;
  topK: number;
  topP: number;
  /** -1 = a random seed (the one used is reported back). */
  seed: number;
  stop: string[];
  nIndent: number;
  tMaxPredictMs: number;
  cachePrompt: boolean;
  slot?: number;
}

export interface Outcome {
  content: string;
  tokens: number[];
  stopType: StopType;
  stoppingWord: string;
  /** The context filled up before the completion ended (llama.cpp's `truncated`). */
  truncated: boolean;
  hasNewLine: boolean;
  seed: number;
  job: JobResult;
}

/** n_predict (or an alias): -1 or absent = the server's --max-predict; otherwise 0..max-predict. */
export function readNPredict(f: Fields, names: string[], config: ServeConfig, fallback = -1): number {
  const name = names.find((n) => f.has(n)) ?? names[0];
  const n = f.number(name, fallback, { integer: true, min: -1, max: config.maxPredict });
  return n === -1 ? config.maxPredict : n;
}

/** The infill prompt for this server's context: n_predict reserves at most reserveShare of it. */
export function infillPrompt(
  s: ServeContext,
  input: { prefix: string; suffix: string; extra?: InfillFile[]; path?: string },
  nPredict: number,
  mode: InfillMode = s.config.infillMode,
): InfillPrompt {
  return buildInfillPrompt(
    s.served.tokenizer,
    { ...input, language: input.path === undefined ? s.config.language : undefined },
    {
      contextTokens: s.ctx,
      maxNewTokens: Math.min(nPredict, Math.floor(s.ctx * s.config.reserveShare)),
      mode,
      prefixShare: s.config.prefixShare,
      extraShare: s.config.extraShare,
      truncateStep: s.config.truncateStep,
    },
  );
}

/** Token ids of a raw prompt (llama.cpp /completion: a string, token ids, or a mix); 400 when it does not fit. */
export function rawPrompt(s: ServeContext, prompt: unknown, field = 'prompt'): number[] {
  const { tokenizer } = s.served;
  const parts = Array.isArray(prompt) ? prompt : [prompt];
  const ids: number[] = [];
  for (const p of parts) {
    if (typeof p === 'string') ids.push(...tokenizer.encode(p));
    else if (Number.isInteger(p) && (p as number) >= 0 && (p as number) < tokenizer.layout.size) ids.push(p as number);
    else
      throw new ServeError(
        'SERVE_BAD_REQUEST',
        `"${field}" must be a string, or a list of token ids (0..${tokenizer.layout.size - 1}) and strings; got ${JSON.stringify(p)?.slice(0, 40)}`,
        field,
      );
  }
  if (ids.length === 0) throw new ServeError('PROMPT_EMPTY', `"${field}" is empty`, field);
  if (ids.length >= s.ctx) {
    throw new ServeError(
      'PROMPT_TOO_LONG',
      `the prompt has ${ids.length} tokens, more than the context of ${s.ctx} allows (the request exceeds the available context size)`,
      field,
    );
  }
  return ids;
}

/** Stop tokens of a raw prompt: end of document and <eom> (a prompt written in the infill format ends there). */
export function rawStopTokens(s: ServeContext): number[] {
  return [s.served.tokenizer.layout.eos, s.served.tokenizer.layout.eom];
}

/** Runs one completion; `onText` receives each released piece (streaming) with its token ids. */
export async function runCompletion(
  s: ServeContext,
  prompt: number[],
  stopTokens: readonly number[],
  p: GenerationParams,
  signal: AbortSignal,
  onText?: (text: string, tokens: number[]) => void,
): Promise<Outcome> {
  const seed = p.seed === -1 ? Math.floor(Math.random() * 2 ** 31) : p.seed;
  const text = new CompletionText(
    s.served.tokenizer,
    { stop: p.stop, nIndent: p.nIndent, tMaxPredictMs: p.tMaxPredictMs },
    onText,
  );
  const job = await s.engine.submit({
    prompt,
    maxTokens: p.nPredict,
    temperature: p.temperature,
    topK: p.topK,
    topP: p.topP,
    seed,
    stopTokens,
    cachePrompt: p.cachePrompt,
    slot: p.slot,
    signal,
    onToken: (t) => text.push(t),
  });
  if (!text.ended) text.finish(job.end === 'stop-token' ? 'eos' : 'limit');
  return {
    content: text.content,
    tokens: job.tokens,
    stopType: text.stopType,
    stoppingWord: text.stoppingWord,
    truncated: job.end === 'context',
    hasNewLine: text.hasNewLine,
    seed,
    job,
  };
}

/** What a protocol handler gets: the server, the request's parsed body, and a signal aborted when the client leaves. */
export interface RouteContext {
  s: ServeContext;
  req: IncomingMessage;
  res: ServerResponse;
  body: Fields;
  signal: AbortSignal;
  /** Fields added to this request's log line (tokens, cache, stop…). */
  log: Record<string, unknown>;
}

/** Adds a finished completion's counts to the request's log line. */
export function logOutcome(log: Record<string, unknown>, o: Outcome): void {
  log.prompt_tokens = ((log.prompt_tokens as number | undefined) ?? 0) + o.job.promptTokens;
  log.cached = ((log.cached as number | undefined) ?? 0) + o.job.cachedTokens;
  log.predicted = ((log.predicted as number | undefined) ?? 0) + o.job.predicted;
  log.stop = o.job.end === 'cancelled' ? 'cancelled' : o.stopType;
  log.slot = o.job.slot;
}
