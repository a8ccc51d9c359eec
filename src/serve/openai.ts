// The OpenAI legacy completions API (POST /v1/completions, platform.openai.com API reference "Completions"),
// as the `openai` npm client and editor plugins configured for "OpenAI-compatible" servers send it: `prompt`
// plus `suffix` is an infill request (src/prompts/code-infill.ts), `prompt` alone a left-to-right one; `n`
// choices, `stop` as a string or a list, SSE streaming of text_completion chunks ending in `data: [DONE]`.
// Defaults are OpenAI's (max_tokens 16, temperature 1, top_p 1). Errors are {"error":{message,type,param,code}}.

import { randomBytes } from 'node:crypto';
import { HyperlmError } from '../errors.js';
import { EventStream, sendJson, ServeError, statusOf } from './http.js';
import {
  infillPrompt,
  logOutcome,
  rawPrompt,
  rawStopTokens,
  runCompletion,
  type Outcome,
  type RouteContext,
} from './run-completion.js';

export function openaiErrorBody(err: unknown): { status: number; body: unknown } {
  const status = statusOf(err);
  const type =
    status === 401
      ? 'invalid_request_error'
      : status >= 500
        ? 'server_error'
        : status === 403
          ? 'permission_error'
          : 'invalid_request_error';
  const code =
    status === 401
      ? 'invalid_api_key'
      : status === 503
        ? 'server_busy'
        : err instanceof HyperlmError
          ? err.code.toLowerCase()
          : null;
  const param = err instanceof ServeError ? (err.param ?? null) : null;
  return { status, body: { error: { message: err instanceof Error ? err.message : String(err), type, param, code } } };
}

const finishReason = (o: Outcome) => (o.stopType === 'eos' || o.stopType === 'word' ? 'stop' : 'length');

export async function handleOpenAICompletions(c: RouteContext): Promise<void> {
  const f = c.body;
  const { s } = c;
  const model = f.string('model', s.served.name);
  if (f.bool('echo', false)) f.bad('echo', 'false (echo is not supported)', true);
  if (f.has('logprobs')) f.bad('logprobs', 'null (logprobs are not supported)', f.raw('logprobs'));
  const maxTokens = f.number('max_tokens', 16, { integer: true, min: 0, max: s.config.maxPredict });
  const n = f.number('n', 1, { integer: true, min: 1, max: s.config.parallel });
  const stream = f.bool('stream', false);
  const includeUsage = f.object('stream_options')?.bool('include_usage', false) ?? false;
  const gen = {
    nPredict: maxTokens,
    temperature: f.number('temperature', 1, { min: 0, max: 2 }),
    topK: 0,
    topP: f.number('top_p', 1, { min: 0, max: 1 }),
    seed: f.has('seed') ? f.number('seed', 0, { integer: true }) >>> 0 : -1,
    stop: f.strings('stop', { single: true }),
    nIndent: 0,
    tMaxPredictMs: 0,
    cachePrompt: true,
  };
  // a prompt list of one (strings or token ids) is the same as the prompt
  let prompt = f.raw('prompt');
  if (Array.isArray(prompt) && prompt.length === 1 && (typeof prompt[0] === 'string' || Array.isArray(prompt[0])))
    prompt = prompt[0];
  if (prompt === undefined || prompt === null) f.string('prompt');
  let tokens: number[],
    stopTokens: number[],
    stopStrings: string[] = [];
  if (typeof prompt === 'string') {
    const suffix = f.has('suffix') ? f.string('suffix') : undefined;
    const built = infillPrompt(
      s,
      { prefix: prompt, suffix: suffix ?? '' },
      maxTokens,
      suffix === undefined ? 'left-to-right' : s.config.infillMode,
    );
    ({ tokens, stopTokens, stopStrings } = built);
    c.log.mode = built.mode;
  } else if (Array.isArray(prompt) && prompt.every((t) => typeof t === 'number')) {
    if (f.has('suffix')) f.bad('suffix', 'absent when the prompt is token ids', f.raw('suffix'));
    tokens = rawPrompt(s, prompt);
    stopTokens = rawStopTokens(s);
  } else {
    return f.bad(
      'prompt',
      'a string, a list of one string, or a list of token ids (several prompts are not supported)',
      prompt,
    );
  }
  const id = `cmpl-${randomBytes(12).toString('hex')}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (choices: unknown[], usage?: unknown) => ({
    id,
    object: 'text_completion',
    created,
    model,
    choices,
    ...(usage ? { usage } : {}),
  });
  let events: EventStream | undefined;
  const open = () => (events ??= new EventStream(c.res, 'sse'));
  const group = new AbortController();
  const onAbort = () => group.abort();
  c.signal.addEventListener('abort', onAbort, { once: true });
  const settled = await Promise.allSettled(
    Array.from({ length: n }, (_, index) =>
      runCompletion(
        s,
        tokens,
        stopTokens,
        { ...gen, seed: gen.seed === -1 ? -1 : gen.seed + index, stop: [...gen.stop, ...stopStrings] },
        group.signal,
        stream ? (text) => open().send(chunk([{ text, index, logprobs: null, finish_reason: null }])) : undefined,
      ).then(
        (o) => {
          if (stream) open().send(chunk([{ text: '', index, logprobs: null, finish_reason: finishReason(o) }]));
          return o;
        },
        (err: unknown) => {
          group.abort();
          throw err;
        },
      ),
    ),
  );
  c.signal.removeEventListener('abort', onAbort);
  const outcomes = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  outcomes.forEach((o) => logOutcome(c.log, o));
  if (c.signal.aborted) return;
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    const { status, body } = openaiErrorBody(failed.reason);
    if (events) {
      events.send(body);
      events.send('[DONE]');
      events.end();
      return;
    }
    return sendJson(c.res, status, body, status === 503 ? { 'Retry-After': '1' } : {});
  }
  const completionTokens = outcomes.reduce((a, o) => a + o.job.predicted, 0);
  const usage = {
    prompt_tokens: tokens.length,
    completion_tokens: completionTokens,
    total_tokens: tokens.length + completionTokens,
  };
  if (stream) {
    const ev = open();
    if (includeUsage) ev.send(chunk([], usage));
    ev.send('[DONE]');
    return ev.end();
  }
  sendJson(
    c.res,
    200,
    chunk(
      outcomes.map((o, index) => ({ text: o.content, index, logprobs: null, finish_reason: finishReason(o) })),
      usage,
    ),
  );
}
