// Prints a Markdown table of GFLOP/s per op shape on the WASM backend, shipped kernels vs ours
// (src/backend/wasm-kernels), for the matmuls of a GPT with d=256, T=256, 4 heads, batch 8 and the
// VQGAN's conv filter gradient. Usage: npm run bench:kernels -- [--reps N]
// Rates are per CPU-second of this (single-threaded) process, so they hold on a shared, loaded machine.
import * as tf from '@tensorflow/tfjs';
import { fileURLToPath } from 'node:url';
import { registerWasmKernels, selectBackend, useShippedWasmKernels } from '../src/backend/index.js';
import { numberFlag, parseCommandLine, runMain, type CommandSpec } from '../src/cli/args.js';
import { markdownTable, writeBenchmarkSection } from '../src/cli/benchmarks-md.js';

interface Case { op: string; shape: string; flops: number; make: () => tf.Tensor[]; run: (xs: tf.Tensor[]) => tf.Tensor }

const [B, T, D, H] = [8, 256, 256, 4];
const HD = D / H;
const BT = B * T;
const BH = B * H;
const mm = (ta: boolean, tb: boolean) => (xs: tf.Tensor[]) => tf.matMul(xs[0], xs[1], ta, tb);
const r = (...shape: number[]) => tf.randomNormal(shape);

const cases: Case[] = [
  { op: 'linear fwd x·W', shape: `[${BT},${D}]·[${D},${4 * D}]`, flops: 2 * BT * D * 4 * D, make: () => [r(BT, D), r(D, 4 * D)], run: mm(false, false) },
  { op: 'linear fwd 3-D x·W', shape: `[${B},${T},${D}]·[${D},${4 * D}]`, flops: 2 * BT * D * 4 * D, make: () => [r(B, T, D), r(D, 4 * D)], run: mm(false, false) },
  { op: 'linear dX = dY·Wᵀ', shape: `[${BT},${4 * D}]·[${D},${4 * D}]ᵀ`, flops: 2 * BT * D * 4 * D, make: () => [r(BT, 4 * D), r(D, 4 * D)], run: mm(false, true) },
  { op: 'linear dW = xᵀ·dY', shape: `[${BT},${D}]ᵀ·[${BT},${4 * D}]`, flops: 2 * BT * D * 4 * D, make: () => [r(BT, D), r(BT, 4 * D)], run: mm(true, false) },
  { op: 'attn S = Q·Kᵀ', shape: `[${BH},${T},${HD}]·[${BH},${T},${HD}]ᵀ`, flops: 2 * BH * T * T * HD, make: () => [r(BH, T, HD), r(BH, T, HD)], run: mm(false, true) },
  { op: 'attn O = P·V', shape: `[${BH},${T},${T}]·[${BH},${T},${HD}]`, flops: 2 * BH * T * T * HD, make: () => [r(BH, T, T), r(BH, T, HD)], run: mm(false, false) },
  { op: 'attn dV = Pᵀ·dO', shape: `[${BH},${T},${T}]ᵀ·[${BH},${T},${HD}]`, flops: 2 * BH * T * T * HD, make: () => [r(BH, T, T), r(BH, T, HD)], run: mm(true, false) },
  { op: 'attn dK = dSᵀ·Q', shape: `[${BH},${T},${T}]ᵀ·[${BH},${T},${HD}]`, flops: 2 * BH * T * T * HD, make: () => [r(BH, T, T), r(BH, T, HD)], run: mm(true, false) },
  {
    op: 'conv dW (VQGAN)', shape: 'x[4,32,32,128] f[3,3,128,128] same', flops: 2 * 4 * 32 * 32 * 9 * 128 * 128,
    make: () => [r(4, 32, 32, 128), r(4, 32, 32, 128)],
    run: ([x, dy]) => tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'), dy)))(tf.zeros([3, 3, 128, 128])),
  },
  {
    op: 'embedding grad', shape: `gather [8192,${D}] by ${BT} ids`, flops: BT * D,
    make: () => [r(8192, D), tf.randomUniform([BT], 0, 8192, 'int32')],
    run: ([e, ids]) => tf.grad((p: tf.Tensor) => tf.sum(tf.gather(p, ids)))(e),
  },
];

/** GFLOP per CPU-second, and CPU ms per call; a string when the op fails (kernel missing). */
async function measure(c: Case, reps: number): Promise<{ rate: number; ms: number } | string> {
  const xs = c.make();
  try {
    const once = () => { const y = tf.tidy(() => c.run(xs)); y.dataSync(); y.dispose(); };
    once(); // warm-up: XNNPACK operator creation, heap growth
    const t0 = process.cpuUsage();
    for (let i = 0; i < reps; i++) once();
    const used = process.cpuUsage(t0);
    const ms = (used.user + used.system) / 1000 / reps;
    return { rate: c.flops / ms / 1e6, ms };
  } catch (err) {
    return `fails: ${(err instanceof Error ? err.message : String(err)).slice(0, 40)}`;
  } finally {
    tf.dispose(xs);
  }
}

const spec: CommandSpec = {
  usage: 'npm run bench:kernels -- [--reps N] [--no-write]',
  summary: 'GFLOP/s of the WASM backend\'s shipped kernels vs ours (src/backend/wasm-kernels) for the matmuls of a\n' +
    'GPT (d 256, T 256, 4 heads, batch 8), the VQGAN\'s conv filter gradient and the embedding gradient.\n' +
    'Rates are per CPU-second of this single-threaded process, so they hold on a shared machine.',
  flags: {
    reps: { type: 'string', arg: 'N', help: 'timed calls per case', default: '3' },
    'no-write': { type: 'boolean', help: 'print only; leave BENCHMARKS.md alone' },
  },
};

runMain(async () => {
  const { values } = parseCommandLine(spec);
  const reps = numberFlag(values, 'reps', 3, { integer: true, min: 1 });
  await selectBackend('wasm', (line) => console.error(line));
  const rows: string[][] = [];
  for (const c of cases) {
    useShippedWasmKernels();
    const before = await measure(c, reps);
    registerWasmKernels();
    const after = await measure(c, reps);
    const fmt = (v: { rate: number; ms: number } | string) => (typeof v === 'string' ? v : `${v.rate.toFixed(2)} (${v.ms.toFixed(1)})`);
    const gain = typeof before !== 'string' && typeof after !== 'string' ? `${(before.ms / after.ms).toFixed(1)}×` : '—';
    rows.push([c.op, c.shape, fmt(before), fmt(after), gain]);
  }
  const body = markdownTable(['op', 'shape', 'shipped GFLOP/s (ms)', 'patched GFLOP/s (ms)', 'speed-up'], rows) +
    '\n\nGFLOP/s per CPU-second; ms = CPU ms per call. Embedding grad counts one add per gathered element, and its\n' +
    'time includes the forward gather and the zero-filled [8192, 256] gradient.';
  console.log(body);
  if (!values['no-write']) {
    await writeBenchmarkSection(fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url)), 'kernels', 'WASM kernels, shipped vs patched',
      `npm run bench:kernels${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`, body);
  }
});
