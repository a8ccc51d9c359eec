// Load and faults, bounded in time and count, loopback only: 64 concurrent clients for ~8 s against a
// 2-slot server with a short queue send greedy infill requests (plain and streamed), abort some at random
// moments, and send malformed JSON, wrong types and raw garbage. Every well-formed request that is answered
// must be answered correctly — the content generate() gives for that prompt, whatever the batching and the
// prompt cache did — or with 503 + Retry-After; malformed ones get 400; afterwards the server is idle, its
// counters add up, no tensor leaked and the heap did not grow past a bound.
import * as tf from '@tensorflow/tfjs';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import test from 'ava';
import { selectBackend } from '../src/backend/index.js';
import { generate } from '../src/model/generate.js';
import { Rng } from '../src/rng.js';
import { buildInfillPrompt, INFILL_DEFAULTS } from '../src/prompts/code-infill.js';
import { InfillServer, loadServedModel, resolveServeConfig } from '../src/serve/index.js';
import { randomBundle } from './helpers/serve-model.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void; // heap measured after a full collection, not with garbage in it

const CLIENTS = 64;
const DURATION_MS = 8000;

test('64 clients with aborts and malformed bodies: no crash, correct answers or 503, nothing leaks', async (t) => {
  await selectBackend('wasm');
  const bundle = await randomBundle({ blockSize: 128, seed: 4 });
  const server = await InfillServer.start({
    config: resolveServeConfig({ port: 0, parallel: 2, maxQueue: 6 }),
    load: () => loadServedModel(bundle),
    log: () => {},
  });
  t.teardown(() => server.close(0));
  await server.ready;
  const { served, engine, ctx, config } = server.context!;
  // a few editor-like requests and their greedy references
  const inputs = Array.from({ length: 6 }, (_, i) => ({
    prefix: `function f${i}(a, b) {\n  const x = a * ${i};\n  return `.repeat(1 + (i % 3)),
    suffix: `;\n}\nexport default f${i};\n`,
    n: 3 + i,
  }));
  const expected = inputs.map(({ prefix, suffix, n }) => {
    const p = buildInfillPrompt(
      served.tokenizer,
      { prefix, suffix },
      { ...INFILL_DEFAULTS, contextTokens: ctx, maxNewTokens: Math.min(n, Math.floor(ctx * config.reserveShare)) },
    );
    const out = generate(served.model, [p.tokens], { maxNewTokens: n, stopTokens: p.stopTokens }).tokens[0];
    return served.tokenizer.decode(out.filter((id) => !p.stopTokens.includes(id)));
  });
  // warm-up, then the baselines for leaks
  await fetch(`${server.url}/infill`, { method: 'POST', body: JSON.stringify({ input_prefix: 'x', n_predict: 2 }) });
  const tensors = tf.memory().numTensors;
  gc();
  const heap = process.memoryUsage().heapUsed;

  const tally = { ok: 0, busy: 0, aborted: 0, malformed: 0, garbage: 0, wrong: [] as string[] };
  const deadline = Date.now() + DURATION_MS;
  const client = async (id: number) => {
    const rng = Rng.fromSeed(100 + id);
    while (Date.now() < deadline) {
      const dice = rng.int(10);
      if (dice === 0) {
        // malformed JSON or a wrong type
        const body =
          rng.int(2) === 0 ? '{"input_prefix": "a", ' : JSON.stringify({ input_prefix: 'a', n_predict: 'many' });
        const r = await fetch(`${server.url}/infill`, { method: 'POST', body });
        if (r.status === 400) tally.malformed++;
        else tally.wrong.push(`malformed → ${r.status}`);
        await r.arrayBuffer();
        continue;
      }
      if (dice === 1) {
        // not HTTP at all
        await new Promise<void>((resolve) => {
          const sock = connect(server.port, '127.0.0.1', () => sock.end('\x00\x01garbage\r\n\r\n'));
          sock.on('data', () => {});
          sock.on('close', () => resolve());
          sock.on('error', () => resolve());
        });
        tally.garbage++;
        continue;
      }
      const k = rng.int(inputs.length);
      const stream = rng.int(2) === 0;
      const ac = new AbortController();
      const abortAfter = dice === 2 ? rng.int(300) : -1;
      if (abortAfter >= 0) setTimeout(() => ac.abort(), abortAfter);
      try {
        const r = await fetch(`${server.url}/infill`, {
          method: 'POST',
          signal: ac.signal,
          body: JSON.stringify({
            input_prefix: inputs[k].prefix,
            input_suffix: inputs[k].suffix,
            n_predict: inputs[k].n,
            temperature: 0,
            stream,
          }),
        });
        const text = await r.text();
        if (r.status === 503) {
          if (r.headers.get('retry-after') !== '1') tally.wrong.push('503 without Retry-After');
          tally.busy++;
          continue;
        }
        if (r.status !== 200) {
          tally.wrong.push(`${r.status}: ${text.slice(0, 100)}`);
          continue;
        }
        const content = stream
          ? text
              .split('\n\n')
              .filter((e) => e.startsWith('data: '))
              .map((e) => JSON.parse(e.slice(6)))
              .filter((e) => !e.stop)
              .map((e) => e.content)
              .join('')
          : JSON.parse(text).content;
        if (content === expected[k]) tally.ok++;
        else tally.wrong.push(`request ${k}: ${JSON.stringify(content)} ≠ ${JSON.stringify(expected[k])}`);
      } catch (err) {
        if ((err as Error).name === 'AbortError') tally.aborted++;
        else tally.wrong.push(String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
  for (let i = 0; i < 100 && (engine.load.busy > 0 || engine.load.queued > 0); i++)
    await new Promise((r) => setTimeout(r, 20));
  t.log(
    `answered correctly ${tally.ok}, 503 ${tally.busy}, aborted ${tally.aborted}, malformed→400 ${tally.malformed}, garbage ${tally.garbage}; ` +
      `engine: ${engine.counters.submitted} jobs, ${engine.counters.cancelled} cancelled, ${engine.counters.rejected} rejected, mean batch ${(engine.counters.stepRows / Math.max(1, engine.counters.steps)).toFixed(2)}`,
  );
  t.deepEqual(tally.wrong.slice(0, 5), []);
  t.true(tally.ok > 20 && tally.busy > 0 && tally.malformed > 0 && tally.aborted > 0, JSON.stringify(tally));
  t.deepEqual(engine.load, { busy: 0, queued: 0 });
  const c = engine.counters;
  t.is(c.failed, 0);
  t.is(c.submitted, c.completed + c.cancelled);
  t.true(c.maxBatch === 2, 'slots decoded together');
  t.is((await fetch(`${server.url}/health`)).status, 200);
  t.is(tf.memory().numTensors, tensors, 'no tensor leaked');
  gc();
  const grown = (process.memoryUsage().heapUsed - heap) / 2 ** 20;
  t.log(`heap after the run: ${grown >= 0 ? '+' : ''}${grown.toFixed(1)} MiB`);
  t.true(grown < 16, `heap grew ${grown.toFixed(1)} MiB`);
});
