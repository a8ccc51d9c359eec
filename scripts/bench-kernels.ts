// Prints a Markdown table of GFLOP/s per op shape on the WASM backend, shipped kernels vs ours
// (src/backend/wasm-kernels) with matmuls on XNNPACK, and — when a system BLAS loads (src/backend/blas.ts) —
// ours with matmuls on it, for the matmuls of a GPT with d=256, T=256, 4 heads, batch 8, the VQGAN's conv
// filter gradient, the embedding gradient and the fused elementwise ops. Usage: npm run bench:kernels -- [--reps N]
// Rates are per CPU-second of this (single-threaded) process, so they hold on a shared, loaded machine.
import * as tf from '@tensorflow/tfjs';
import { fileURLToPath } from 'node:url';
import {
  activeBlas,
  registerWasmKernels,
  selectBackend,
  setBlasEnabled,
  useShippedWasmKernels,
} from '../src/backend/index.js';
import { gelu, softmaxCrossEntropy } from '../src/nn/index.js';
import {
  COMMON_FLAGS,
  type CommandSpec,
  markdownTable,
  numberFlag,
  parseCommandLine,
  runMain,
  writeBenchmarkSection,
} from '../src/cli/index.js';

interface Case {
  op: string;
  shape: string;
  flops: number;
  make: () => tf.Tensor[];
  run: (xs: tf.Tensor[]) => tf.Tensor;
}

const [B, T, D, H] = [8, 256, 256, 4];
const HD = D / H;
const BT = B * T;
const BH = B * H;
const mm = (ta: boolean, tb: boolean) => (xs: tf.Tensor[]) => tf.matMul(xs[0], xs[1], ta, tb);
const r = (...shape: number[]) => tf.randomNormal(shape);
const TARGETS = Int32Array.from({ length: BT }, (_, i) => (i * 7919) % 12192);

const cases: Case[] = [
  {
    op: 'linear fwd x·W',
    shape: `[${BT},${D}]·[${D},${4 * D}]`,
    flops: 2 * BT * D * 4 * D,
    make: () => [r(BT, D), r(D, 4 * D)],
    run: mm(false, false),
  },
  {
    op: 'linear fwd 3-D x·W',
    shape: `[${B},${T},${D}]·[${D},${4 * D}]`,
    flops: 2 * BT * D * 4 * D,
    make: () => [r(B, T, D), r(D, 4 * D)],
    run: mm(false, false),
  },
  {
    op: 'linear dX = dY·Wᵀ',
    shape: `[${BT},${4 * D}]·[${D},${4 * D}]ᵀ`,
    flops: 2 * BT * D * 4 * D,
    make: () => [r(BT, 4 * D), r(D, 4 * D)],
    run: mm(false, true),
  },
  {
    op: 'linear dW = xᵀ·dY',
    shape: `[${BT},${D}]ᵀ·[${BT},${4 * D}]`,
    flops: 2 * BT * D * 4 * D,
    make: () => [r(BT, D), r(BT, 4 * D)],
    run: mm(true, false),
  },
  {
    op: 'attn S = Q·Kᵀ',
    shape: `[${BH},${T},${HD}]·[${BH},${T},${HD}]ᵀ`,
    flops: 2 * BH * T * T * HD,
    make: () => [r(BH, T, HD), r(BH, T, HD)],
    run: mm(false, true),
  },
  {
    op: 'attn O = P·V',
    shape: `[${BH},${T},${T}]·[${BH},${T},${HD}]`,
    flops: 2 * BH * T * T * HD,
    make: () => [r(BH, T, T), r(BH, T, HD)],
    run: mm(false, false),
  },
  {
    op: 'attn dV = Pᵀ·dO',
    shape: `[${BH},${T},${T}]ᵀ·[${BH},${T},${HD}]`,
    flops: 2 * BH * T * T * HD,
    make: () => [r(BH, T, T), r(BH, T, HD)],
    run: mm(true, false),
  },
  {
    op: 'attn dK = dSᵀ·Q',
    shape: `[${BH},${T},${T}]ᵀ·[${BH},${T},${HD}]`,
    flops: 2 * BH * T * T * HD,
    make: () => [r(BH, T, T), r(BH, T, HD)],
    run: mm(true, false),
  },
  {
    op: 'conv dW (VQGAN)',
    shape: 'x[4,32,32,128] f[3,3,128,128] same',
    flops: 2 * 4 * 32 * 32 * 9 * 128 * 128,
    make: () => [r(4, 32, 32, 128), r(4, 32, 32, 128)],
    run: ([x, dy]) =>
      tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same'), dy)))(
        tf.zeros([3, 3, 128, 128]),
      ),
  },
  {
    op: 'embedding grad',
    shape: `gather [8192,${D}] by ${BT} ids`,
    flops: BT * D,
    make: () => [r(8192, D), tf.randomUniform([BT], 0, 8192, 'int32')],
    run: ([e, ids]) => tf.grad((p: tf.Tensor) => tf.sum(tf.gather(p, ids)))(e),
  },
  // Elementwise ops: flops = 0, only times are compared. Unpatched they run as composite tfjs ops.
  {
    op: 'softmax xent fwd+bwd',
    shape: `[${BT},12192]`,
    flops: 0,
    make: () => [r(BT, 12192)],
    run: ([x]) => tf.grad((l: tf.Tensor) => tf.sum(softmaxCrossEntropy(l as tf.Tensor2D, TARGETS)))(x),
  },
  {
    op: 'GELU fwd+bwd',
    shape: `[${BT},${4 * D}]`,
    flops: 0,
    make: () => [r(BT, 4 * D)],
    run: ([x]) => tf.grad((v: tf.Tensor) => tf.sum(gelu(v)))(x),
  },
  {
    op: 'sum over rows (bias grad)',
    shape: `[${BT},${4 * D}] → [${4 * D}]`,
    flops: 0,
    make: () => [r(BT, 4 * D)],
    run: ([x]) => tf.sum(x, 0),
  },
];

/** GFLOP per CPU-second, and CPU ms per call; a string when the op fails (kernel missing). */
async function measure(c: Case, reps: number): Promise<{ rate: number; ms: number } | string> {
  const xs = c.make();
  try {
    const once = () => {
      const y = tf.tidy(() => c.run(xs));
      y.dataSync();
      y.dispose();
    };
    once(); // warm-up: XNNPACK operator creation, heap growth
    const t0 = process.cpuUsage();
    for (let i = 0; i < reps; i++) once();
    const used = process.cpuUsage(t0);
    const ms = (used.user + used.system) / 1000 / reps;
    return { rate: c.flops / ms / 1e6, ms }; // rate 0 for elementwise cases (flops 0)
  } catch (err) {
    return `fails: ${(err instanceof Error ? err.message : String(err)).slice(0, 40)}`;
  } finally {
    tf.dispose(xs);
  }
}

const spec: CommandSpec = {
  usage: 'npm run bench:kernels -- [--reps N] [--no-write]',
  summary:
    "GFLOP/s of the WASM backend's shipped kernels vs ours (src/backend/wasm-kernels) for the matmuls of a\n" +
    "GPT (d 256, T 256, 4 heads, batch 8), the VQGAN's conv filter gradient and the embedding gradient.\n" +
    'Rates are per CPU-second of this single-threaded process, so they hold on a shared machine.',
  flags: {
    reps: { type: 'string', arg: 'N', help: 'timed calls per case', default: '3' },
    'no-write': COMMON_FLAGS.noWrite,
  },
};

runMain(async () => {
  const { values } = parseCommandLine(spec);
  const reps = numberFlag(values, 'reps', 3, { integer: true, min: 1 });
  await selectBackend('wasm', (line) => console.error(line));
  const blas = activeBlas();
  const rows: string[][] = [];
  const fmt = (v: { rate: number; ms: number } | string) =>
    typeof v === 'string' ? v : v.rate > 0 ? `${v.rate.toFixed(2)} (${v.ms.toFixed(1)})` : `(${v.ms.toFixed(1)})`;
  const gain = (a: { ms: number } | string, b: { ms: number } | string) =>
    typeof a !== 'string' && typeof b !== 'string' ? `${(a.ms / b.ms).toFixed(1)}×` : '—';
  for (const c of cases) {
    useShippedWasmKernels();
    const before = await measure(c, reps);
    registerWasmKernels();
    setBlasEnabled(false);
    const xnn = await measure(c, reps);
    setBlasEnabled(true);
    const withBlas = blas ? await measure(c, reps) : undefined;
    const best = withBlas ?? xnn;
    rows.push([c.op, c.shape, fmt(before), fmt(xnn), ...(withBlas ? [fmt(withBlas)] : []), gain(before, best)]);
  }
  const body =
    markdownTable(
      [
        'op',
        'shape',
        'shipped GFLOP/s (ms)',
        'patched, XNNPACK GFLOP/s (ms)',
        ...(blas ? [`patched, ${blas.library} GFLOP/s (ms)`] : []),
        'speed-up',
      ],
      rows,
    ) +
    '\n\nGFLOP/s per CPU-second; ms = CPU ms per call; speed-up = shipped ÷ best patched. ' +
    (blas
      ? `Matmuls on ${blas.library} run with 1 BLAS thread.`
      : 'No system BLAS was found (HYPERLM_BLAS, src/backend/blas.ts), so only the XNNPACK path ran.') +
    '\nEmbedding grad counts one add per gathered element, and its time includes the forward gather and the zero-filled\n' +
    '[8192, 256] gradient. Elementwise rows show times only; "shipped" there means the composite tfjs ops.';
  console.log(body);
  if (!values['no-write']) {
    await writeBenchmarkSection(
      fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url)),
      'kernels',
      'WASM kernels, shipped vs patched',
      `npm run bench:kernels${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      body,
    );
  }
});
