// The infill server's guards and failure paths (src/serve/http.ts, server.ts, engine.ts) with an untrained model
// bundle on loopback: a foreign Host (DNS rebinding) and a foreign Origin are refused, the API key is required
// everywhere but /health, big bodies get 413 and slow ones 408, malformed or mistyped requests get each
// protocol's error shape naming the field, /health is 503 while loading, a full queue answers 503 with
// Retry-After, a client that disconnects is cancelled (seen in the server's counters and log) and its slot
// serves the next request, and `npm run serve` exits 0 on SIGTERM.
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';
import test from 'ava';
import { selectBackend } from '../src/backend/index.js';
import {
  InfillServer,
  loadServedModel,
  resolveServeConfig,
  type ServeConfig,
  type ServedModel,
} from '../src/serve/index.js';
import { REPO } from './helpers/fixtures.js';
import { randomBundle } from './helpers/serve-model.js';

let bundle: string;
const servers: InfillServer[] = [];
/** Each server's log lines. */
const logsOf = new Map<InfillServer, string[]>();

async function start(over: Partial<ServeConfig> = {}, load?: () => Promise<ServedModel>): Promise<InfillServer> {
  const lines: string[] = [];
  const s = await InfillServer.start({
    config: resolveServeConfig({ port: 0, ...over }),
    load: load ?? (() => loadServedModel(bundle)),
    log: (l) => lines.push(l),
  });
  logsOf.set(s, lines);
  servers.push(s);
  await s.ready;
  return s;
}

test.before(async () => {
  await selectBackend('wasm');
  bundle = await randomBundle({ blockSize: 256 });
});

test.after.always(async () => {
  await Promise.all(servers.map((s) => s.close(0)));
});

/** A raw HTTP request (so Host can be anything). */
function raw(
  url: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const post = (s: InfillServer, path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(s.url + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

test('a foreign Host header (DNS rebinding) is refused; localhost and the bound address pass', async (t) => {
  const s = await start();
  const evil = await raw(s.url, { path: '/props', headers: { Host: `evil.example:${s.port}` } });
  t.is(evil.status, 403);
  t.deepEqual(JSON.parse(evil.body).error.type, 'permission_error');
  t.regex(JSON.parse(evil.body).error.message, /Host "evil.example:\d+" is not this server/);
  for (const host of [`localhost:${s.port}`, `127.0.0.1:${s.port}`, 'localhost'])
    t.is((await raw(s.url, { path: '/props', headers: { Host: host } })).status, 200, host);
  t.is((await raw(s.url, { path: '/health', headers: { Host: 'attacker.test' } })).status, 403, '/health too');
});

test('a request with a foreign Origin is refused; a listed one gets CORS headers and a preflight', async (t) => {
  const s = await start();
  const r = await fetch(`${s.url}/props`, { headers: { Origin: 'https://evil.example' } });
  t.is(r.status, 403);
  t.regex(((await r.json()) as any).error.message, /Origin "https:\/\/evil.example" is not allowed/);
  const api = await post(s, '/api/generate', { model: 'x', prompt: 'a' }, { Origin: 'http://localhost:9999' });
  t.is(api.status, 403);
  t.is(typeof ((await api.json()) as any).error, 'string', 'Ollama error shape');
  const c = await start({ cors: ['http://localhost:3000'] });
  const ok = await fetch(`${c.url}/props`, { headers: { Origin: 'http://localhost:3000' } });
  t.is(ok.status, 200);
  t.is(ok.headers.get('access-control-allow-origin'), 'http://localhost:3000');
  const pre = await fetch(`${c.url}/infill`, {
    method: 'OPTIONS',
    headers: { Origin: 'http://localhost:3000', 'Access-Control-Request-Method': 'POST' },
  });
  t.is(pre.status, 204);
  t.regex(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
});

test("--api-key: every route but /health needs the Bearer key, in each protocol's error shape", async (t) => {
  const s = await start({ apiKey: 'sekret' });
  t.is((await fetch(`${s.url}/health`)).status, 200);
  const none = await fetch(`${s.url}/props`);
  t.is(none.status, 401);
  t.deepEqual(((await none.json()) as any).error.type, 'authentication_error');
  const wrong = await post(s, '/v1/completions', { model: 'm', prompt: 'a' }, { Authorization: 'Bearer sekreT' });
  t.is(wrong.status, 401);
  t.like(((await wrong.json()) as any).error, { code: 'invalid_api_key', type: 'invalid_request_error' });
  const ollama = await fetch(`${s.url}/api/tags`);
  t.is(ollama.status, 401);
  t.regex(((await ollama.json()) as any).error, /API key/);
  t.is((await fetch(`${s.url}/props`, { headers: { Authorization: 'Bearer sekret' } })).status, 200);
  t.is((await fetch(`${s.url}/props`, { headers: { 'X-Api-Key': 'sekret' } })).status, 200);
  t.is(
    (await fetch(`${s.url}/props`, { headers: { Authorization: 'Bearer sekret-and-more' } })).status,
    401,
    'a longer key is not a prefix match',
  );
});

test('bodies over --max-body-bytes get 413, slow bodies 408, slow headers are cut off', async (t) => {
  const s = await start({ maxBodyBytes: 1000, bodyTimeoutMs: 300, headersTimeoutMs: 500 });
  const big = await post(s, '/infill', { input_prefix: 'x'.repeat(2000) });
  t.is(big.status, 413);
  t.regex(((await big.json()) as any).error.message, /exceeds the limit of 1000 bytes/);
  // chunked, no Content-Length: counted as it arrives
  const chunked = await new Promise<number>((resolve, reject) => {
    const u = new URL(s.url);
    const req = request(
      { host: u.hostname, port: u.port, method: 'POST', path: '/infill', headers: { 'Transfer-Encoding': 'chunked' } },
      (res) => {
        res.resume();
        resolve(res.statusCode!);
      },
    );
    req.on('error', reject);
    for (let i = 0; i < 10; i++) req.write('y'.repeat(200));
    req.end();
  });
  t.is(chunked, 413);
  // headers sent, body never completes
  const slow = await new Promise<string>((resolve) => {
    const sock = connect(s.port, '127.0.0.1', () =>
      sock.write(
        `POST /infill HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"input_prefix":`,
      ),
    );
    let got = '';
    sock.on('data', (d) => (got += d));
    sock.on('close', () => resolve(got));
  });
  t.regex(slow, /^HTTP\/1\.1 408/);
  t.regex(slow, /request body not received within 300 ms/);
  // headers never complete: Node's headersTimeout answers 408 and closes
  const t0 = Date.now();
  const slowHeaders = await new Promise<string>((resolve) => {
    const sock = connect(s.port, '127.0.0.1', () => sock.write('GET /props HTTP/1.1\r\nHost: localhost\r\n'));
    let got = '';
    sock.on('data', (d) => (got += d));
    sock.on('close', () => resolve(got));
  });
  t.regex(slowHeaders, /408|^$/);
  t.true(Date.now() - t0 < 5000);
  t.is((await fetch(`${s.url}/health`)).status, 200, 'the server is unaffected');
});

test("malformed JSON, wrong types, missing fields and bad n_predict name the field, in each protocol's shape", async (t) => {
  const s = await start({ maxPredict: 64 });
  const llama = async (body: unknown, re: RegExp) => {
    const r = await post(s, '/infill', body);
    t.is(r.status, 400, JSON.stringify(body));
    const j = (await r.json()) as any;
    t.like(j.error, { code: 400, type: 'invalid_request_error' });
    t.regex(j.error.message, re);
  };
  await llama('{"input_prefix": ', /not valid JSON/);
  await llama('[1, 2]', /request body must be a JSON object/);
  await llama({ input_suffix: 'x' }, /"input_prefix" is required/);
  await llama({ input_prefix: 5 }, /"input_prefix" must be a string, got 5/);
  await llama({ input_prefix: 'a', n_predict: -5 }, /"n_predict" must be an integer in \[-1, 64\], got -5/);
  await llama({ input_prefix: 'a', n_predict: 1e9 }, /"n_predict" must be an integer in \[-1, 64\]/);
  await llama({ input_prefix: 'a', temperature: 'hot' }, /"temperature" must be a number/);
  await llama({ input_prefix: 'a', input_extra: [{ filename: 'a.js' }] }, /"input_extra\[0\]\.text" must be a string/);
  await llama({ input_prefix: 'a', n_cmpl: 5 }, /"n_cmpl" must be an integer in \[1, 2\], got 5/);
  await llama({ input_prefix: '', input_suffix: '' }, /prefix and suffix are empty/);
  const oa = await post(s, '/v1/completions', { model: 'm', prompt: 'a', max_tokens: 'ten' });
  t.is(oa.status, 400);
  t.like(((await oa.json()) as any).error, { param: 'max_tokens', type: 'invalid_request_error' });
  const ol = await post(s, '/api/generate', { prompt: 'a' });
  t.is(ol.status, 400);
  t.deepEqual(await ol.json(), { error: '"model" is required' });
  const ol2 = await post(s, '/api/generate', { model: 'm', prompt: 'a', options: { num_predict: 'x' } });
  t.regex(((await ol2.json()) as any).error, /"options\.num_predict" must be an integer/);
  t.is((await fetch(`${s.url}/nope`)).status, 404);
  t.is((await fetch(`${s.url}/infill`)).status, 404, 'GET on a POST route');
  t.is(
    (await post(s, '/infill', { input_prefix: 'function f() {', n_predict: 2 })).status,
    200,
    'good requests still work',
  );
});

test('/health answers 503 while the model loads, then ok; requests meanwhile get 503 with Retry-After', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const s = await InfillServer.start({
    config: resolveServeConfig({ port: 0 }),
    load: async () => {
      await gate;
      return loadServedModel(bundle);
    },
    log: () => {},
  });
  servers.push(s);
  const h = await fetch(`${s.url}/health`);
  t.is(h.status, 503);
  t.deepEqual(await h.json(), { error: { code: 503, message: 'Loading model', type: 'unavailable_error' } });
  const r = await post(s, '/infill', { input_prefix: 'a' });
  t.is(r.status, 503);
  t.is(r.headers.get('retry-after'), '1');
  release();
  await s.ready;
  t.deepEqual(await (await fetch(`${s.url}/health`)).json(), { status: 'ok' });
});

test('a full queue answers 503 with Retry-After; a client that disconnects is cancelled and its slot serves the next request', async (t) => {
  const s = await start({ parallel: 1, maxQueue: 0 });
  const engine = s.context!.engine;
  const ac = new AbortController();
  const long = await fetch(`${s.url}/completion`, {
    method: 'POST',
    body: JSON.stringify({ prompt: 'function f() {', n_predict: 200, temperature: 0, stream: true }),
    signal: ac.signal,
  });
  const reader = long.body!.getReader();
  t.regex(new TextDecoder().decode((await reader.read()).value), /^data: \{"index":0,"content":/);
  const busy = await post(s, '/infill', { input_prefix: 'x', n_predict: 2 });
  t.is(busy.status, 503);
  t.is(busy.headers.get('retry-after'), '1');
  t.is(((await busy.json()) as any).error.type, 'unavailable_error');
  const before = engine.counters.cancelled;
  ac.abort();
  await reader.cancel().catch(() => {});
  for (let i = 0; i < 100 && engine.counters.cancelled === before; i++) await new Promise((r) => setTimeout(r, 20));
  t.is(engine.counters.cancelled, before + 1, 'the server cancelled the generation');
  t.deepEqual(engine.load, { busy: 0, queued: 0 });
  await new Promise((r) => setTimeout(r, 50));
  const line = logsOf
    .get(s)!
    .map((l) => JSON.parse(l))
    .find((l) => l.route === '/completion');
  t.is(line.stop, 'cancelled');
  t.true(line.predicted < 200, `stopped after ${line.predicted} of 200 tokens`);
  const next = await post(s, '/infill', { input_prefix: 'y', n_predict: 2 });
  t.is(next.status, 200, 'the slot is free again');
});

test('`npm run serve` prints its URL and protocols, serves, and exits 0 on SIGTERM', async (t) => {
  const child = spawn(
    process.execPath,
    ['dist/scripts/serve.js', '--run', bundle, '--port', '0', '--backend', 'wasm'],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '',
    err = '';
  child.stderr.on('data', (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /"event":"listening","url":"([^"]+)"/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => reject(new Error(`exited early: ${err}`)));
  });
  t.regex(out, /"protocols":\[.*OpenAI.*Ollama/);
  for (let i = 0; i < 200 && (await fetch(`${url}/health`)).status !== 200; i++)
    await new Promise((r) => setTimeout(r, 50));
  t.is((await post({ url } as InfillServer, '/infill', { input_prefix: 'a', n_predict: 2 })).status, 200);
  const code = await new Promise<number | null>((resolve) => {
    child.on('exit', (c) => resolve(c));
    child.kill('SIGTERM');
  });
  t.is(code, 0, err);
  t.regex(out, /"route":"\/infill","status":200/);
  t.regex(err, /hyperlm serve: http:\/\/127\.0\.0\.1:\d+/);
});

test('close(): in-flight requests get the grace period, are then ended, and no new connection is accepted', async (t) => {
  const s = await start({ parallel: 1 });
  const res = await fetch(`${s.url}/completion`, {
    method: 'POST',
    body: JSON.stringify({ prompt: 'let x = ', n_predict: 1000, temperature: 0, stream: true }),
  });
  const reader = res.body!.getReader();
  await reader.read(); // generating
  const t0 = Date.now();
  const closing = s.close(300);
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await closing;
  t.true(Date.now() - t0 < 5000, `closed in ${Date.now() - t0} ms`);
  const last = JSON.parse(text.trim().split('\n\n').at(-1)!.slice(6));
  t.is(last.stop, true, 'the stream was ended with its final object');
  t.true(last.tokens_predicted < 1000);
  await t.throwsAsync(fetch(`${s.url}/health`));
});
