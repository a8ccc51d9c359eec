// The llama.cpp server protocol (ggml-org/llama.cpp tools/server, README "API Endpoints"), as llama.vim and
// llama.vscode speak it: POST /infill and /completion (one object, an array for n_cmpl > 1, or SSE
// `data: {json}` pieces ending in an object with "stop": true), /tokenize, /detokenize, GET /health, /props,
// /slots and /v1/models. Field names, defaults (temperature 0.8, top_k 40, top_p 0.95, cache_prompt true) and
// response shapes follow upstream; `prompt` on /infill is appended to input_prefix, as llama.cpp's
// format_infill does. Errors are {"error":{"code","message","type"}} with the HTTP status equal to code.

import { HyperlmError } from '../errors.js';
import type { InfillFile } from '../prompts/code-infill.js';
import { PieceType } from '../tokenize/spm-model.js';
import type { ServerResponse } from 'node:http';
import { EventStream, sendJson, statusOf } from './http.js';
import type { Fields } from './fields.js';
import {
  infillPrompt,
  logOutcome,
  rawPrompt,
  rawStopTokens,
  readNPredict,
  runCompletion,
  type GenerationParams,
  type Outcome,
  type RouteContext,
  type ServeContext,
} from './run-completion.js';

/** llama.cpp's error `type` for an HTTP status (server-common's error_type names). */
export function llamaErrorBody(err: unknown): { status: number; body: unknown } {
  const status = statusOf(err);
  const type =
    err instanceof HyperlmError && err.code === 'PROMPT_TOO_LONG'
      ? 'exceed_context_size_error'
      : ((
          {
            400: 'invalid_request_error',
            401: 'authentication_error',
            403: 'permission_error',
            404: 'not_found_error',
            408: 'invalid_request_error',
            413: 'invalid_request_error',
            503: 'unavailable_error',
          } as Record<number, string>
        )[status] ?? 'server_error');
  const message = err instanceof Error ? err.message : String(err);
  return { status, body: { error: { code: status, message, type } } };
}

/** The sampling and stopping fields shared by /completion and /infill. */
export function readGeneration(f: Fields, s: ServeContext): GenerationParams {
  const slot = f.number('id_slot', -1, { integer: true, min: -1, max: s.config.parallel - 1 });
  return {
    nPredict: readNPredict(f, ['n_predict', 'max_tokens'], s.config),
    temperature: f.number('temperature', 0.8, { min: 0 }),
    topK: f.number('top_k', 40, { integer: true, min: 0 }),
    topP: f.number('top_p', 0.95, { min: 0, max: 1 }),
    seed: seedOf(f.number('seed', -1, { integer: true })),
    stop: f.strings('stop'),
    nIndent: f.number('n_indent', 0, { integer: true, min: 0 }),
    tMaxPredictMs: f.number('t_max_predict_ms', 0, { min: 0 }),
    cachePrompt: f.bool('cache_prompt', true),
    slot: slot === -1 ? undefined : slot,
  };
}

/** llama.cpp's seed is a uint32 where 4294967295 (and -1) mean "random". */
function seedOf(n: number): number {
  return n < 0 || n === 4294967295 ? -1 : n >>> 0;
}

function readExtra(f: Fields): InfillFile[] {
  const v = f.raw('input_extra');
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) f.bad('input_extra', 'a list of {"filename", "text"} objects', v);
  return (v as unknown[]).map((chunk, i) => {
    if (typeof chunk !== 'object' || chunk === null || Array.isArray(chunk))
      f.bad(`input_extra[${i}]`, 'an object {"filename", "text"}', chunk);
    const { filename, text } = chunk as { filename?: unknown; text?: unknown };
    if (typeof text !== 'string') f.bad(`input_extra[${i}].text`, 'a string', text);
    if (filename !== undefined && typeof filename !== 'string')
      f.bad(`input_extra[${i}].filename`, 'a string', filename);
    return { filename: (filename as string | undefined) ?? '', text: text as string };
  });
}

/** `response_fields`: only the listed paths, each under its full path as the key ("timings/prompt_n"). */
function pickFields(obj: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const path of fields) {
    let v: unknown = obj;
    for (const key of path.split('/'))
      v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[key] : undefined;
    if (v !== undefined && path !== '') out[path] = v;
  }
  return out;
}

function timings(o: Outcome): Record<string, number> {
  const promptN = o.job.promptTokens - o.job.cachedTokens,
    predictedN = o.job.predicted;
  const per = (ms: number, n: number) => (n > 0 ? ms / n : 0);
  const rate = (ms: number, n: number) => (ms > 0 ? (1e3 * n) / ms : 0);
  return {
    cache_n: o.job.cachedTokens,
    prompt_n: promptN,
    prompt_ms: o.job.promptMs,
    prompt_per_token_ms: per(o.job.promptMs, promptN),
    prompt_per_second: rate(o.job.promptMs, promptN),
    predicted_n: predictedN,
    predicted_ms: o.job.predictedMs,
    predicted_per_token_ms: per(o.job.predictedMs, predictedN),
    predicted_per_second: rate(o.job.predictedMs, predictedN),
  };
}

function finalObject(
  s: ServeContext,
  o: Outcome,
  index: number,
  g: GenerationParams,
  stream: boolean,
  prompt: number[],
  returnTokens: boolean,
): Record<string, unknown> {
  return {
    index,
    content: stream ? '' : o.content,
    tokens: stream || !returnTokens ? [] : o.tokens,
    id_slot: o.job.slot,
    stop: true,
    model: s.served.name,
    tokens_predicted: o.job.predicted,
    tokens_evaluated: o.job.promptTokens,
    generation_settings: {
      n_ctx: s.ctx,
      n_predict: g.nPredict,
      model: s.served.name,
      seed: o.seed,
      temperature: g.temperature,
      top_k: g.topK,
      top_p: g.topP,
      stop: g.stop,
      n_indent: g.nIndent,
      t_max_predict_ms: g.tMaxPredictMs,
      cache_prompt: g.cachePrompt,
      stream,
    },
    prompt: s.served.tokenizer.decode(prompt),
    has_new_line: o.hasNewLine,
    truncated: o.truncated,
    stop_type: o.stopType === 'none' ? 'limit' : o.stopType,
    stopping_word: o.stoppingWord,
    tokens_cached: o.job.cachedTokens,
    timings: timings(o),
  };
}

/** Runs n completions of one prompt (n_cmpl) and answers with one object, an array, or an SSE stream. */
async function respond(
  c: RouteContext,
  prompt: number[],
  stopTokens: number[],
  g: GenerationParams,
  extraStops: string[],
): Promise<void> {
  const f = c.body;
  const n = f.number('n_cmpl', 1, { integer: true, min: 1, max: c.s.config.parallel });
  const stream = f.bool('stream', false);
  const fields = f.has('response_fields') ? f.strings('response_fields') : undefined;
  const returnTokens = f.bool('return_tokens', false);
  const params = { ...g, stop: [...g.stop, ...extraStops] };
  let events: EventStream | undefined;
  const open = () => (events ??= new EventStream(c.res, 'sse'));
  const group = new AbortController(); // one failed completion (queue full) cancels its siblings
  const onAbort = () => group.abort();
  c.signal.addEventListener('abort', onAbort, { once: true });
  const runs = Array.from({ length: n }, (_, i) => {
    let predicted = 0;
    return runCompletion(
      c.s,
      prompt,
      stopTokens,
      { ...params, seed: params.seed === -1 ? -1 : params.seed + i },
      group.signal,
      stream
        ? (text, tokens) =>
            open().send({
              index: i,
              content: text,
              tokens,
              stop: false,
              tokens_predicted: (predicted += tokens.length),
              tokens_evaluated: prompt.length,
            })
        : undefined,
    ).catch((err: unknown) => {
      group.abort();
      throw err;
    });
  });
  const settled = await Promise.allSettled(runs);
  c.signal.removeEventListener('abort', onAbort);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  const outcomes = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  outcomes.forEach((o) => logOutcome(c.log, o));
  if (c.signal.aborted) return;
  if (failed) {
    const { status, body } = llamaErrorBody(failed.reason);
    if (events) {
      events.error((body as { error: unknown }).error);
      events.end();
      return;
    }
    return sendJson(c.res, status, body, status === 503 ? { 'Retry-After': '1' } : {});
  }
  const finals = outcomes.map((o, i) => {
    const obj = finalObject(c.s, o, i, params, stream, prompt, returnTokens);
    return fields ? pickFields(obj, fields) : obj;
  });
  if (stream) {
    const ev = open();
    for (const obj of finals) ev.send(obj);
    return ev.end();
  }
  sendJson(c.res, 200, n === 1 ? finals[0] : finals);
}

export async function handleInfill(c: RouteContext): Promise<void> {
  const f = c.body;
  const prefix = f.string('input_prefix');
  const suffix = f.string('input_suffix', '');
  const middle = f.string('prompt', '');
  const extra = readExtra(f);
  const g = readGeneration(f, c.s);
  const built = infillPrompt(
    c.s,
    { prefix: prefix + middle, suffix, extra, path: f.has('filename') ? f.string('filename') : undefined },
    g.nPredict,
  );
  c.log.mode = built.mode;
  await respond(c, built.tokens, built.stopTokens, g, built.stopStrings);
}

export async function handleCompletion(c: RouteContext): Promise<void> {
  const f = c.body;
  if (!f.has('prompt')) f.string('prompt');
  const g = readGeneration(f, c.s);
  await respond(c, rawPrompt(c.s, f.raw('prompt')), rawStopTokens(c.s), g, []);
}

export async function handleTokenize(c: RouteContext): Promise<void> {
  const f = c.body;
  const { tokenizer } = c.s.served;
  const ids = tokenizer.encode(f.string('content'));
  f.bool('add_special', false); // no bos: documents start without one in training
  if (!f.bool('with_pieces', false)) return sendJson(c.res, 200, { tokens: ids });
  sendJson(c.res, 200, {
    tokens: ids.map((id) => {
      const p = tokenizer.pieces[id];
      const m = p?.type === PieceType.BYTE ? /^<0x([0-9A-F]{2})>$/.exec(p.piece) : null;
      return { id, piece: m ? [parseInt(m[1], 16)] : tokenizer.decode([id]) };
    }),
  });
}

export async function handleDetokenize(c: RouteContext): Promise<void> {
  const f = c.body;
  const v = f.raw('tokens') ?? [];
  const size = c.s.served.tokenizer.layout.size;
  if (!Array.isArray(v) || v.some((t) => !Number.isInteger(t) || t < 0 || t >= size))
    f.bad('tokens', `a list of token ids in [0, ${size})`, v);
  sendJson(c.res, 200, { content: c.s.served.tokenizer.decode(v as number[]) });
}

export function propsBody(s: ServeContext): unknown {
  return {
    default_generation_settings: {
      id: 0,
      id_task: -1,
      n_ctx: s.ctx,
      speculative: false,
      is_processing: s.engine.load.busy > 0,
      params: {
        n_predict: -1,
        seed: 4294967295,
        temperature: 0.8,
        top_k: 40,
        top_p: 0.95,
        stop: [],
        n_indent: 0,
        t_max_predict_ms: 0,
        cache_prompt: true,
      },
    },
    total_slots: s.config.parallel,
    model_path: s.served.path,
    chat_template: '',
    modalities: { vision: false, audio: false },
    build_info: `hyperlm ${s.served.kind} ${s.served.name}${s.served.step !== undefined ? ` step ${s.served.step}` : ''}`,
    infill: { mode: s.config.infillMode, max_predict: s.config.maxPredict },
  };
}

export function modelsBody(s: ServeContext): unknown {
  const m = s.served;
  const meta = {
    vocab_type: 1,
    n_vocab: m.config.vocabSize,
    n_ctx_train: m.config.blockSize,
    n_embd: m.config.dModel,
    n_params: m.parameters,
    size: m.sizeBytes,
  };
  return {
    object: 'list',
    data: [
      { id: m.name, object: 'model', created: Math.floor(m.modifiedAt.getTime() / 1000), owned_by: 'hyperlm', meta },
    ],
    models: [
      {
        name: m.name,
        model: m.name,
        modified_at: m.modifiedAt.toISOString(),
        type: 'model',
        capabilities: ['completion', 'infill'],
      },
    ],
  };
}

/** A 4xx/5xx answer in llama.cpp's shape, for errors outside a handler. */
export function sendLlamaError(c: { res: ServerResponse }, err: unknown): void {
  const { status, body } = llamaErrorBody(err);
  sendJson(c.res, status, body, status === 503 ? { 'Retry-After': '1' } : {});
}
