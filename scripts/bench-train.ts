// `npm run bench:train`: training throughput (tokens/s, achieved GFLOP/s) of dense-small and moe-small on
// the WASM backend with 1 worker (this thread) and 2 data-parallel workers (src/backend/data-parallel.ts
// with src/model/replica.ts), and KV-cached decode ms/token at context 256. FLOPs per token follow
// Kaplan et al. / PaLM: 6·N_active + 12·nLayer·dModel·T (attention scores and values, forward+backward),
// where N_active counts one expert per MoE layer (top-1 routing). Prints a Markdown table. If PyTorch is
// importable, scripts/bench_train_torch.py runs the same configs and the ratio is shown.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/index.js';
import { DataParallel } from '../src/backend/data-parallel.js';
import { numberFlag, parseCommandLine, runMain, type CommandSpec } from '../src/cli/args.js';
import { isMoELayer, resolveModelConfig, type ModelConfig } from '../src/model/config.js';
import { generate } from '../src/model/generate.js';
import { GPT } from '../src/model/gpt.js';
import { AdamW, defaultOptimConfig, globalNorm } from '../src/model/optimizer.js';
import type { ReplicaSlice } from '../src/model/replica.js';

const spec: CommandSpec = {
  usage: 'npm run bench:train -- [--steps N] [--batch B] [--vocab V]',
  summary: 'Training tokens/s and GFLOP/s (1 and 2 workers, WASM) and decode ms/token for dense-small and moe-small.',
  flags: {
    steps: { type: 'string', arg: 'N', help: 'timed steps per configuration (after one warm-up step)', default: '3' },
    batch: { type: 'string', arg: 'B', help: 'rows of blockSize tokens per step (split across workers)', default: '8' },
    vocab: { type: 'string', arg: 'V', help: 'vocabulary size', default: '4000' },
  },
};

/** Parameters used per token: all, minus the experts a top-1 token skips. */
function activeParams(model: GPT): number {
  const c = model.config;
  let n = model.numParams();
  const expert = 2 * c.dModel * c.dFF + c.dFF + c.dModel;
  for (let l = 0; l < c.nLayer; l++) if (isMoELayer(c, l)) n -= (c.moe.experts - 1) * expert;
  return n;
}

const flopsPerToken = (c: ModelConfig, nActive: number): number => 6 * nActive + 12 * c.nLayer * c.dModel * c.blockSize;

function randomSlice(rows: number, c: ModelConfig, seed: number): ReplicaSlice {
  let s = seed >>> 0;
  const next = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s % c.vocabSize; };
  const n = rows * c.blockSize;
  return { ids: Int32Array.from({ length: n }, next), targets: Int32Array.from({ length: n }, next), weights: new Float32Array(n).fill(1), domains: new Int32Array(rows), seed };
}

async function singleWorker(c: ModelConfig, rows: number, steps: number): Promise<number> {
  const model = new GPT(c, 1);
  const opt = new AdamW(defaultOptimConfig);
  const step = (i: number): void => {
    const s = randomSlice(rows, c, i);
    const ids = tf.tensor2d(s.ids, [rows, c.blockSize], 'int32');
    const targets = tf.tensor2d(s.targets, [rows, c.blockSize], 'int32');
    const weights = tf.tensor2d(s.weights, [rows, c.blockSize], 'float32');
    const r = model.lossAndGrads(ids, targets, weights, { training: true, seed: i });
    opt.apply(model.params(), r.grads, 1e-4, globalNorm(r.grads));
    tf.dispose([ids, targets, weights, ...r.grads.values()]);
  };
  step(0);
  const t0 = performance.now();
  for (let i = 1; i <= steps; i++) step(i);
  const seconds = (performance.now() - t0) / 1000;
  model.dispose();
  opt.dispose();
  return seconds / steps;
}

async function twoWorkers(c: ModelConfig, rows: number, steps: number): Promise<number> {
  const dp = await DataParallel.start({
    workers: 2, backend: 'wasm',
    modulePath: fileURLToPath(new URL('../src/model/replica.js', import.meta.url)),
    init: { model: c, optim: defaultOptimConfig, seed: 1, totalSteps: steps + 1 },
  });
  try {
    const half = rows / 2;
    await dp.step([randomSlice(half, c, 0), randomSlice(half, c, 1)]);
    const t0 = performance.now();
    for (let i = 1; i <= steps; i++) await dp.step([randomSlice(half, c, 2 * i), randomSlice(half, c, 2 * i + 1)]);
    const seconds = (performance.now() - t0) / 1000;
    const params = await dp.params();
    if (!Buffer.from(params[0].buffer).equals(Buffer.from(params[1].buffer))) throw new Error('replicas diverged');
    return seconds / steps;
  } finally {
    await dp.close();
  }
}

/** ms per generated token with the KV cache, from a 192-token prompt up to context 256. */
function decodeMs(c: ModelConfig): number {
  const model = new GPT(c, 1);
  const prompt = [Array.from({ length: c.blockSize - 64 }, (_, i) => (i * 7) % c.vocabSize)];
  generate(model, prompt, { maxNewTokens: 2 });
  const t1 = performance.now();
  generate(model, prompt, { maxNewTokens: 1 });
  const prefill = performance.now() - t1;
  const t0 = performance.now();
  generate(model, prompt, { maxNewTokens: 64 });
  const ms = (performance.now() - t0 - prefill) / 63;
  model.dispose();
  return ms;
}

runMain(async () => {
  const { values } = parseCommandLine(spec);
  const steps = numberFlag(values, 'steps', 3, { integer: true, min: 1 });
  const rows = numberFlag(values, 'batch', 8, { integer: true, min: 2 });
  const vocab = numberFlag(values, 'vocab', 4000, { integer: true, min: 16 });
  if (rows % 2 !== 0) throw new Error('--batch must be even (it is split over 2 workers)');
  const backend = await selectBackend('wasm');
  const torch = (() => { try { execFileSync('python3', ['-c', 'import torch'], { stdio: 'ignore' }); return true; } catch { return false; } })();
  const lines = [
    `Backend: ${backend.name} on ${backend.device}; batch ${rows} rows; ${steps} timed steps after 1 warm-up.`, '',
    `| config | params (active) | workers | tokens/s | GFLOP/s | decode ms/token @256 |${torch ? ' PyTorch tokens/s | ratio |' : ''}`,
    `|---|---|---|---|---|---|${torch ? '---|---|' : ''}`,
  ];
  for (const name of ['dense-small', 'moe-small']) {
    const c = resolveModelConfig(name, { vocabSize: vocab });
    const probe = new GPT(c, 1);
    const total = probe.numParams(), active = activeParams(probe);
    probe.dispose();
    const tokens = rows * c.blockSize;
    const decode = decodeMs(c);
    const torchTps = torch ? Number(execFileSync('python3', [fileURLToPath(new URL('../../scripts/bench_train_torch.py', import.meta.url)),
      JSON.stringify(c), String(rows), String(steps)], { encoding: 'utf8' }).trim()) : undefined;
    for (const workers of [1, 2]) {
      const sec = workers === 1 ? await singleWorker(c, rows, steps) : await twoWorkers(c, rows, steps);
      const tps = tokens / sec;
      const gflops = (tps * flopsPerToken(c, active)) / 1e9;
      lines.push(`| ${name} | ${(total / 1e6).toFixed(2)}M (${(active / 1e6).toFixed(2)}M) | ${workers} | ${tps.toFixed(0)} | ${gflops.toFixed(2)} | ${workers === 1 ? decode.toFixed(1) : '—'} |` +
        (torchTps !== undefined ? ` ${workers === 1 ? torchTps.toFixed(0) : '—'} | ${workers === 1 ? (tps / torchTps).toFixed(2) : '—'} |` : ''));
      console.error(lines.at(-1));
    }
  }
  if (!torch) lines.push('', 'PyTorch: not importable here (`python3 -c "import torch"` fails); scripts/bench_train_torch.py runs when it is.');
  console.log(lines.join('\n'));
});
