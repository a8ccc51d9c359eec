// hyperlm's training against an independent PyTorch implementation (test/reference/torch_train.py): the
// same initial weights and the same loader batches; the first step's gradients agree per parameter and
// the loss and gradient-norm curves of 20 steps of the real train() loop (WASM backend, AdamW, clipping,
// warmup + cosine) agree step by step, for rotary/learned positions, tied/untied heads, gather/onehot.
// Skips with a message when no python with torch is installed (CI); it runs whenever torch is importable.
import { join } from 'node:path';
import test from 'ava';
import { selectBackend } from '../src/backend/index.js';
import { readDataInfo } from '../src/model/loader.js';
import { resolveRunConfig } from '../src/model/train-config.js';
import { train } from '../src/model/train.js';
import { tempDir } from './helpers/fixtures.js';
import { gradientErrors, runTorchReference, torchPython, writeParityCase } from './helpers/torch-reference.js';
import { writeSyntheticData } from './helpers/train-shards.js';

const python = torchPython();
const STEPS = 20;
let dataDir: string;

test.before(async () => {
  await selectBackend('wasm');
  dataDir = (await writeSyntheticData(tempDir('torch-parity-data'), { train: 120, valid: 8, maxLen: 120 })).dir;
});

const variants: Array<[string, string[]]> = [
  ['rotary, tied, gather', ['positions=rotary', 'tieEmbeddings=true', 'embedding=gather']],
  ['learned, untied, gather', ['positions=learned', 'tieEmbeddings=false', 'embedding=gather']],
  ['rotary, untied, onehot', ['positions=rotary', 'tieEmbeddings=false', 'embedding=onehot']],
];

for (const [name, sets] of variants) {
  if (!python) {
    test.skip(`torch parity (${name}): skipped, no python with torch (install python3-torch or set HYPERLM_TORCH_PYTHON)`, () => {});
    continue;
  }
  test.serial(`gradients and ${STEPS}-step loss curve match PyTorch: ${name}`, async (t) => {
    const config = await resolveRunConfig(
      'tiny',
      [
        'nLayer=2',
        'nHead=4',
        'dModel=64',
        'dFF=256',
        'blockSize=64',
        'moe.every=0',
        ...sets,
        'batchSize=4',
        `steps=${STEPS}`,
        'evalEvery=0',
        'checkpointEvery=1000',
        'optim.warmupSteps=4',
        'optim.lr=3e-3',
      ],
      await readDataInfo(dataDir),
    );
    const dir = tempDir('torch-parity-case');
    const ours = await writeParityCase(dir, config, STEPS);
    const refGrads = join(dir, 'torch-grads.safetensors');
    const ref64 = runTorchReference(python!, dir, { steps: 1, double: true, gradsOut: refGrads });
    t.true(
      Math.abs(ours.loss - ref64[0].loss) / ref64[0].loss < 1e-5,
      `step-1 loss ${ours.loss} vs float64 ${ref64[0].loss}`,
    );
    const errs = await gradientErrors(ours.grads, refGrads);
    // 12 tensors per layer, wte, ln_f ×2; plus wpe (learned) and lm_head (untied)
    t.is(errs.size, 2 * 12 + 3 + (config.model.positions === 'learned' ? 1 : 0) + (config.model.tieEmbeddings ? 0 : 1));
    for (const [param, e] of errs) t.true(e < 1e-4, `${param}: relative gradient error ${e.toExponential(2)}`); // float32 rounding is ~1e-7
    const lines: Array<{ loss: number; gradNorm: number }> = [];
    await train({
      runDir: join(dir, 'run'),
      config,
      onStep: (_s, m) => lines.push(m as unknown as { loss: number; gradNorm: number }),
    });
    const ref = runTorchReference(python!, dir, {});
    t.is(ref.length, STEPS);
    t.is(lines.length, STEPS);
    for (let i = 0; i < STEPS; i++) {
      t.true(
        Math.abs(lines[i].loss - ref[i].loss) / ref[i].loss < 1e-4,
        `step ${i + 1}: loss ${lines[i].loss} vs torch ${ref[i].loss}`,
      );
      t.true(
        Math.abs(lines[i].gradNorm - ref[i].gradNorm) / ref[i].gradNorm < 1e-3,
        `step ${i + 1}: grad norm ${lines[i].gradNorm} vs torch ${ref[i].gradNorm}`,
      );
    }
    t.true(ref[STEPS - 1].loss < ref[0].loss - 1, 'both learn the synthetic pattern');
  });
}
