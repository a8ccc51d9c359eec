// The VQGAN training loop on real PNGs (tiny preset, pure-JS cpu backend): exact resume (N steps equal
// N/2 + resume + N/2, loss by loss, and the final weights bit for bit), determinism of fresh runs, SIGINT
// (abort) checkpoints, what a checkpoint holds, and that held-out images are never trained on.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { mkdirSync, readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers/fixtures.js';
import {
  ImageBatcher,
  isHeldOut,
  listImageFiles,
  resolveVqganRun,
  splitImageFiles,
  trainVqgan,
  type VqganRunConfig,
} from '../src/vqgan/index.js';
import { gradientImage } from './helpers/images.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

/** 12 PNGs of smooth random colour gradients (two subfolders, one JPEG, one non-image file). */
async function imageFolder(): Promise<string> {
  const dir = tempDir('vqgan-images');
  mkdirSync(join(dir, 'a'));
  mkdirSync(join(dir, 'b'));
  for (let i = 0; i < 12; i++) {
    const name = join(dir, i % 2 ? 'a' : 'b', `img-${i}.${i === 5 ? 'jpg' : 'png'}`);
    writeFileSync(name, await gradientImage(40 + 3 * i, 36 + 2 * i, i, i === 5 ? 'jpeg' : 'png'));
  }
  writeFileSync(join(dir, 'notes.txt'), 'not an image');
  return dir;
}

function config(steps: number, over: Record<string, number> = {}): VqganRunConfig {
  return resolveVqganRun('tiny', {
    steps,
    batchSize: 3,
    checkpointEvery: 100,
    evalEvery: 0,
    heldOut: 0.25,
    deadCodeSteps: 2,
    ...over,
  });
}

test('N steps equal N/2 + resume + N/2 exactly; fresh runs are deterministic', async (t) => {
  const images = [await imageFolder()];
  const full = tempDir('vq-full'),
    half = tempDir('vq-half'),
    again = tempDir('vq-again');
  const a = await trainVqgan({ runDir: full, config: config(6), images });
  t.is(a.losses.length, 6);
  const b1 = await trainVqgan({ runDir: half, config: config(6), images, stopAt: 3 });
  t.is(b1.step, 3);
  const b2 = await trainVqgan({ runDir: half, config: config(6), images, resume: true });
  t.deepEqual([...b1.losses, ...b2.losses], a.losses);
  const c = await trainVqgan({ runDir: again, config: config(6), images });
  t.deepEqual(c.losses, a.losses);
  t.true(a.losses.every(Number.isFinite));
  // Same final weights and optimizer state, byte for byte.
  for (const f of ['model.safetensors', 'optimizer.safetensors']) {
    t.true(
      readFileSync(join(full, 'checkpoints/step-000006', f)).equals(
        readFileSync(join(half, 'checkpoints/step-000006', f)),
      ),
      f,
    );
  }
  // metrics.jsonl has one line per step with the documented fields (the resumed run continues it).
  const lines = readFileSync(join(half, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, number>);
  t.deepEqual(
    lines.map((l) => l.step),
    [1, 2, 3, 4, 5, 6],
  );
  for (const k of ['loss', 'l1', 'l2', 'psnr', 'usedFraction', 'perplexity', 'restarted'])
    t.true(Number.isFinite(lines[5][k]), k);
  t.true(
    lines.some((l) => l.restarted > 0),
    'dead codes were restarted (deadCodeSteps 2), and still resumed exactly',
  );
  t.true(existsSync(join(half, 'loss.png')) && existsSync(join(half, 'psnr.png')));
  // Without --resume an existing run is refused.
  await t.throwsAsync(trainVqgan({ runDir: full, config: config(6), images }), { message: /--resume/ });
});

test('an abort (SIGINT) checkpoints after the current step; the checkpoint holds data position, RNG and tracker', async (t) => {
  const images = [await imageFolder()];
  const run = tempDir('vq-abort');
  const ac = new AbortController();
  const r = await trainVqgan({
    runDir: run,
    config: config(50),
    images,
    signal: ac.signal,
    onStep: (s) => {
      if (s === 2) ac.abort();
    },
  });
  t.is(r.stopped, 'interrupted');
  t.is(r.step, 2);
  t.deepEqual(JSON.parse(readFileSync(join(run, 'checkpoints/latest.json'), 'utf8')), { step: 2, dir: 'step-000002' });
  const state = JSON.parse(readFileSync(join(run, 'checkpoints/step-000002/state.json'), 'utf8'));
  t.is(state.step, 2);
  t.deepEqual(Object.keys(state.data).sort(), ['cursor', 'epoch', 'rng']);
  t.is(state.data.cursor + state.data.epoch * 9, 6, 'two batches of 3 from the 9 training images');
  t.is(state.deadCodes.lastUsed.length, 64);
  t.is(state.config.model.codebookSize, 64);
  t.false(readdirSync(join(run, 'checkpoints')).some((n) => n.startsWith('.tmp')));
});

test('held-out images (by path hash) are never in a training batch', async (t) => {
  const dir = await imageFolder();
  const files = await listImageFiles([dir]);
  t.is(files.length, 12, 'png and jpg found recursively, notes.txt ignored');
  const split = splitImageFiles(files, 0.25);
  t.true(split.heldOut.length > 0 && split.train.length > 0);
  t.deepEqual(
    split.heldOut.map((f) => f.relPath),
    files.filter((f) => isHeldOut(f.relPath, 0.25)).map((f) => f.relPath),
  );
  // Each training image is loaded as a distinct solid colour; batches only ever contain training colours.
  const colours = new Map<number, string>();
  const solidDir = tempDir('vq-solid');
  for (const [i, f] of files.entries()) {
    const v = 10 + i * 20;
    await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: v, g: v, b: v } } })
      .png()
      .toFile(join(solidDir, `${f.relPath.replace(/\//g, '_')}`));
    colours.set(v, f.relPath);
  }
  const solid = splitImageFiles(await listImageFiles([solidDir]), 0.25);
  const batcher = new ImageBatcher(solid.train, {
    size: 8,
    cropScale: 1.25,
    flipProbability: 0.5,
    seed: 3,
    maxImagePixels: 1e6,
  });
  const seen = new Set<number>();
  for (let i = 0; i < 10; i++) {
    const px = await batcher.next(4);
    for (let k = 0; k < 4; k++) seen.add(Math.round((px[k * 8 * 8 * 3] + 1) * 127.5));
  }
  const trainValues = new Set(
    solid.train.map((f) => 10 + files.findIndex((g) => g.relPath.replace(/\//g, '_') === f.relPath) * 20),
  );
  t.deepEqual([...seen].sort(), [...trainValues].sort(), 'every training image appears, no held-out one does');
});
