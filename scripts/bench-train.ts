// `npm run bench:train`: training throughput (tokens/s, achieved GFLOP/s) of the presets (dense-small,
// moe-small, code-small) on the WASM backend with 1 worker (this thread, LocalGradients) and N
// data-parallel workers (ZeRO-1: WorkerGradients over src/backend/data-parallel.ts + src/model/replica.ts),
// the step `npm run train` takes, timed per step after warm-up steps (median and range); and KV-cached
// decode at contexts 256 and 1,024 and for 4 rows at once. FLOPs per token follow Kaplan et al. / PaLM:
// 6·N_active + 12·nLayer·dModel·T (attention scores and values, forward + backward), where N_active counts
// one expert per MoE layer (top-1 routing). If PyTorch is importable (python3, else Debian's
// /usr/bin/python3), scripts/bench_train_torch.py runs the same configs the same way. Writes its tables into
// BENCHMARKS.md (section bench:train) unless --no-write, with the load average and the BLAS kernels in use.
// --profile instead prints where one dense-small training step's time goes, per kernel (kernel-profile.ts).
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { blasStatus, profileKernels, selectBackend } from '../src/backend/index.js';
import {
  COMMON_FLAGS,
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
  isMoELayer,
  LocalGradients,
  type ModelConfig,
  resolveModelConfig,
  WorkerGradients,
} from '../src/model/index.js';
import type { Tensor } from '@tensorflow/tfjs';
import { AdamW, defaultOptimConfig, flatNorm, flatten } from '../src/train/index.js';
import type { Batch } from '../src/model/index.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

const CONFIGS = ['dense-small', 'moe-small', 'code-small'];

const spec: CommandSpec = {
  usage:
    'npm run bench:train -- [--configs LIST] [--steps N] [--warmup N] [--batch B] [--vocab V] [--workers N] [--repeat R] [--no-write] [--profile | --phases]',
  summary:
    'Training tokens/s and GFLOP/s (1 and N workers, WASM; steady-state steps, median and range) and decode\n' +
    'ms/token for the presets, with PyTorch on the same configs when it is importable; writes BENCHMARKS.md.',
  flags: {
    configs: { type: 'string', arg: 'LIST', help: 'comma-separated presets to measure', default: CONFIGS.join(',') },
    steps: { type: 'string', arg: 'N', help: 'timed steps per configuration', default: '5' },
    warmup: {
      type: 'string',
      arg: 'N',
      help: 'untimed steps before them (JIT, packed weights, heap growth)',
      default: '2',
    },
    batch: { type: 'string', arg: 'B', help: 'rows of blockSize tokens per step (split across workers)', default: '8' },
    vocab: {
      type: 'string',
      arg: 'V',
      help: 'vocabulary size (out/sample has 12192: 4000 text ids + 8192 image codes)',
      default: '12192',
    },
    workers: { type: 'string', arg: 'N', help: 'data-parallel workers for the second row', default: '2' },
    repeat: {
      type: 'string',
      arg: 'R',
      help: 'measure 1 and N workers (and PyTorch) R times, interleaved; rows pool the steps, ratios are given run by run',
      default: '1',
    },
    'no-write': COMMON_FLAGS.noWrite,
    profile: { type: 'boolean', help: 'print per-kernel times of one dense-small training step (1 worker) and exit' },
    phases: {
      type: 'boolean',
      help: 'print where the time of a step goes by phase (gradients, all-reduce, AdamW, loading params), 1 and N workers, and exit',
    },
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

/** Wall ms of a step's phases: forward + backward, the all-reduce (workers only), AdamW, loading the params. */
type Phases = Record<'grads' | 'reduce' | 'adamw' | 'load', number>;

interface StepTimes {
  /** Wall seconds of each timed step (after the warm-up steps). */
  wall: number[];
  /** Per timed step, its phases. */
  phases: Phases[];
  /** CPU seconds per timed step, the whole process (all threads). */
  cpu: number;
}

/**
 * The step `npm run train` takes (src/model/train.ts), timed per step after `warmup` untimed steps (JIT,
 * XNNPACK's packed weights, heap growth): with workers, ZeRO-1 — `accumulate` sums the gradient in shared
 * memory, `update` runs AdamW on each worker's shard and every replica loads the params; with one, this
 * thread's gradient, AdamW over the flat params and `setParams`. CPU time too: on a busy machine wall time
 * mostly measures the contention, CPU time still measures the work.
 */
async function trainSteps(
  c: ModelConfig,
  rows: number,
  warmup: number,
  steps: number,
  workers: number,
): Promise<StepTimes> {
  const model = new GPT(c, 1);
  const optim = defaultOptimConfig;
  const sharded = workers > 1 ? await WorkerGradients.start(model, 1, workers, 'wasm', optim) : undefined;
  const local = sharded ? undefined : new LocalGradients(model);
  const opt = new AdamW(optim);
  const layout = (sharded ?? local)!.layout;
  const theta = flatten(layout, model.params() as Map<string, Tensor>);
  const step = async (i: number): Promise<Phases> => {
    const batch = randomBatch(rows, c, i);
    const t0 = performance.now();
    if (sharded) {
      const r = await sharded.accumulate(batch, i, i, 0, 1);
      const t1 = performance.now();
      await sharded.adamw(1e-4, Math.sqrt(r.sq), i + 1);
      const t2 = performance.now();
      await sharded.loadParams();
      return { ...sharded.lastPhases, adamw: t2 - t1, load: performance.now() - t2 };
    }
    const r = await local!.compute(batch, i);
    const t1 = performance.now();
    opt.applyFlat(layout, theta, r.grads, 1e-4, flatNorm(r.grads));
    const t2 = performance.now();
    await local!.setParams(theta);
    return { grads: t1 - t0, reduce: 0, adamw: t2 - t1, load: performance.now() - t2 };
  };
  try {
    for (let i = 0; i < warmup; i++) await step(i);
    const wall: number[] = [];
    const phases: Phases[] = [];
    const c0 = process.cpuUsage();
    for (let i = warmup; i < warmup + steps; i++) {
      const t0 = performance.now();
      phases.push(await step(i));
      wall.push((performance.now() - t0) / 1000);
    }
    const cpu = process.cpuUsage(c0);
    return { wall, phases, cpu: (cpu.user + cpu.system) / 1e6 / steps };
  } finally {
    await (sharded ?? local)!.close();
    model.dispose();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

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

/** Median ms of each phase of a step, 1 and `workers` workers, as a Markdown table (`--phases`). */
async function phaseTable(
  configs: string[],
  configOf: (name: string) => ModelConfig,
  rows: number,
  warmup: number,
  steps: number,
  workers: number,
): Promise<string> {
  const out: Array<Array<string | number>> = [];
  for (const name of configs) {
    let one = 0;
    for (const n of [1, workers]) {
      const r = await trainSteps(configOf(name), rows, warmup, steps, n);
      const med = (k: keyof Phases): number => median(r.phases.map((p) => p[k]));
      const step = median(r.wall) * 1000;
      if (n === 1) one = step;
      const ms = (x: number): string => x.toFixed(1);
      out.push([
        name,
        n,
        ms(med('grads')),
        n === 1 ? '—' : ms(med('reduce')),
        ms(med('adamw')),
        ms(med('load')),
        ms(step),
        (one / step).toFixed(2),
      ]);
    }
  }
  return [
    `Phases of one training step, batch ${rows} rows, median ms of ${steps} steps after ${warmup} warm-up (1 worker: this thread, AdamW over all params; N: ZeRO-1).`,
    '',
    markdownTable(['config', 'workers', 'gradients', 'all-reduce', 'AdamW', 'load params', 'step', '× 1 worker'], out),
  ].join('\n');
}

/** Decode cases: the context a generation ends at, and how many rows decode together (the server's slots). */
const DECODE_CASES = [
  { ctx: 256, batch: 1 },
  { ctx: 1024, batch: 1 },
  { ctx: 256, batch: 4 },
] as const;

/**
 * ms per decode step with the KV cache (one new token in each of `batch` rows), from a prompt of ctx − 64
 * tokens to context ctx; the prefill is timed apart and subtracted. Rotary positions need no table, so
 * the model's blockSize is raised to ctx where needed.
 */
function decodeMs(c: ModelConfig, ctx: number, batch: number): number {
  const model = new GPT({ ...c, blockSize: Math.max(c.blockSize, ctx) }, 1);
  const prompts = Array.from({ length: batch }, (_, b) =>
    Array.from({ length: ctx - 64 }, (_, i) => (i * 7 + b) % c.vocabSize),
  );
  generate(model, prompts, { maxNewTokens: 2 });
  // the median of 3 (prefill, decode) pairs: one noisy prefill would shift every token's share by ~1 ms
  const per: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t1 = performance.now();
    generate(model, prompts, { maxNewTokens: 1 });
    const prefill = performance.now() - t1;
    const t0 = performance.now();
    generate(model, prompts, { maxNewTokens: 64 });
    per.push((performance.now() - t0 - prefill) / 63);
  }
  model.dispose();
  return median(per);
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
  /** Slowest and fastest timed step, as tokens/s. */
  tokPerSecRange: [number, number];
  cpuPerStep: number;
  decode: Array<{ ctx: number; batch: number; ms: number }>;
  threads: number;
  torch: string;
}

const range = (lo: number, hi: number): string => `${lo.toFixed(0)}–${hi.toFixed(0)}`;

runMain(async () => {
  const { values } = parseCommandLine(spec);
  const steps = numberFlag(values, 'steps', 5, { integer: true, min: 1 });
  const warmup = numberFlag(values, 'warmup', 2, { integer: true, min: 1 });
  const rows = numberFlag(values, 'batch', 8, { integer: true, min: 2 });
  const vocab = numberFlag(values, 'vocab', 12192, { integer: true, min: 16 });
  const workers = numberFlag(values, 'workers', 2, { integer: true, min: 2, max: rows });
  const repeat = numberFlag(values, 'repeat', 1, { integer: true, min: 1, max: 20 });
  const configs = (typeof values.configs === 'string' ? values.configs.split(',') : CONFIGS)
    .map((x) => x.trim())
    .filter(Boolean);
  const backend = await selectBackend('wasm');
  if (values.profile) {
    console.log(await profileStep(resolveModelConfig('dense-small', { vocabSize: vocab }), rows));
    return;
  }
  const configOf = (name: string): ModelConfig => resolveModelConfig(name, { vocabSize: vocab }); // names a bad preset
  configs.forEach(configOf);
  if (values.phases) {
    console.log(await phaseTable(configs, configOf, rows, warmup, steps, workers));
    return;
  }
  const py = torchPython();
  const loadBefore = loadavg()[0];
  const table: Array<Array<string | number>> = [];
  const torchRows: Array<Array<string | number>> = [];
  const decodeRows: Array<Array<string | number>> = [];
  const byRound: string[] = [];
  for (const name of configs) {
    const c = configOf(name);
    const probe = new GPT(c, 1);
    const total = probe.numParams(),
      active = activeParams(probe);
    probe.dispose();
    const tokens = rows * c.blockSize;
    const gflops = (tps: number): string => ((tps * flopsPerToken(c, active)) / 1e9).toFixed(1);
    const decode = DECODE_CASES.map((d) => ({ ...d, ms: decodeMs(c, d.ctx, d.batch) }));
    // R rounds of (PyTorch, 1 worker, N workers): on a VM whose speed drifts, interleaving keeps the ratios fair
    const rounds: Array<{ torch?: TorchResult; walls: Map<number, number[]>; cpu: Map<number, number> }> = [];
    for (let r = 0; r < repeat; r++) {
      const round = {
        torch: undefined as TorchResult | undefined,
        walls: new Map<number, number[]>(),
        cpu: new Map<number, number>(),
      };
      if (py) {
        const args = [
          JSON.stringify(c),
          String(rows),
          String(steps),
          '2',
          String(warmup),
          r === 0 ? JSON.stringify(DECODE_CASES) : '[]',
        ];
        round.torch = JSON.parse(
          execFileSync(py, [join(REPO, 'scripts/bench_train_torch.py'), ...args], { encoding: 'utf8' }).trim(),
        ) as TorchResult;
      }
      for (const w of [1, workers]) {
        const { wall, cpu } = await trainSteps(c, rows, warmup, steps, w);
        round.walls.set(w, wall);
        round.cpu.set(w, cpu);
        console.error(
          `${name}, ${w} worker(s), round ${r + 1}/${repeat}: ${(tokens / median(wall)).toFixed(0)} tokens/s (median of ${steps})`,
        );
      }
      rounds.push(round);
    }
    let torch: TorchResult | undefined;
    if (py) {
      const ts = rounds.map((x) => x.torch!);
      torch = {
        ...ts[0],
        tokPerSec: median(ts.map((t) => t.tokPerSec)),
        tokPerSecRange: [
          Math.min(...ts.map((t) => t.tokPerSecRange[0])),
          Math.max(...ts.map((t) => t.tokPerSecRange[1])),
        ],
        cpuPerStep: median(ts.map((t) => t.cpuPerStep)),
      };
      torchRows.push([
        name,
        `${torch.torch}, ${torch.threads} threads`,
        torch.tokPerSec.toFixed(0),
        range(...torch.tokPerSecRange),
        gflops(torch.tokPerSec),
        torch.cpuPerStep.toFixed(2),
      ]);
    }
    decode.forEach((d, i) => {
      const t = torch?.decode[i];
      decodeRows.push([
        name,
        d.ctx,
        d.batch,
        d.ms.toFixed(1),
        ((1000 * d.batch) / d.ms).toFixed(0),
        t ? t.ms.toFixed(1) : '—',
        t ? (t.ms / d.ms).toFixed(2) : '—',
      ]);
    });
    let oneWorker: number | undefined;
    for (const w of [1, workers]) {
      const wall = rounds.flatMap((x) => x.walls.get(w)!);
      const cpu = median(rounds.map((x) => x.cpu.get(w)!));
      const tps = tokens / median(wall);
      oneWorker ??= tps;
      table.push([
        name,
        `${(total / 1e6).toFixed(2)}M (${(active / 1e6).toFixed(2)}M)`,
        w,
        tps.toFixed(0),
        range(tokens / Math.max(...wall), tokens / Math.min(...wall)),
        gflops(tps),
        cpu.toFixed(2),
        w === 1 ? '1.00' : (tps / oneWorker).toFixed(2),
        torch ? (tps / torch.tokPerSec).toFixed(2) : '—',
      ]);
    }
    if (repeat > 1) {
      const ratio = (x: (typeof rounds)[number], den: number): string =>
        (median(x.walls.get(1)!) / median(x.walls.get(workers)!) / (den || 1)).toFixed(2);
      byRound.push(
        `${name}: ${workers} workers ÷ 1 worker ${rounds.map((x) => ratio(x, 1)).join(', ')}` +
          (py
            ? `; ${workers} workers ÷ PyTorch ${rounds.map((x) => (tokens / median(x.walls.get(workers)!) / x.torch!.tokPerSec).toFixed(2)).join(', ')}`
            : ''),
      );
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
    `Backend: ${backend.name} on ${backend.device}; ${blasStatus()}; OPENBLAS_CORETYPE ${process.env.OPENBLAS_CORETYPE ? `= ${process.env.OPENBLAS_CORETYPE}` : 'unset'} ` +
      `(PyTorch ran under the same environment); vocab ${vocab}; batch ${rows} rows of each config's blockSize; ` +
      `${steps} timed steps after ${warmup} warm-up steps${repeat > 1 ? `, in ${repeat} interleaved rounds (PyTorch, 1 worker, ${workers} workers)` : ''}, tokens/s of the median step and the range over the timed steps; ` +
      `1-minute load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after (2 cores: anything above ~1 means other work shared the CPU).`,
    '',
    markdownTable(
      [
        'config',
        'params (active)',
        'workers',
        'tokens/s',
        'range',
        'GFLOP/s',
        'CPU s/step',
        '× 1 worker',
        '× PyTorch tokens/s',
      ],
      table,
    ),
    ...(byRound.length > 0 ? ['', 'Round by round: ' + byRound.join('. ') + '.'] : []),
    '',
    py
      ? markdownTable(
          ['PyTorch (same shape, random tokens)', 'version', 'tokens/s', 'range', 'GFLOP/s', 'CPU s/step'],
          torchRows,
        )
      : 'PyTorch: not importable here (`python3 -c "import torch"` fails); `apt-get install python3-torch libopenblas0-openmp` provides it.',
    '',
    'Decode with the KV cache (this thread, 1 worker), ms per step (one new token in each row), from a prompt of context − 64 tokens (median of 3 runs of 64 steps, each less its own prefill):',
    '',
    markdownTable(
      ['config', 'context', 'rows', 'ms/step', 'tokens/s', 'PyTorch ms/step', 'PyTorch ÷ hyperlm'],
      decodeRows,
    ),
  ].join('\n');
  console.log(body);
  if (!values['no-write']) {
    const cmd = `npm run bench:train${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`;
    await writeBenchmarkSection(join(REPO, 'BENCHMARKS.md'), 'train', 'Training and decoding (CPU)', cmd, body);
  }
});
