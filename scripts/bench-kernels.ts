// Prints a Markdown table of GFLOP/s per op shape on the WASM backend, shipped kernels vs ours
// (src/backend/wasm-kernels), for the matmuls of a GPT with d=256, T=256, 4 heads, batch 8 and the
// VQGAN's conv filter gradient. Usage: node dist/scripts/bench-kernels.js [--reps N]
// Rates are per CPU-second of this (single-threaded) process, so they hold on a shared, loaded machine.
import * as tf from '@tensorflow/tfjs';
import { registerWasmKernels, selectBackend, useShippedWasmKernels } from '../src/backend/index.js';

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

async function main(): Promise<void> {
  const repsArg = process.argv.indexOf('--reps');
  const reps = repsArg > 0 ? Number(process.argv[repsArg + 1]) : 3;
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer, got ${process.argv[repsArg + 1]}`);
  await selectBackend('wasm', (line) => console.log(line));
  console.log('\n| op | shape | shipped GFLOP/s (ms) | patched GFLOP/s (ms) | speed-up |\n|---|---|---:|---:|---:|');
  for (const c of cases) {
    useShippedWasmKernels();
    const before = await measure(c, reps);
    registerWasmKernels();
    const after = await measure(c, reps);
    const fmt = (v: { rate: number; ms: number } | string) => (typeof v === 'string' ? v : `${v.rate.toFixed(2)} (${v.ms.toFixed(1)})`);
    const gain = typeof before !== 'string' && typeof after !== 'string' ? `${(before.ms / after.ms).toFixed(1)}×` : '—';
    console.log(`| ${c.op} | ${c.shape} | ${fmt(before)} | ${fmt(after)} | ${gain} |`);
  }
  console.log('\nGFLOP/s per CPU-second; ms = CPU ms per call. Embedding grad counts one add per gathered element,');
  console.log('and its time includes the forward gather and the zero-filled [8192, 256] gradient.');
}

await main();
