// Vqgan model: config resolution errors, encode/decode shapes and ranges, determinism, the uint8
// ImageTokenizer interface, the adaptive GAN weight against an independent two-pass computation, and
// tensor leaks across training steps (with and without the GAN).

import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { resolveVqganConfig, VQGAN_PRESETS, type VqganConfig } from '../src/vqgan/config.js';
import { decoderForward } from '../src/vqgan/decoder.js';
import { discriminatorForward } from '../src/vqgan/discriminator.js';
import { encoderForward } from '../src/vqgan/encoder.js';
import { generatorAdversarialLoss, reconstructionLoss } from '../src/vqgan/losses.js';
import { quantize } from '../src/vqgan/quantizer.js';
import { Vqgan } from '../src/vqgan/vqgan.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

const tiny: VqganConfig = VQGAN_PRESETS.tiny;
const batch = (seed: number, n = 2, r = tiny.resolution) =>
  tf.randomUniform([n, r, r, 3], -1, 1, 'float32', seed) as tf.Tensor4D;

test.serial('resolveVqganConfig: presets resolve; unknown keys and bad values name the key', (t) => {
  t.is(resolveVqganConfig('default').codebookSize, 8192);
  t.is(resolveVqganConfig(undefined, { codebookSize: 1024 }).codebookSize, 1024);
  const cpu = resolveVqganConfig();
  t.is((cpu.resolution / cpu.internalResolution) * cpu.patchSize * Math.sqrt(256), 256); // 16×16 codes over 256 px
  t.throws(() => resolveVqganConfig(undefined, { codeBookSize: 3 }), {
    code: 'CONFIG_UNKNOWN_KEY',
    message: /codeBookSize/,
  } as never);
  t.throws(() => resolveVqganConfig(undefined, { width: 33.5 }), {
    code: 'CONFIG_BAD_VALUE',
    message: /width/,
  } as never);
  t.throws(() => resolveVqganConfig('tiny', { heads: 5 }), {
    message: /width \(32\) must be divisible by heads \(5\)/,
  });
  t.throws(() => resolveVqganConfig('tiny', { patchSize: 5 }), {
    message: /internalResolution \(16\).*patchSize \(5\)/,
  });
  t.throws(() => resolveVqganConfig('huge'), { message: /preset must be one of/ });
});

test.serial('encodeTensor → decodeTensor: shapes, code range, output in [-1,1] at full resolution', (t) => {
  const m = new Vqgan(tiny, 1);
  const x = batch(1, 3);
  const codes = m.encodeTensor(x);
  t.deepEqual(codes.shape, [3, m.codesPerImage]);
  t.is(m.codesPerImage, 16);
  t.is(codes.dtype, 'int32');
  const c = codes.dataSync();
  t.true(c.every((v) => v >= 0 && v < tiny.codebookSize));
  const y = m.decodeTensor(codes);
  t.deepEqual(y.shape, [3, 32, 32, 3]);
  t.true(y.min().dataSync()[0] >= -1 && y.max().dataSync()[0] <= 1);
  tf.dispose([x, codes, y]);
  m.dispose();
});

test.serial('encoding is deterministic: same seed same weights same codes; another seed differs', (t) => {
  const x = batch(2, 4);
  const [a, b, c] = [1, 1, 2].map((seed) => {
    const m = new Vqgan(tiny, seed);
    const codes = Array.from(m.encodeTensor(x).dataSync());
    const again = Array.from(m.encodeTensor(x).dataSync());
    t.deepEqual(codes, again);
    m.dispose();
    return codes;
  });
  t.deepEqual(a, b);
  t.notDeepEqual(a, c);
  x.dispose();
});

test.serial('ImageTokenizer: uint8 in, Uint16 codes out, uint8 images back; bad inputs name the image', async (t) => {
  const m = new Vqgan(tiny, 3);
  const n = 32 * 32 * 3;
  const imgs = [0, 1, 2].map((k) => Uint8Array.from({ length: n }, (_, i) => (i * (k + 3)) % 256));
  const codes = await m.encode(imgs);
  t.is(codes.length, 3);
  t.true(codes.every((c) => c instanceof Uint16Array && c.length === 16));
  t.deepEqual(
    Array.from(codes[1]),
    Array.from(
      m
        .encodeTensor(
          tf.tensor4d(
            Float32Array.from(imgs[1], (v) => v / 127.5 - 1),
            [1, 32, 32, 3],
          ),
        )
        .dataSync(),
    ),
  );
  const back = await m.decode(codes);
  t.true(back.every((b) => b instanceof Uint8Array && b.length === n));
  const before = tf.memory().numTensors;
  await m.decode(await m.encode(imgs));
  t.is(tf.memory().numTensors, before);
  await t.throwsAsync(m.encode([new Uint8Array(10)]), {
    code: 'INPUT_BAD_RECORD',
    message: /image 0 has 10 bytes/,
  } as never);
  await t.throwsAsync(m.decode([new Uint16Array(16).fill(64)]), { message: /code 0 is 64, codebook has 64/ });
  m.dispose();
});

test.serial('adaptive weight λ equals ‖∇_W L_rec‖ / (‖∇_W L_GAN‖ + 1e-4) computed independently', (t) => {
  const cfg = { ...tiny, resolution: 16, discStart: 0, ganWeight: 1 };
  const m = new Vqgan(cfg, 4);
  const x = batch(3, 2, 16);
  const W = m.decoder.toPixels.w;
  const norm = (f: () => tf.Scalar) => {
    const { value, grads } = tf.variableGrads(f, [W]);
    const v = grads[W.name].norm().dataSync()[0];
    tf.dispose([value, grads[W.name]]);
    return v;
  };
  const y = () => decoderForward(m.decoder, cfg, quantize(m.quantizer, encoderForward(m.encoder, cfg, x), cfg.beta).zq);
  const rec = norm(() => reconstructionLoss(cfg, x, y()).total);
  const gan = norm(() => generatorAdversarialLoss(discriminatorForward(m.discriminator, y())));
  const r = m.trainStep(x, 0);
  const expected = rec / (gan + 1e-4);
  t.true(Number.isFinite(r.adaptiveWeight) && r.adaptiveWeight > 0);
  t.true(Math.abs(r.adaptiveWeight - expected) <= 1e-4 * expected, `λ ${r.adaptiveWeight} vs ${expected}`);
  t.true(Number.isFinite(r.discLoss) && r.discLoss > 0);
  x.dispose();
  m.dispose();
});

for (const gan of [false, true]) {
  test.serial(`trainStep leaks no tensors after warm-up (GAN ${gan ? 'on' : 'off'})`, (t) => {
    const m = new Vqgan({ ...tiny, discStart: gan ? 0 : 1e6, deadCodeSteps: 1 }, 5);
    const x = batch(4);
    m.trainStep(x, 0); // creates Adam slots
    const before = tf.memory().numTensors;
    const r = m.trainStep(x, 1);
    m.trainStep(x, 2);
    t.is(tf.memory().numTensors, before);
    t.true(Number.isFinite(r.loss) && r.usage.usedFraction > 0 && r.usage.perplexity >= 1);
    t.is(r.ganLoss !== 0, gan);
    x.dispose();
    m.dispose();
  });
}

test.serial('optimizer state round trip: a restored copy takes the same next step as the original', async (t) => {
  const cfg = { ...tiny, discStart: 1 };
  const [a, b, c] = [new Vqgan(cfg, 6), new Vqgan(cfg, 6), new Vqgan(cfg, 6)];
  const x = batch(5);
  a.trainStep(x, 0);
  a.trainStep(x, 1); // discriminator slots exist too
  const state = await a.getOptimizerState();
  t.true(state.some((w) => w.name === 'generator/decoder.toPixels.w/m'));
  t.true(state.some((w) => w.name === 'discriminator/discriminator.convs.0.w/v'));
  for (const m of [b, c]) {
    for (const [k, v] of a.params()) m.params().get(k)!.assign(v);
    m.deadCodes.lastUsed.set(a.deadCodes.lastUsed);
  }
  await b.setOptimizerState(state); // c keeps fresh Adam state: the control
  const [ra, rb] = [a.trainStep(x, 2), b.trainStep(x, 2)];
  c.trainStep(x, 2);
  t.is(ra.loss, rb.loss);
  const w = (m: Vqgan) => m.params().get('decoder.toPixels.w')!.dataSync();
  const maxDiff = (p: ArrayLike<number>, q: ArrayLike<number>) =>
    Array.from(p).reduce((s, v, i) => Math.max(s, Math.abs(v - q[i])), 0);
  // not bit-equal: setWeights recomputes Adam's β^t with pow() where the original multiplied step by step
  t.true(maxDiff(w(a), w(b)) < 1e-7, `restored ${maxDiff(w(a), w(b))}`);
  t.true(maxDiff(w(a), w(c)) > 1e-5, `control ${maxDiff(w(a), w(c))}`);
  const bad = state.map((s) => (s.name === 'generator/decoder.toPixels.w/m' ? { ...s, name: 'generator/oops/m' } : s));
  await t.throwsAsync(b.setOptimizerState(bad), { code: 'CHECKPOINT_CORRUPT' } as never);
  tf.dispose(state.filter((s) => s.name.endsWith('iter')).map((s) => s.tensor));
  x.dispose();
  [a, b, c].forEach((m) => m.dispose());
});
