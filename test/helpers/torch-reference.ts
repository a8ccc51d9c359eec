// Support for the PyTorch training-parity check (test/reference/torch_train.py): writes a "case" folder —
// the run's config.json, the model's initial weights as F32 safetensors and the first batches of the
// real ShardLoader opened exactly as train() opens it (so they are the batches train() steps on) — runs
// the reference on it, and compares gradients by parameter. After the cross-framework parity checks of
// nanoGPT ports; differs in feeding both sides the same loader output instead of re-implementing the data.
// Torch is optional: torchPython() says which interpreter has it, or undefined (CI does not install it).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GPT, LocalGradients, ShardLoader, type RunConfig } from '../../src/model/index.js';
import { readSafetensors, variablesToSafeTensors, writeSafetensors } from '../../src/train/index.js';

export const TORCH_SCRIPT = fileURLToPath(new URL('../../../test/reference/torch_train.py', import.meta.url));

/** The first interpreter (HYPERLM_TORCH_PYTHON, python3, Debian's /usr/bin/python3) that can import torch. */
export function torchPython(): string | undefined {
  const candidates = [process.env.HYPERLM_TORCH_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c);
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return undefined;
}

export interface ParityCase {
  dir: string;
  /** hyperlm's gradient of the first batch at the initial weights, by parameter name. */
  grads: Map<string, Float32Array>;
  /** hyperlm's loss on that batch. */
  loss: number;
}

/**
 * Write DIR/{config.json, init.safetensors, batches.bin, batches.json} for `config` (dense, gradAccum 1)
 * with `count` batches, and compute hyperlm's first-step gradients on the current tfjs backend.
 */
export async function writeParityCase(dir: string, config: RunConfig, count: number): Promise<ParityCase> {
  mkdirSync(dir, { recursive: true });
  const tc = config.train;
  const T = config.model.blockSize;
  if (tc.gradAccum !== 1) throw new Error('writeParityCase: gradAccum must be 1');
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const model = new GPT(config.model, tc.seed); // what train() builds
  await writeSafetensors(join(dir, 'init.safetensors'), variablesToSafeTensors(model.params()));
  const loader = await ShardLoader.open(config.data, {
    blockSize: T,
    seed: tc.seed,
    byDomain: false,
    cm3: tc.cm3,
    split: 'train',
  });
  const parts: Buffer[] = [];
  let first;
  for (let i = 0; i < count; i++) {
    const b = await loader.nextBatch(tc.batchSize);
    first ??= b;
    for (const a of [b.ids, b.targets, b.weights]) parts.push(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  }
  await loader.close();
  writeFileSync(join(dir, 'batches.bin'), Buffer.concat(parts));
  writeFileSync(join(dir, 'batches.json'), JSON.stringify({ count, rows: tc.batchSize, blockSize: T }));
  const source = new LocalGradients(model);
  const r = await source.compute(first!, 0);
  const grads = new Map<string, Float32Array>();
  source.layout.names.forEach((n, i) =>
    grads.set(n, r.grads.slice(source.layout.offsets[i], source.layout.offsets[i] + source.layout.sizes[i])),
  );
  model.dispose();
  return { dir, grads, loss: r.loss };
}

export interface TorchStep {
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
}

/** Run the reference on a case folder; with `gradsOut` it also writes its first-step gradients there. */
export function runTorchReference(
  python: string,
  dir: string,
  opts: { steps?: number; double?: boolean; gradsOut?: string } = {},
): TorchStep[] {
  const args = [TORCH_SCRIPT, dir];
  if (opts.steps !== undefined) args.push('--steps', String(opts.steps));
  if (opts.double) args.push('--double');
  if (opts.gradsOut) args.push('--grads-out', opts.gradsOut);
  const r = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`torch_train.py failed (${r.status}): ${r.stderr}`);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TorchStep);
}

/** ‖a − b‖ / ‖b‖ per parameter of `ours` against the reference's safetensors file. */
export async function gradientErrors(
  ours: Map<string, Float32Array>,
  referenceFile: string,
): Promise<Map<string, number>> {
  const { tensors } = await readSafetensors(referenceFile);
  const out = new Map<string, number>();
  for (const [name, g] of ours) {
    const ref = tensors.get(name);
    if (!ref) throw new Error(`reference has no gradient for ${name}`);
    let num = 0,
      den = 0;
    for (let i = 0; i < g.length; i++) {
      num += (g[i] - ref.data[i]) ** 2;
      den += ref.data[i] ** 2;
    }
    out.set(name, Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30));
  }
  return out;
}
