// `npm run bench:serve`: latency of the infill server (src/serve) for a typical editor request — ~1,500
// characters before the cursor, ~500 after, n_predict 32, streamed /infill as llama.vim sends it — with
// 1, 4 and 16 concurrent clients: time to the first streamed piece (TTFT) and to the end, p50/p95, and
// generated tokens/s; cold (cache_prompt false) and "typing" (each request one character longer than the
// client's previous one, so the prompt cache hits); and the server's overhead against generate() on the same
// prompt tokens in the same process. Clients run in this process too (loopback fetch). Writes the tables
// into BENCHMARKS.md (section bench:serve) unless --no-write; the load average is recorded.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectBackend } from '../src/backend/index.js';
import {
  backendFlag,
  COMMON_FLAGS,
  numberFlag,
  parseCommandLine,
  runMain,
  type CommandSpec,
} from '../src/cli/index.js';
import { markdownTable, writeBenchmarkSection } from '../src/cli/index.js';
import { generate } from '../src/model/index.js';
import { buildInfillPrompt, INFILL_DEFAULTS } from '../src/prompts/index.js';
import { defaultModelPath, InfillServer, loadServedModel, resolveServeConfig } from '../src/serve/index.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

const spec: CommandSpec = {
  usage: 'npm run bench:serve -- [--run RUN|BUNDLE] [--requests N] [--parallel N] [--no-write]',
  summary:
    'TTFT and total latency p50/p95 of streamed /infill requests (1,500 + 500 characters, n_predict 32) at 1, 4 and 16\n' +
    'clients, cold and with a one-character edit (prompt cache hit); tokens/s; overhead against generate().',
  flags: {
    run: {
      type: 'string',
      arg: 'RUN|BUNDLE',
      help: 'model to serve',
      default: 'data/model, else the newest run in runs/',
    },
    requests: { type: 'string', arg: 'N', help: 'requests per client and scenario', default: '6' },
    parallel: { type: 'string', arg: 'N', help: 'server slots', default: '4' },
    backend: COMMON_FLAGS.backend,
    'no-write': COMMON_FLAGS.noWrite,
  },
};

/** Editor-like documents: bundled sample sources long enough for 1,500 + 500 characters around a cursor. */
function documents(): Array<{ path: string; text: string }> {
  const files = [
    'express-5.3.0/lib/utils.js',
    'debug-4.4.3/src/common.js',
    'debug-4.4.3/src/node.js',
    'debug-4.4.3/src/browser.js',
    'chalk-6.0.1/source/vendor/ansi-styles/index.js',
    'chalk-6.0.1/source/vendor/supports-color/index.js',
  ];
  return files
    .map((f) => ({ path: f, text: readFileSync(join(REPO, 'data/sample/code', f), 'utf8') }))
    .filter((d) => d.text.length >= 2100);
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

interface Sample {
  ttft: number;
  total: number;
  tokens: number;
  cached: number;
}

runMain(async () => {
  const { values } = parseCommandLine(spec);
  const requests = numberFlag(values, 'requests', 6, { integer: true, min: 1 });
  const parallel = numberFlag(values, 'parallel', 4, { integer: true, min: 1 });
  const backendLine: string[] = [];
  await selectBackend(backendFlag(values), (l) => {
    backendLine.push(l);
    console.error(l);
  });
  const path = await defaultModelPath(REPO, typeof values.run === 'string' ? values.run : undefined);
  const load0 = loadavg()[0];
  const server = await InfillServer.start({
    config: resolveServeConfig({ port: 0, parallel, maxQueue: 64 }),
    load: () => loadServedModel(path),
    log: () => {},
  });
  await server.ready;
  const s = server.context;
  if (!s) throw new Error(`could not load ${path}`);
  const docs = documents();
  /**
   * The request at `cursor`: the prefix starts at a line start ~1,500 characters before `start` and stays there
   * while the client types (as llama.vim's line window does), the suffix is the next 500 characters.
   */
  const body = (doc: { path: string; text: string }, start: number, cursor: number, cache: boolean) => {
    const from = doc.text.lastIndexOf('\n', Math.max(0, start - 1500)) + 1;
    return {
      input_prefix: doc.text.slice(from, cursor),
      input_suffix: doc.text.slice(cursor, cursor + 500),
      input_extra: [],
      prompt: '',
      n_predict: 32,
      temperature: 0,
      stream: true,
      cache_prompt: cache,
      samplers: ['top_k', 'top_p', 'infill'],
    };
  };
  const one = async (b: unknown): Promise<Sample> => {
    const t0 = performance.now();
    const res = await fetch(`${server.url}/infill`, { method: 'POST', body: JSON.stringify(b) });
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = '',
      ttft = -1;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (ttft < 0) ttft = performance.now() - t0;
      text += dec.decode(value, { stream: true });
    }
    const total = performance.now() - t0;
    const final = JSON.parse(text.trim().split('\n\n').at(-1)!.slice(6));
    if (res.status !== 200 || final.stop !== true) throw new Error(`status ${res.status}: ${text.slice(0, 200)}`);
    return { ttft, total, tokens: final.tokens_predicted, cached: final.tokens_cached };
  };
  const rows: Array<Array<string | number>> = [];
  await one(body(docs[0], 1600, 1600, false)); // warm-up: weight packing and JIT
  let cursorBase = 1500;
  for (const clients of [1, 4, 16]) {
    for (const mode of ['cold', 'typing'] as const) {
      const samples: Sample[] = [];
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: clients }, async (_, c) => {
          const doc = docs[c % docs.length];
          const start = Math.min(doc.text.length - 500 - requests * 60, cursorBase + 37 * c);
          let cursor = start;
          if (mode === 'typing') await one(body(doc, start, cursor, true)); // the keystroke before: primes this client's slot
          for (let j = 0; j < requests; j++) {
            cursor += mode === 'typing' ? 1 : 53; // typing: the next character of the file; cold: elsewhere, cache off
            samples.push(await one(body(doc, mode === 'typing' ? start : cursor, cursor, mode === 'typing')));
          }
        }),
      );
      const wall = (performance.now() - t0) / 1000;
      const tokens = samples.reduce((a, x) => a + x.tokens, 0);
      const f = (x: number) => x.toFixed(0);
      rows.push([
        clients,
        mode,
        samples.length,
        f(
          quantile(
            samples.map((x) => x.ttft),
            0.5,
          ),
        ),
        f(
          quantile(
            samples.map((x) => x.ttft),
            0.95,
          ),
        ),
        f(
          quantile(
            samples.map((x) => x.total),
            0.5,
          ),
        ),
        f(
          quantile(
            samples.map((x) => x.total),
            0.95,
          ),
        ),
        (samples.reduce((a, x) => a + x.cached, 0) / samples.length).toFixed(0),
        (tokens / wall).toFixed(1),
      ]);
      console.error(`${clients} clients, ${mode}: ${rows.at(-1)!.join(' | ')}`);
      cursorBase += 11;
    }
  }
  // overhead: one cold request against generate() on the same prompt tokens (greedy, 32 tokens)
  const doc = docs[0];
  const b = body(doc, 1800, 1800, false);
  const p = buildInfillPrompt(
    s.served.tokenizer,
    { prefix: b.input_prefix, suffix: b.input_suffix },
    {
      ...INFILL_DEFAULTS,
      contextTokens: s.ctx,
      maxNewTokens: Math.min(32, Math.floor(s.ctx * s.config.reserveShare)),
    },
  );
  const direct: number[] = [],
    served: number[] = [],
    firstDirect: number[] = [];
  let generated = 0;
  for (let i = 0; i < 5; i++) {
    const r = await one(b); // the same greedy work both ways: the tokens up to <eom> or 32
    served.push(r.total);
    let t0 = performance.now();
    generate(s.served.model, [p.tokens], { maxNewTokens: 1, stopTokens: p.stopTokens });
    firstDirect.push(performance.now() - t0);
    t0 = performance.now();
    generated = generate(s.served.model, [p.tokens], { maxNewTokens: 32, stopTokens: p.stopTokens }).tokens[0].length;
    direct.push(performance.now() - t0);
    if (generated !== r.tokens) throw new Error(`the server predicted ${r.tokens} tokens, generate() ${generated}`);
  }
  const load1 = loadavg()[0];
  await server.close(0);
  const m = s.served.config;
  const body1 = [
    `Model: ${s.served.name} (${s.served.kind}${s.served.step !== undefined ? `, step ${s.served.step}` : ''}; d ${m.dModel}, ${m.nLayer} layers, ` +
      `${(s.served.parameters / 1e6).toFixed(2)}M parameters, vocab ${m.vocabSize}, context ${s.ctx}); ${parallel} slots; ${backendLine.at(-1) ?? ''}. ` +
      `Request: streamed /infill, 1,500 + 500 characters around the cursor (cut to the context by the infill prompt), n_predict 32, greedy. ` +
      `${requests} requests per client; cold = cache_prompt false at a new cursor each time; typing = each request one character after the ` +
      `client's previous one, the prefix window fixed at a line start (cache hit). TTFT = first streamed bytes. 1-minute load average ${load0.toFixed(2)} before, ${load1.toFixed(2)} after (2 cores).`,
    '',
    markdownTable(
      [
        'clients',
        'mode',
        'n',
        'TTFT p50 ms',
        'TTFT p95 ms',
        'total p50 ms',
        'total p95 ms',
        'mean tokens_cached',
        'generated tokens/s',
      ],
      rows,
    ),
    '',
    `Against generate() on the same ${p.tokens.length} prompt tokens, greedy, ${generated} tokens (median of 5): prompt + first token ` +
      `${quantile(firstDirect, 0.5).toFixed(0)} ms directly; whole request ${quantile(direct, 0.5).toFixed(0)} ms directly vs ` +
      `${quantile(served, 0.5).toFixed(0)} ms through the server (HTTP, JSON, SSE, text rules): overhead ` +
      `${(quantile(served, 0.5) - quantile(direct, 0.5)).toFixed(0)} ms per request.`,
  ].join('\n');
  process.stdout.write(`${body1}\n`);
  if (!values['no-write'])
    await writeBenchmarkSection(
      join(REPO, 'BENCHMARKS.md'),
      'serve',
      'Infill server latency (CPU)',
      ['npm run bench:serve', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
      body1,
    );
});
