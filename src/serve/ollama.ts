// The Ollama API (ollama/ollama docs/api.md, api/types.go), as the `ollama` npm client and Continue use it:
// POST /api/generate with `prompt` and `suffix` (NDJSON stream by default, `"stream": false` for one object;
// the last object has done: true, done_reason, counts and durations in nanoseconds), GET /api/tags, POST
// /api/show — whose `template` mentions .Suffix, which is how Continue decides that a model can infill —
// and GET /api/version. `raw: true` sends the prompt as it is (no header, no infill). Errors are {"error": "…"}.

import { sendJson, statusOf, EventStream } from './http.js';
import type { Fields } from './fields.js';
import {
  infillPrompt,
  logOutcome,
  rawPrompt,
  rawStopTokens,
  readNPredict,
  runCompletion,
  type RouteContext,
  type ServeContext,
} from './run-completion.js';

export function ollamaErrorBody(err: unknown): { status: number; body: unknown } {
  return { status: statusOf(err), body: { error: err instanceof Error ? err.message : String(err) } };
}

/** The prompt template shown by /api/show: the infill format of src/prompts/code-infill.ts in Go-template terms. */
export const OLLAMA_TEMPLATE =
  '{{- if .Suffix }}{{ .Prompt }}<mask:0>{{ .Suffix }}<mask:1><mask:0>{{- else }}{{ .Prompt }}{{- end }}';

const ns = (ms: number) => Math.round(ms * 1e6);

function modelName(s: ServeContext): string {
  return `${s.served.name}:latest`;
}

function details(s: ServeContext): Record<string, unknown> {
  const p = s.served.parameters;
  const size =
    p >= 1e9 ? `${(p / 1e9).toFixed(1)}B` : p >= 1e6 ? `${(p / 1e6).toFixed(1)}M` : `${(p / 1e3).toFixed(1)}K`;
  return {
    parent_model: '',
    format: 'safetensors',
    family: 'hyperlm',
    families: ['hyperlm'],
    parameter_size: size,
    quantization_level: 'F32',
  };
}

export async function handleOllamaGenerate(c: RouteContext): Promise<void> {
  const f = c.body;
  const { s } = c;
  const t0 = performance.now();
  const model = f.string('model');
  const prompt = f.string('prompt', '');
  const suffix = f.string('suffix', '');
  const raw = f.bool('raw', false);
  const stream = f.bool('stream', true);
  if (f.has('images') && (f.raw('images') as unknown[]).length > 0)
    f.bad('images', 'empty (this model reads no images)', '[…]');
  if (f.has('format') && f.raw('format') !== '')
    f.bad('format', 'absent (structured output is not supported)', f.raw('format'));
  const o: Fields | undefined = f.object('options');
  const created = () => new Date().toISOString();
  if (prompt === '' && suffix === '') {
    // Ollama loads the model and answers done_reason "load"
    return sendJson(c.res, 200, { model, created_at: created(), response: '', done: true, done_reason: 'load' });
  }
  const nPredict = o ? readNPredict(o, ['num_predict'], s.config) : s.config.maxPredict;
  let tokens: number[],
    stopTokens: number[],
    stopStrings: string[] = [];
  if (raw) {
    if (suffix !== '') f.bad('suffix', 'empty with "raw": true (raw prompts are sent as they are)', suffix);
    tokens = rawPrompt(s, prompt);
    stopTokens = rawStopTokens(s);
  } else {
    const built = infillPrompt(
      s,
      { prefix: prompt, suffix },
      nPredict,
      suffix === '' ? 'left-to-right' : s.config.infillMode,
    );
    ({ tokens, stopTokens, stopStrings } = built);
    c.log.mode = built.mode;
  }
  const gen = {
    nPredict,
    temperature: o?.number('temperature', 0.8, { min: 0 }) ?? 0.8,
    topK: o?.number('top_k', 40, { integer: true, min: 0 }) ?? 40,
    topP: o?.number('top_p', 0.9, { min: 0, max: 1 }) ?? 0.9,
    seed: o?.has('seed') ? o.number('seed', 0, { integer: true }) >>> 0 : -1,
    stop: [...(o?.strings('stop') ?? []), ...stopStrings],
    nIndent: 0,
    tMaxPredictMs: 0,
    cachePrompt: true,
  };
  let events: EventStream | undefined;
  const open = () => (events ??= new EventStream(c.res, 'ndjson'));
  let out;
  try {
    out = await runCompletion(
      s,
      tokens,
      stopTokens,
      gen,
      c.signal,
      stream ? (text) => open().send({ model, created_at: created(), response: text, done: false }) : undefined,
    );
  } catch (err) {
    if (c.signal.aborted) return;
    const { status, body } = ollamaErrorBody(err);
    if (events) {
      events.send(body);
      events.end();
      return;
    }
    return sendJson(c.res, status, body, status === 503 ? { 'Retry-After': '1' } : {});
  }
  logOutcome(c.log, out);
  if (c.signal.aborted) return;
  const final = {
    model,
    created_at: created(),
    response: stream ? '' : out.content,
    done: true,
    done_reason: out.stopType === 'eos' || out.stopType === 'word' ? 'stop' : 'length',
    ...(raw ? {} : { context: [...tokens, ...out.tokens] }),
    total_duration: ns(performance.now() - t0),
    load_duration: 0,
    prompt_eval_count: out.job.promptTokens,
    prompt_eval_duration: ns(out.job.promptMs),
    eval_count: out.job.predicted,
    eval_duration: ns(out.job.predictedMs),
  };
  if (!stream) return sendJson(c.res, 200, final);
  const ev = open();
  ev.send(final);
  ev.end();
}

export async function handleOllamaTags(c: RouteContext): Promise<void> {
  const { s } = c;
  sendJson(c.res, 200, {
    models: [
      {
        name: modelName(s),
        model: modelName(s),
        modified_at: s.served.modifiedAt.toISOString(),
        size: s.served.sizeBytes,
        digest: s.served.digest,
        details: details(s),
      },
    ],
  });
}

export async function handleOllamaShow(c: RouteContext): Promise<void> {
  const { s } = c;
  const f = c.body;
  if (!f.has('model') && !f.has('name')) f.string('model');
  const m = s.served.config;
  sendJson(c.res, 200, {
    modelfile: `# hyperlm ${s.served.kind} ${s.served.path}\nFROM ${s.served.path}\nTEMPLATE """${OLLAMA_TEMPLATE}"""\nPARAMETER num_ctx ${s.ctx}\n`,
    parameters: `num_ctx                        ${s.ctx}\nstop                           "<eom>"`,
    template: OLLAMA_TEMPLATE,
    details: details(s),
    model_info: {
      'general.architecture': 'hyperlm',
      'general.parameter_count': s.served.parameters,
      'hyperlm.context_length': m.blockSize,
      'hyperlm.embedding_length': m.dModel,
      'hyperlm.block_count': m.nLayer,
      'hyperlm.attention.head_count': m.nHead,
      'hyperlm.vocab_size': m.vocabSize,
    },
    capabilities: ['completion', 'insert'],
    modified_at: s.served.modifiedAt.toISOString(),
  });
}
