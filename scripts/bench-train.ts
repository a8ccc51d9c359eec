// `npm run bench:train`: training throughput (tokens/s, achieved GFLOP/s) of dense-small and moe-small on
// the WASM backend with 1 worker (this thread, LocalGradients) and N data-parallel workers
// (WorkerGradients: src/backend/data-parallel.ts + src/model/replica.ts) — the same gradient → AdamW →
// setParams step `npm run train` runs — and KV-cached decode ms/token at context 256. FLOPs per token
// follow Kaplan et al. / PaLM: 6·N_active + 12·nLayer·dModel·T (attention scores and values, forward +
// backward), where N_active counts one expert per MoE layer (top-1 routing). If PyTorch is importable
// (python3, else Debian's /usr/bin/python3), scripts/bench_train_torch.py runs the same configs. Writes
// its table into BENCHMARKS.md (section bench:train) unless --no-write; the load average is recorded.
// --profile instead prints where one dense-small training step's time goes, per kernel (kernel-profile.ts).
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { profileKernels, selectBackend } from '../src/backend/index.js';
import {
  type CommandSpec,
  markdownTable,
  numberFlag,
  parseCommandLine,
  runMain,
  writeBenchmarkSection,
} from '../src/cli/index.js';
import {
  generate,
  GPT,
  type GradientSource,
  isMoELayer,
  LocalGradients,
  type ModelConfig,
  resolveModelConfig,
  WorkerGradients,
} from '../src/model/index.js';
import { AdamW, defaultOptimConfig, flatten } from '../src/train/index.js';
import type { Batch } from '../src/model/index.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

const spec: CommandSpec = {
  usage: 'npm run bench:train -- [--steps N] [--batch B] [--vocab V] [--workers N] [--no-write] [--profile]',
  summary:
    'Training tokens/s and GFLOP/s (1 and N workers, WASM) and decode ms/token for dense-small and moe-small,\n' +
    'with PyTorch on the same configs when it is importable; writes the table into BENCHMARKS.md.',
  flags: {
    steps: { type: 'string', arg: 'N', help: 'timed steps per configuration (after one warm-up step)', default: '3' },
    batch: { type: 'string', arg: 'B', help: 'rows of blockSize tokens per step (split across workers)', default: '8' },
    vocab: {
      type: 'string',
      arg: 'V',
      help: 'vocabulary size (out/sample has 12192: 4000 text ids + 8192 image codes)',
      default: '12192',
    },
    workers: { type: 'string', arg: 'N', help: 'data-parallel workers for the second row', default: '2' },
    'no-write': { type: 'boolean', help: 'print only; do not update BENCHMARKS.md' },
    profile: { type: 'boolean', help: 'print per-kernel times of one dense-small training step (1 worker) and exit' },
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

function randomBatch(rows: number, c: ModelConfig, seed: number): Batch {
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % c.vocabSize;
  };
  const n = rows * c.blockSize;
  return {
    ids: Int32Array.from({ length: n }, next),
    targets: Int32Array.from({ length: n }, next),
    weights: new Float32Array(n).fill(1),
    domains: new Int32Array(rows),
    tokens: n,
    epoch: 0,
  };
}

/**
 * Wall seconds per training step (gradients → AdamW → params back, as in src/model/train.ts) and CPU
 * seconds per step of the whole process (all threads): on a busy machine wall time mostly measures the
 * contention, CPU time still measures the work.
 */
async function trainStep(
  c: ModelConfig,
  rows: number,
  steps: number,
  workers: number,
): Promise<{ wall: number; cpu: number }> {
  const model = new GPT(c, 1);
  const source: GradientSource =
    workers > 1 ? await WorkerGradients.start(model, 1, workers) : new LocalGradients(model);
  const opt = new AdamW(defaultOptimConfig);
  const theta = flatten(source.layout, model.params() as Map<string, import('@tensorflow/tfjs').Tensor>);
  const step = async (i: number): Promise<void> => {
    const r = await source.compute(randomBatch(rows, c, i), i);
    let sq = 0;
    for (const g of r.grads) sq += g * g;
    opt.applyFlat(source.layout, theta, r.grads, 1e-4, Math.sqrt(sq));
    await source.setParams(theta);
  };
  try {
    await step(0);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let i = 1; i <= steps; i++) await step(i);
    const cpu = process.cpuUsage(c0);
    return { wall: (performance.now() - t0) / 1000 / steps, cpu: (cpu.user + cpu.system) / 1e6 / steps };
  } finally {
    await source.close();
    model.dispose();
  }
}

/** Per-kernel times of one training step (after a warm-up step) as two Markdown tables. */
async function profileStep(c: ModelConfig, rows: number): Promise<string> {
  const model = new GPT(c, 1);
  const source = new LocalGradients(model);
  try {
    await source.compute(randomBatch(rows, c, 0), 0);
    const p = await profileKernels(async () => {
      await source.compute(randomBatch(rows, c, 1), 1);
    });
    const table = (xs: typeof p.byKernel, n: number) =>
      markdownTable(
        ['kernel', 'calls', 'ms', 'share'],
        xs.slice(0, n).map((k) => [k.key, k.calls, k.ms.toFixed(1), `${((100 * k.ms) / p.wallMs).toFixed(1)}%`]),
      );
    return [
      `One ${rows}-row step (forward + backward) of ${c.nLayer}×${c.dModel}, vocab ${c.vocabSize}: ${p.wallMs.toFixed(0)} ms wall.`,
      '',
      table(p.byKernel, 15),
      '',
      table(p.byShape, 25),
    ].join('\n');
  } finally {
    model.dispose();
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

/** A python3 that imports torch: the PATH one, else Debian's (python3-torch installs there). */
function torchPython(): string | undefined {
  for (const py of ['python3', '/usr/bin/python3']) {
    try {
      execFileSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
      return py;
    } catch {
      /* next */
    }
  }
  return undefined;
}

interface TorchResult {
  tokPerSec: number;
  cpuPerStep: number;
  decodeMs: number;
  threads: number;
  torch: string;
}

runMain(async () => {
  const { values } = parseCommandLine(spec);
  const steps = numberFlag(values, 'steps', 3, { integer: true, min: 1 });
  const rows = numberFlag(values, 'batch', 8, { integer: true, min: 2 });
  const vocab = numberFlag(values, 'vocab', 12192, { integer: true, min: 16 });
  const workers = numberFlag(values, 'workers', 2, { integer: true, min: 2, max: rows });
  const backend = await selectBackend('wasm');
  if (values.profile) {
    console.log(await profileStep(resolveModelConfig('dense-small', { vocabSize: vocab }), rows));
    return;
  }
  const py = torchPython();
  const loadBefore = loadavg()[0];
  const table: Array<Array<string | number>> = [];
  const torchRows: Array<Array<string | number>> = [];
  for (const name of ['dense-small', 'moe-small']) {
    const c = resolveModelConfig(name, { vocabSize: vocab });
    const probe = new GPT(c, 1);
    const total = probe.numParams(),
      active = activeParams(probe);
    probe.dispose();
    const tokens = rows * c.blockSize;
    const decode = decodeMs(c);
    let torch: TorchResult | undefined;
    if (py) {
      torch = JSON.parse(
        execFileSync(
          py,
          [join(REPO, 'scripts/bench_train_torch.py'), JSON.stringify(c), String(rows), String(steps), '2'],
          { encoding: 'utf8' },
        ).trim(),
      ) as TorchResult;
      torchRows.push([
        name,
        `${torch.torch}, ${torch.threads} threads`,
        torch.tokPerSec.toFixed(0),
        ((torch.tokPerSec * flopsPerToken(c, active)) / 1e9).toFixed(1),
        torch.cpuPerStep.toFixed(2),
        torch.decodeMs.toFixed(1),
      ]);
    }
    for (const w of [1, workers]) {
      const { wall, cpu } = await trainStep(c, rows, steps, w);
      const tps = tokens / wall;
      table.push([
        name,
        `${(total / 1e6).toFixed(2)}M (${(active / 1e6).toFixed(2)}M)`,
        w,
        tps.toFixed(0),
        ((tps * flopsPerToken(c, active)) / 1e9).toFixed(1),
        cpu.toFixed(2),
        w === 1 ? decode.toFixed(1) : '—',
        torch ? (tps / torch.tokPerSec).toFixed(2) : '—',
      ]);
      console.error(`${name}, ${w} worker(s): ${tps.toFixed(0)} tokens/s`);
    }
  }
  const loadAfter = loadavg()[0];
  const busy = Math.max(loadBefore, loadAfter) > 1.5;
  const body = [
    ...(busy
      ? [
          '**Busy machine:** other processes shared the 2 cores, so tokens/s, the worker scaling and the PyTorch ratio ' +
            'reflect contention at each moment; the CPU s/step columns (work done, all threads) are the comparable numbers. Rerun when `uptime` shows a load below 1.',
          '',
        ]
      : []),
    `Backend: ${backend.name} on ${backend.device}; vocab ${vocab}; batch ${rows} × ${resolveModelConfig('dense-small').blockSize} tokens; ${steps} timed steps after 1 warm-up; ` +
      `1-minute load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after (2 cores: anything above ~1 means other work shared the CPU).`,
    '',
    markdownTable(
      [
        'config',
        'params (active)',
        'workers',
        'tokens/s',
        'GFLOP/s',
        'CPU s/step',
        'decode ms/token @256',
        '× PyTorch tokens/s',
      ],
      table,
    ),
    '',
    py
      ? markdownTable(
          [
            'PyTorch (same shape, random tokens)',
            'version',
            'tokens/s',
            'GFLOP/s',
            'CPU s/step',
            'decode ms/token @256',
          ],
          torchRows,
        )
      : 'PyTorch: not importable here (`python3 -c "import torch"` fails); `apt-get install python3-torch libopenblas0-openmp` provides it.',
  ].join('\n');
  console.log(body);
  if (!values['no-write']) {
    const cmd = `npm run bench:train${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;
    await writeBenchmarkSection(join(REPO, 'BENCHMARKS.md'), 'train', 'Training and decoding (CPU)', cmd, body);
  }
});
