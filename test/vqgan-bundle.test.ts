// The inference bundle (bundle.ts): float16 conversion checked bit for bit against numpy's float16,
// an exported tiny model that loads with F16-rounded weights and tokenizes images like its F32
// checkpoint, a bundle half the checkpoint's size without the discriminator, and the eval yardstick.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { latestCheckpoint } from '../src/train/index.js';
import { readSafetensors } from '../src/train/safetensors.js';
import { fromHalf, toHalf } from '../src/train/index.js';
import {
  baselineMetrics,
  exportBundle,
  loadVqgan,
  Vqgan,
  loadVqganCheckpoint,
  resolveVqganRun,
  trainVqgan,
  PSNR_CAP,
} from '../src/vqgan/index.js';
import { SAMPLE, tempDir, walk } from './helpers/fixtures.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

test('toHalf matches numpy float16 bit for bit; fromHalf inverts it', (t) => {
  const values = [
    0,
    -0,
    1,
    -1,
    0.1,
    1 / 3,
    65504,
    65519.99,
    65520,
    1e6,
    -1e6,
    6.1e-5,
    6e-5,
    3e-8,
    2.98e-8,
    1e-9,
    1 + 2 ** -11,
    1 + 3 * 2 ** -11,
    2049,
    2051,
    Infinity,
    -Infinity,
    NaN,
    0.00006103515625,
    5.960464477539063e-8,
  ];
  let s = 7;
  for (let i = 0; i < 2000; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    values.push((s / 2 ** 32 - 0.5) * 2 ** ((s % 40) - 25));
  }
  const f32 = Float32Array.from(values);
  const py =
    'import sys, warnings, numpy as np; warnings.simplefilter("ignore"); a = np.frombuffer(sys.stdin.buffer.read(), dtype="<f4"); sys.stdout.write(" ".join(str(int(x)) for x in a.astype(np.float16).view(np.uint16)))';
  const want = execFileSync('python3', ['-c', py], { input: Buffer.from(f32.buffer) })
    .toString()
    .trim()
    .split(' ')
    .map(Number);
  const got = Array.from(f32, toHalf);
  const bad = got
    .map((g, i) => [g, want[i], f32[i]] as const)
    .filter(([g, w, v]) => g !== w && !(Number.isNaN(v) && (g & 0x7c00) === 0x7c00 && (g & 0x3ff) !== 0));
  t.deepEqual(bad, []);
  for (const h of got) if (!Number.isNaN(fromHalf(h))) t.is(toHalf(fromHalf(h)), h);
});

test('an exported bundle is half the size, has no discriminator, and tokenizes like its checkpoint', async (t) => {
  const runDir = tempDir('vq-bundle-run');
  const images = walk(SAMPLE)
    .filter((p) => p.endsWith('.png'))
    .slice(0, 10);
  const imgDir = tempDir('vq-bundle-imgs');
  for (const f of images) execFileSync('cp', [f, imgDir]);
  const config = resolveVqganRun('tiny', { steps: 4, batchSize: 4, evalEvery: 0 });
  await trainVqgan({ runDir, images: [imgDir], config });
  const ck = (await latestCheckpoint(runDir))!;
  const out = tempDir('vq-bundle');
  await exportBundle(ck, config, out);
  const f16 = statSync(join(out, 'model.safetensors')).size,
    f32 = statSync(join(ck, 'model.safetensors')).size;
  t.true(f16 < f32 / 2, `${f16} < ${f32} / 2`);
  t.deepEqual(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')), JSON.parse(JSON.stringify(config)));

  const full = new Vqgan(config.model);
  await loadVqganCheckpoint(ck, full, false);
  const small = await loadVqgan(out);
  const { tensors } = await readSafetensors(join(ck, 'model.safetensors'));
  for (const [name, v] of small.params()) {
    if (name.startsWith('discriminator.')) continue;
    const ref = tensors.get(name)!.data;
    const got = v.dataSync();
    t.true(
      ref.every((x, i) => got[i] === fromHalf(toHalf(x))),
      name,
    );
  }
  // Same codes for most positions (F16 rounding can flip near-ties), and identical decoding of the same codes.
  const rgb = Array.from({ length: 4 }, (_, k) =>
    Uint8Array.from({ length: 32 * 32 * 3 }, (_, i) => (i * (k + 3) * 37) % 251),
  );
  const a = await full.encode(rgb),
    b = await small.encode(rgb);
  const same = a.flatMap((c, i) => Array.from(c, (x, j) => x === b[i][j])).filter(Boolean).length;
  t.true(same >= 0.9 * 4 * 16, `${same} of 64 codes agree`);
  const da = await full.decode(a),
    db = await small.decode(a);
  t.true(
    da.every((img, i) => img.every((p, j) => Math.abs(p - db[i][j]) <= 3)),
    'decoded pixels within 3/255',
  );
  full.dispose();
});

test('the 16×16 baseline: exact on flat images (capped), lossy on detail', async (t) => {
  const flat = new Uint8Array(64 * 64 * 3).fill(200);
  const stripes = Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => (Math.floor(i / 3) % 2 ? 255 : 0));
  const r = await baselineMetrics([flat], 64);
  t.is(r.psnr, PSNR_CAP);
  t.true(Math.abs(r.ssim - 1) < 1e-9);
  const s = await baselineMetrics([stripes], 64);
  t.true(s.psnr < 10, `1-pixel stripes cannot survive 16×16: ${s.psnr} dB`);
});
