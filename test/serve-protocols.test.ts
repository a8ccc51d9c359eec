// The infill server end to end (src/serve) with a tiny model trained here for a few seconds on a toy project,
// on an ephemeral loopback port, through clients no one here wrote — the `openai` and `ollama` npm packages —
// and through fetch with exactly the bodies llama.vim and llama.vscode send:
//   llama.vim  (github.com/ggml-org/llama.vim, autoload/llama.vim @ ae3cb00, llama#fim and s:ring_update):
//     FIM: input_prefix, input_suffix, input_extra [{text, time, filename}], prompt, n_predict, stop, n_indent,
//     top_k 40, top_p 0.90, stream false, samplers, cache_prompt, t_max_prompt_ms, t_max_predict_ms, response_fields
//     warm-up: the same with empty prefix/suffix/prompt, n_predict 0, temperature 0, samplers [], response_fields [""]
//   llama.vscode (github.com/ggml-org/llama.vscode, src/llama-server.ts @ 009e5b7, createRequestPayload):
//     input_prefix, input_suffix, input_extra, prompt, n_predict, top_k 40, top_p 0.99, stream false, samplers,
//     cache_prompt, n_indent, t_max_prompt_ms, t_max_predict_ms (+ lora when configured); n_cmpl (llama.cpp
//     README: several completions of one prompt) asks for 3 suggestions.
// Every completion is checked against generate() (src/model/generate.ts) on the same prompt tokens: greedy, and
// seeded sampling token for token; a completion ends at <eom>, never shows sentinels or the suffix; stop strings
// are cut across streamed pieces; tokens_cached grows when a request extends the previous prefix and the cached
// result equals the uncached one; n_cmpl gives 3 results; concurrent requests decode in one batch.
import test from 'ava';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { selectBackend } from '../src/backend/index.js';
import { generate } from '../src/model/generate.js';
import { buildInfillPrompt, INFILL_DEFAULTS, type InfillInput } from '../src/prompts/code-infill.js';
import { InfillServer, loadServedModel, resolveServeConfig, type ServeConfig } from '../src/serve/index.js';
import { TOY_FILES, trainToyRun } from './helpers/serve-model.js';

let server: InfillServer;
const logs: string[] = [];

test.before(async () => {
  await selectBackend('wasm');
  const run = await trainToyRun({ steps: 80, blockSize: 64 });
  const config = resolveServeConfig({ port: 0, parallel: 3, extraShare: 0.4 }); // a 64-token context: room for one small extra file
  server = await InfillServer.start({ config, load: () => loadServedModel(run), log: (l) => logs.push(l) });
  await server.ready;
});

test.after.always(async () => {
  await server?.close(0);
});

const ctx = () => server.context!;
const config = (): ServeConfig => ctx().config;

async function post(path: string, body: unknown): Promise<{ status: number; text: string; json: any }> {
  const r = await fetch(server.url + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, text, json };
}

/** The prompt the server builds for an infill request (its budget rule: n_predict reserves at most half). */
function promptOf(input: InfillInput, nPredict: number, mode = INFILL_DEFAULTS.mode) {
  const c = ctx();
  return buildInfillPrompt(c.served.tokenizer, input, {
    ...INFILL_DEFAULTS,
    extraShare: config().extraShare,
    mode,
    contextTokens: c.ctx,
    maxNewTokens: Math.min(nPredict, Math.floor(c.ctx * config().reserveShare)),
  });
}

/** generate()'s tokens for the prompt, the stop token excluded, and whether it ended on a stop token. */
function reference(
  prompt: number[],
  stopTokens: number[],
  n: number,
  sampling: { temperature?: number; topK?: number; topP?: number; seed?: number } = {},
) {
  const out = generate(ctx().served.model, [prompt], { maxNewTokens: n, stopTokens, ...sampling }).tokens[0];
  const stopped = out.length > 0 && stopTokens.includes(out[out.length - 1]);
  return { tokens: stopped ? out.slice(0, -1) : out, stopped, last: out[out.length - 1] };
}

const decode = (ids: number[]) => ctx().served.tokenizer.decode(ids);

/** Cuts of the toy files: prefix, middle, suffix. */
function cuts(): Array<{ path: string; prefix: string; middle: string; suffix: string }> {
  const out = [];
  for (const [path, text] of Object.entries(TOY_FILES)) {
    for (let a = 4; a + 6 < text.length; a += 9)
      out.push({ path, prefix: text.slice(0, a), middle: text.slice(a, a + 6), suffix: text.slice(a + 6) });
  }
  return out;
}

test.serial(
  'llama.vim: the FIM body gives the reference completion, in compact JSON, with exactly its response_fields',
  async (t) => {
    const prefix = 'export function add(a, b) {\n',
      middle = '  ret',
      suffix = '\n}\n';
    const extra = [{ text: 'export function greet(name) {\n', time: [1700000000, 12345], filename: 'src/greet.js' }];
    const body = {
      input_prefix: prefix,
      input_suffix: suffix,
      input_extra: extra,
      prompt: middle,
      n_predict: 128,
      stop: [],
      n_indent: 0,
      top_k: 40,
      top_p: 0.9,
      stream: false,
      samplers: ['top_k', 'top_p', 'infill'],
      cache_prompt: true,
      t_max_prompt_ms: 500,
      t_max_predict_ms: 250,
      response_fields: [
        'content',
        'timings/prompt_n',
        'timings/prompt_ms',
        'timings/prompt_per_token_ms',
        'timings/prompt_per_second',
        'timings/predicted_n',
        'timings/predicted_ms',
        'timings/predicted_per_token_ms',
        'timings/predicted_per_second',
        'truncated',
        'tokens_cached',
      ],
      temperature: 0, // llama.vim leaves the server's default; greedy here so the reference is exact
    };
    const r = await post('/infill', body);
    t.is(r.status, 200, r.text);
    t.true(r.text.includes('"content":"'), 'compact JSON, as llama.vim greps it');
    t.deepEqual(Object.keys(r.json).sort(), [...body.response_fields].sort());
    const p = promptOf(
      { prefix: prefix + middle, suffix, extra: extra.map(({ filename, text }) => ({ filename, text })) },
      128,
    );
    const ref = reference(p.tokens, p.stopTokens, Math.min(128, ctx().ctx - p.tokens.length));
    // t_max_predict_ms 250: past 250 ms of generation, the next newline ends the completion (llama.cpp's rule)
    const full = decode(ref.tokens);
    t.true(full.startsWith(r.json.content), `${JSON.stringify(r.json.content)} vs ${JSON.stringify(full)}`);
    if (r.json.content !== full) t.true(r.json.content.endsWith('\n') && r.json['timings/predicted_ms'] > 250);
    else t.is(r.json.truncated, !ref.stopped, 'without <eom> the completion runs into the end of the context');
    t.false(/<mask:|<eom>|<\/s>/.test(r.json.content));
  },
);

test.serial(
  'llama.vim: the warm-up (n_predict 0, response_fields [""]) caches the extra context for the next FIM request',
  async (t) => {
    const extra = [{ text: 'a\n', time: [1, 2], filename: 'a.js' }]; // small enough for the extra share of a 64-token context
    const warm = await post('/infill', {
      input_prefix: '',
      input_suffix: '',
      input_extra: extra,
      prompt: '',
      n_predict: 0,
      temperature: 0.0,
      stream: false,
      samplers: [],
      cache_prompt: true,
      t_max_prompt_ms: 1,
      t_max_predict_ms: 1,
      response_fields: [''],
    });
    t.is(warm.status, 200, warm.text);
    t.deepEqual(warm.json, {});
    const extraTokens = promptOf({ prefix: '', suffix: '', extra: [{ filename: 'a.js', text: extra[0].text }] }, 0)
      .parts.extraFiles.tokens;
    t.true(extraTokens > 0);
    const r = await post('/infill', {
      input_prefix: 'export function add(a, b) {\n',
      input_suffix: '}\n',
      input_extra: extra,
      prompt: '',
      n_predict: 8,
      temperature: 0,
      cache_prompt: true,
    });
    t.is(r.status, 200, r.text);
    t.true(
      r.json.tokens_cached >= extraTokens,
      `tokens_cached ${r.json.tokens_cached}, extra context ${extraTokens} tokens`,
    );
    t.is(r.json.timings.cache_n, r.json.tokens_cached);
    t.is(r.json.timings.prompt_n, r.json.tokens_evaluated - r.json.tokens_cached);
  },
);

test.serial(
  'llama.vscode: its body with n_cmpl 3 gives an array of 3 completions; unknown fields are ignored',
  async (t) => {
    const body = {
      input_prefix: 'export function max(a, b) {\n',
      input_suffix: '\n}\n',
      input_extra: [{ text: 'x', time: 1, filename: 'a.js' }],
      prompt: '  return',
      n_predict: 6,
      top_k: 40,
      top_p: 0.99,
      stream: false,
      samplers: ['top_k', 'top_p', 'infill'],
      cache_prompt: true,
      n_indent: 2,
      t_max_prompt_ms: 500,
      t_max_predict_ms: 2500,
      lora: [{ id: 0, scale: 0.5 }],
      n_cmpl: 3,
      seed: 7,
      some_future_field: { x: 1 },
    };
    const r = await post('/infill', body);
    t.is(r.status, 200, r.text);
    t.true(Array.isArray(r.json));
    t.deepEqual(
      r.json.map((c: any) => c.index),
      [0, 1, 2],
    );
    const p = promptOf(
      { prefix: body.input_prefix + body.prompt, suffix: body.input_suffix, extra: [{ filename: 'a.js', text: 'x' }] },
      6,
    );
    r.json.forEach((c: any, i: number) => {
      t.is(c.stop, true);
      t.true(['eos', 'limit', 'word'].includes(c.stop_type));
      t.is(c.generation_settings.seed, 7 + i);
      // each is the seeded reference (llama.cpp's default temperature 0.8), unless n_indent cut it earlier
      const ref = reference(p.tokens, p.stopTokens, 6, { temperature: 0.8, topK: 40, topP: 0.99, seed: 7 + i });
      t.true(
        decode(ref.tokens).startsWith(c.content),
        `completion ${i}: ${JSON.stringify(c.content)} vs ${JSON.stringify(decode(ref.tokens))}`,
      );
    });
    const vscodeWarm = await post('/infill', {
      input_prefix: '',
      input_suffix: '',
      input_extra: body.input_extra,
      prompt: '',
      n_predict: 0,
      samplers: [],
      cache_prompt: true,
      t_max_prompt_ms: 500,
      t_max_predict_ms: 1,
    });
    t.is(vscodeWarm.status, 200, vscodeWarm.text);
    t.is(vscodeWarm.json.tokens_predicted, 0);
  },
);

test.serial('a completion ends at <eom>: the seeded server result equals generate() token for token', async (t) => {
  // search the toy project's cuts (greedy, then a few seeds) for completions the model closes with <eom>
  let found = 0;
  for (const seed of [-1, 1, 2, 3]) {
    for (const cut of cuts()) {
      if (found >= 2) break;
      const p = promptOf({ prefix: cut.prefix, suffix: cut.suffix, path: cut.path }, 24);
      const sampling = seed === -1 ? {} : { temperature: 0.7, topK: 40, topP: 0.95, seed };
      const ref = reference(p.tokens, p.stopTokens, 24, sampling);
      if (!ref.stopped || ref.last !== ctx().served.tokenizer.layout.eom) continue;
      found++;
      const r = await post('/infill', {
        input_prefix: cut.prefix,
        input_suffix: cut.suffix,
        filename: cut.path,
        n_predict: 24,
        return_tokens: true,
        ...(seed === -1 ? { temperature: 0 } : { temperature: 0.7, top_k: 40, top_p: 0.95, seed }),
      });
      t.is(r.status, 200, r.text);
      t.deepEqual(r.json.tokens, ref.tokens);
      t.is(r.json.content, decode(ref.tokens));
      t.is(r.json.stop_type, 'eos');
      t.is(r.json.tokens_predicted, ref.tokens.length + 1, '<eom> counts as predicted, not as content');
      t.is(r.json.prompt, decode(p.tokens));
      t.false(/<mask:|<eom>|<\/s>/.test(r.json.content), 'no sentinel text');
    }
  }
  t.log(`${found} infills closed with <eom> checked`);
  t.true(found >= 1, 'the trained model closes at least one infill with <eom>');
});

test.serial('stop strings are cut across streamed pieces and nothing of them is streamed', async (t) => {
  // a cut whose greedy completion has at least 4 tokens; the stop string straddles its 2nd and 3rd tokens
  const cut = cuts().find((c) => {
    const p = promptOf({ prefix: c.prefix, suffix: c.suffix }, 16);
    const r = reference(p.tokens, p.stopTokens, 16);
    return r.tokens.length >= 4 && decode(r.tokens.slice(0, 3)).length - decode(r.tokens.slice(0, 1)).length >= 2;
  });
  if (!cut) return t.fail('no cut with a completion of 4 tokens');
  const p = promptOf({ prefix: cut.prefix, suffix: cut.suffix }, 16);
  const ref = reference(p.tokens, p.stopTokens, 16);
  const text = decode(ref.tokens);
  const a = decode(ref.tokens.slice(0, 1)).length,
    b = decode(ref.tokens.slice(0, 3)).length;
  const stop = text.slice(a, b);
  const expected = text.slice(0, text.indexOf(stop));
  const res = await fetch(`${server.url}/infill`, {
    method: 'POST',
    body: JSON.stringify({
      input_prefix: cut.prefix,
      input_suffix: cut.suffix,
      n_predict: 16,
      temperature: 0,
      stream: true,
      stop: [stop],
    }),
  });
  t.is(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
  const events = (await res.text())
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => JSON.parse(e.slice(6)));
  const final = events.at(-1);
  t.is(final.stop, true);
  t.is(final.stop_type, 'word');
  t.is(final.stopping_word, stop);
  const streamed = events
    .slice(0, -1)
    .map((e) => e.content)
    .join('');
  t.is(streamed, expected);
  t.true(events.slice(0, -1).every((e) => e.stop === false));
});

test.serial(
  'tokens_cached grows when a request extends the previous prefix, and the cached result equals the uncached one',
  async (t) => {
    const file = TOY_FILES['src/greet.js'];
    const base = { input_suffix: file.slice(30), n_predict: 10, temperature: 0, return_tokens: true };
    const first = await post('/infill', { ...base, input_prefix: file.slice(0, 20) });
    const again = await post('/infill', { ...base, input_prefix: file.slice(0, 20) });
    const longer = await post('/infill', { ...base, input_prefix: file.slice(0, 26) });
    const uncached = await post('/infill', { ...base, input_prefix: file.slice(0, 26), cache_prompt: false });
    for (const r of [first, again, longer, uncached]) t.is(r.status, 200, r.text);
    t.is(again.json.tokens_cached, again.json.tokens_evaluated - 1, 'the same prompt: all but its last token reused');
    t.deepEqual(again.json.tokens, first.json.tokens);
    const pShort = promptOf({ prefix: file.slice(0, 20), suffix: base.input_suffix }, 10).tokens;
    const pLong = promptOf({ prefix: file.slice(0, 26), suffix: base.input_suffix }, 10).tokens;
    let shared = 0;
    while (pShort[shared] === pLong[shared]) shared++;
    t.true(shared >= 5, `the two prompts share ${shared} tokens`);
    t.true(longer.json.tokens_cached >= shared, `tokens_cached ${longer.json.tokens_cached}, shared prefix ${shared}`);
    t.is(longer.json.tokens_evaluated, pLong.length);
    t.is(uncached.json.tokens_cached, 0);
    t.deepEqual(longer.json.tokens, uncached.json.tokens, 'cached and uncached greedy results agree');
    t.deepEqual(
      uncached.json.tokens,
      reference(pLong, promptOf({ prefix: '', suffix: 'x' }, 10).stopTokens, 10).tokens,
    );
  },
);

test.serial(
  'the openai package: completions.create with suffix, plain and streamed, gives the reference',
  async (t) => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const cut = cuts()[1];
    const p = promptOf({ prefix: cut.prefix, suffix: cut.suffix }, 12);
    const expected = decode(reference(p.tokens, p.stopTokens, 12).tokens);
    const res = await client.completions.create({
      model: 'hyperlm',
      prompt: cut.prefix,
      suffix: cut.suffix,
      max_tokens: 12,
      temperature: 0,
    });
    t.is(res.object, 'text_completion');
    t.is(res.choices[0].text, expected);
    t.true(['stop', 'length'].includes(res.choices[0].finish_reason));
    t.is(res.usage?.prompt_tokens, p.tokens.length);
    const stream = await client.completions.create({
      model: 'hyperlm',
      prompt: cut.prefix,
      suffix: cut.suffix,
      max_tokens: 12,
      temperature: 0,
      stream: true,
    });
    let text = '',
      finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    t.is(text, expected);
    t.is(finish, res.choices[0].finish_reason);
    const models = await client.models.list();
    t.is(models.data[0].id, ctx().served.name);
    const err = await t.throwsAsync(client.completions.create({ model: 'hyperlm', prompt: 'x', max_tokens: -3 }));
    t.is((err as any).status, 400);
    t.regex(err!.message, /max_tokens/);
  },
);

test.serial(
  'the ollama package: generate with suffix, streamed, gives the reference; show has a .Suffix template',
  async (t) => {
    const client = new Ollama({ host: server.url });
    const cut = cuts()[5];
    const p = promptOf({ prefix: cut.prefix, suffix: cut.suffix }, 12);
    const ref = reference(p.tokens, p.stopTokens, 12);
    let text = '',
      last: any;
    for await (const part of await client.generate({
      model: 'hyperlm',
      prompt: cut.prefix,
      suffix: cut.suffix,
      stream: true,
      options: { temperature: 0, num_predict: 12 },
    })) {
      text += part.response;
      last = part;
    }
    t.is(text, decode(ref.tokens));
    t.true(last.done);
    t.is(last.done_reason, ref.stopped ? 'stop' : 'length');
    t.is(last.eval_count, ref.tokens.length + (ref.stopped ? 1 : 0));
    t.true(last.total_duration > 0);
    const show = await client.show({ model: 'hyperlm' });
    t.true(show.template.includes('.Suffix'));
    const tags = await client.list();
    t.is(tags.models[0].name, `${ctx().served.name}:latest`);
  },
);

test.serial('/tokenize, /detokenize, /props, /v1/models and /completion', async (t) => {
  const tok = ctx().served.tokenizer;
  const r = await post('/tokenize', { content: 'return a + b;', with_pieces: true });
  t.deepEqual(
    r.json.tokens.map((x: any) => x.id),
    tok.encode('return a + b;'),
  );
  t.is(r.json.tokens.map((x: any) => x.piece).join(''), 'return a + b;');
  t.is((await post('/detokenize', { tokens: tok.encode('hello') })).json.content, 'hello');
  const props = (await (await fetch(`${server.url}/props`)).json()) as any;
  t.is(props.total_slots, 3);
  t.is(props.default_generation_settings.n_ctx, ctx().ctx);
  const prompt = 'export function add(a, b) {\n';
  const c = await post('/completion', { prompt, n_predict: 8, temperature: 0 });
  const eos = [tok.layout.eos, tok.layout.eom];
  t.is(c.json.content, decode(reference(tok.encode(prompt), eos, 8).tokens));
  const tooLong = await post('/completion', { prompt: 'a '.repeat(200), n_predict: 4 });
  t.is(tooLong.status, 400);
  t.is(tooLong.json.error.type, 'exceed_context_size_error');
});

test.serial('two concurrent requests on two slots decode together in one batch', async (t) => {
  const before = { ...ctx().engine.counters };
  const body = (p: string) => ({
    input_prefix: p,
    input_suffix: '\n',
    n_predict: 20,
    temperature: 1,
    seed: 3,
    stop: [],
  });
  const [a, b] = await Promise.all([post('/infill', body('export function ')), post('/infill', body('test("'))]);
  t.is(a.status, 200);
  t.is(b.status, 200);
  const c = ctx().engine.counters;
  t.log(
    `predicted ${a.json.tokens_predicted} + ${b.json.tokens_predicted} tokens in ${c.steps - before.steps} steps, max batch ${c.maxBatch}`,
  );
  t.true(c.steps > before.steps);
  if (a.json.tokens_predicted > 2 && b.json.tokens_predicted > 2) {
    t.true(c.maxBatch >= 2, `max rows in one step: ${c.maxBatch}`);
    t.true(c.stepRows - before.stepRows > c.steps - before.steps, 'some steps carried both rows');
  }
  t.true(logs.some((l) => l.includes('"route":"/infill"') && l.includes('"status":200') && l.includes('"predicted"')));
});
