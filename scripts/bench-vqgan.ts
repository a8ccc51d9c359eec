// `npm run bench:vqgan`: per preset (cpu-small and default unless --presets), the training step time
// before and after the GAN switches on (discStart 0 vs off) and the encode throughput (images/s of one
// thread = one preprocess worker), on synthetic images, written to BENCHMARKS.md. Times are wall-clock
// and CPU time of this process (the latter holds on a shared, loaded machine).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/index.js';
import {
  backendFlag,
  COMMON_FLAGS,
  type CommandSpec,
  markdownTable,
  numberFlag,
  parseCommandLine,
  runMain,
  writeBenchmarkSection,
} from '../src/cli/index.js';
import { Vqgan, resolveVqganConfig, type VqganConfig } from '../src/vqgan/index.js';

const spec: CommandSpec = {
  usage: 'npm run bench:vqgan -- [--presets cpu-small,default] [--steps N] [--out BENCHMARKS.md]',
  summary: 'VQGAN training step time (reconstruction phase and GAN phase) and encode images/s per worker.',
  flags: {
    presets: {
      type: 'string',
      arg: 'LIST',
      help: 'comma-separated presets, smallest first',
      default: 'cpu-small,default',
    },
    steps: { type: 'string', arg: 'N', help: 'timed steps per case (after one warm-up step)', default: '2' },
    out: { type: 'string', arg: 'FILE', help: 'Markdown file to update', default: 'BENCHMARKS.md' },
    backend: COMMON_FLAGS.backend,
    'rows-only': {
      type: 'boolean',
      help: 'internal: print the rows as JSON and write nothing (one child process per preset)',
    },
  },
};

/** Training batch per preset: cpu-small as in its docs; default at 1, the most the WASM heap holds (2 aborts, out of memory). */
const BATCH: Record<string, number> = { tiny: 8, 'cpu-small': 8, default: 1 };
/** Images per encode call: the GPU preset's 16-image batch does not fit the WASM heap next to its weights. */
const ENCODE_BATCH: Record<string, number> = { tiny: 16, 'cpu-small': 16, default: 4 };

function images(n: number, R: number): tf.Tensor4D {
  return tf.tidy(() => tf.randomUniform([n, R, R, 3], -1, 1, 'float32', 7) as tf.Tensor4D);
}

async function timed(fn: () => Promise<void> | void, reps: number): Promise<{ wall: number; cpu: number }> {
  await fn(); // warm-up: kernel and optimizer-slot creation
  const c0 = process.cpuUsage(),
    t0 = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000 / reps, cpu: (c.user + c.system) / 1e6 / reps };
}

type Row = Array<string | number>;

async function benchTrain(name: string, gan: boolean, reps: number): Promise<Row> {
  const B = BATCH[name] ?? 4;
  const config: VqganConfig = resolveVqganConfig(name, { discStart: gan ? 0 : 1e9, ganWeight: 0.1 });
  const model = new Vqgan(config, 1);
  const x = images(B, config.resolution);
  let step = 0;
  try {
    const t = await timed(() => {
      model.trainStep(x, step++);
    }, reps);
    return [
      name,
      gan ? 'train step, GAN phase' : 'train step, reconstruction phase',
      B,
      t.wall.toFixed(2),
      t.cpu.toFixed(2),
      (B / t.wall).toFixed(2),
    ];
  } finally {
    x.dispose();
    model.dispose();
  }
}

async function benchEncode(name: string, reps: number): Promise<Row> {
  const model = new Vqgan(resolveVqganConfig(name), 1);
  const R = model.resolution,
    n = ENCODE_BATCH[name] ?? 4;
  const rgb = Array.from({ length: n }, (_, k) =>
    Uint8Array.from({ length: R * R * 3 }, (_, i) => (i * (k + 7) * 31) % 256),
  );
  try {
    const t = await timed(async () => {
      await model.encode(rgb);
    }, reps);
    return [name, `encode (${n} images per call)`, n, t.wall.toFixed(2), t.cpu.toFixed(2), (n / t.wall).toFixed(2)];
  } finally {
    model.dispose();
  }
}

runMain(async () => {
  const { values } = parseCommandLine(spec);
  const backend = await selectBackend(backendFlag(values), (l) => console.error(l));
  const presets = ((values.presets as string | undefined) ?? 'cpu-small,default').split(',');
  const reps = numberFlag(values, 'steps', 2, { integer: true, min: 1 });
  const rows: Array<Array<string | number>> = [];
  if (presets.length > 1 && !values['rows-only']) {
    // One child process per preset: the WASM heap never shrinks, so a preset measured after another
    // can run out of memory that a fresh process has (the GPU preset did).
    const passOn = [
      '--steps',
      String(reps),
      '--backend',
      (values.backend as string | undefined) ?? 'auto',
      '--rows-only',
    ];
    for (const p of presets) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--presets', p, ...passOn], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const last = r.stdout.trim().split('\n').at(-1) ?? '';
      rows.push(
        ...(last.startsWith('[')
          ? (JSON.parse(last) as Row[])
          : [[p, `fails (exit ${r.status ?? r.signal})`, '', '', '', '']]),
      );
    }
  } else {
    for (const p of presets) {
      for (const [what, run] of [
        ['encode', () => benchEncode(p, reps)],
        ['train step, reconstruction phase', () => benchTrain(p, false, reps)],
        ['train step, GAN phase', () => benchTrain(p, true, reps)],
      ] as const) {
        try {
          rows.push(await run());
        } catch (err) {
          rows.push([
            p,
            `${what}: fails (${(err instanceof Error ? err.message : String(err)).split('\n')[0].slice(0, 60)})`,
            '',
            '',
            '',
            '',
          ]);
        }
        console.error(rows.at(-1)!.join(' | '));
      }
    }
    if (values['rows-only']) {
      console.log(JSON.stringify(rows));
      return;
    }
  }
  const table = markdownTable(['preset', 'what', 'batch', 'wall s', 'CPU s', 'images/s (wall)'], rows);
  const body =
    `Backend: ${backend.name} on ${backend.device}. Synthetic images; ${reps} timed calls after one warm-up. ` +
    'GAN phase = discStart 0 (discriminator step + adaptive weight added). Encode = one thread, i.e. one preprocess worker. ' +
    'WASM runs one thread here, so CPU s is the uncontended time; wall s is longer when other jobs share the cores. ' +
    'default trains at batch 1: batch 2 runs out of WASM memory (Aborted).\n\n' +
    table;
  console.log(body);
  const args = process.argv.slice(2).join(' ');
  rows.forEach((r) => console.error(r.join(' | ')));
  await writeBenchmarkSection(
    (values.out as string | undefined) ?? 'BENCHMARKS.md',
    'vqgan',
    'VQGAN training step and encode speed',
    `npm run bench:vqgan${args ? ` -- ${args}` : ''}`,
    body,
  );
});
