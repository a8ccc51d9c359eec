// Images through the whole preprocessing pipeline with a real (tiny, briefly trained) VQGAN bundle:
// a page with good, odd and broken images → the good ones become <image> codes </image> runs in the
// shard (equal to encoding the file directly), the broken ones are counted drops and the page is kept;
// `inspect --images-out` decodes the runs back to PNGs of the tokenizer's size; a codebook that does not
// match the vocabulary's image block is refused with a clear error.
import test from 'ava';
import { execFile } from 'node:child_process';
import { crc32 } from 'node:zlib';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp, { type Sharp } from 'sharp';
import { preprocess } from '../src/pipeline/preprocess.js';
import { imageCodeRuns, readStoredDocument } from '../src/pipeline/read-document.js';
import { Tokenizer } from '../src/tokenize/tokenizer.js';
import { latestCheckpoint } from '../src/train/index.js';
import { exportBundle, loadImage, loadImageTokenizer, resolveVqganRun, trainVqgan } from '../src/vqgan/index.js';
import { REPO, SAMPLE, tempDir, tinyConfig, walk } from './helpers/fixtures.js';

const run = promisify(execFile);

function noise(w: number, h: number, seed: number, channels: 3 | 4 = 3): Sharp {
  const raw = Buffer.alloc(w * h * channels);
  let s = seed;
  for (let i = 0; i < raw.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    raw[i] = s >>> 24;
  }
  return sharp(raw, { raw: { width: w, height: h, channels } });
}

/** A PNG whose header claims 20000×20000 over an 8×8 body. */
async function bombPng(): Promise<Buffer> {
  const png = Buffer.from(await noise(8, 8, 9).png().toBuffer());
  png.writeUInt32BE(20000, 16);
  png.writeUInt32BE(20000, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

/** The page's images in <img> order: file name, bytes, and whether it must be encoded. */
async function pageImages(): Promise<Array<[string, Buffer, boolean]>> {
  const good = await noise(40, 30, 1).png().toBuffer();
  const red = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#f00' } })
    .png()
    .toBuffer();
  const blue = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#00f' } })
    .png()
    .toBuffer();
  return [
    ['good.png', good, true],
    ['photo.jpg', await noise(50, 60, 2).jpeg().toBuffer(), true],
    ['gray.png', await noise(33, 33, 3).toColourspace('b-w').png().toBuffer(), true],
    ['alpha.png', await noise(30, 30, 4, 4).png().toBuffer(), true],
    ['cmyk.jpg', await noise(30, 30, 5).toColourspace('cmyk').jpeg().toBuffer(), true],
    ['deep.png', await noise(30, 30, 6).toColourspace('rgb16').png().toBuffer(), true],
    [
      'anim.gif',
      await sharp([red, blue], { join: { animated: true } })
        .gif()
        .toBuffer(),
      true,
    ],
    ['one.png', await noise(1, 1, 7).png().toBuffer(), true],
    ['png-named.jpg', await noise(30, 20, 8).png().toBuffer(), true],
    ['again.png', good, true], // same bytes as good.png: the worker cache answers
    ['bomb.png', await bombPng(), false],
    ['truncated.png', good.subarray(0, good.length >> 1), false],
    ['zero.png', Buffer.alloc(0), false],
    [
      'drawing.svg',
      Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
      ),
      false,
    ],
  ];
}

let bundle: string;
test.before(async () => {
  // A tiny VQGAN (32×32 → 16 codes of 64), trained 3 steps on sample images, exported as an F16 bundle.
  const runDir = tempDir('vq-run');
  const images = tempDir('vq-imgs');
  for (const f of walk(SAMPLE)
    .filter((p) => p.endsWith('.png'))
    .slice(0, 12))
    writeFileSync(join(images, f.split('/').pop()!), readFileSync(f));
  await trainVqgan({
    runDir,
    images: [images],
    config: resolveVqganRun('tiny', { steps: 3, batchSize: 4, evalEvery: 0 }),
  });
  bundle = tempDir('vq-bundle');
  await exportBundle(
    (await latestCheckpoint(runDir))!,
    JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')),
    bundle,
  );
});

async function pageInput(): Promise<{ input: string; imgs: Array<[string, Buffer, boolean]> }> {
  const input = tempDir('img-page');
  mkdirSync(join(input, 'site'));
  const imgs = await pageImages();
  for (const [name, bytes] of imgs) writeFileSync(join(input, 'site', name), bytes);
  const tags = imgs.map(([name]) => `<p>Figure ${name}: <img src="${name}" alt="figure ${name}"></p>`).join('\n');
  const text = 'This page explains the figures below in plain words, so that it is a real page. '.repeat(8);
  writeFileSync(
    join(input, 'site', 'page.html'),
    `<html><head><title>Figures</title></head><body><h1>Figures</h1><p>${text}</p>${tags}<img src="missing.png" alt="gone"></body></html>`,
  );
  // Two real pages without images give the tokenizer enough text to train on.
  for (const name of ['git-apply.html', 'git-archive.html'])
    writeFileSync(join(input, 'site', name), readFileSync(join(SAMPLE, 'html/git-doc', name)));
  return { input, imgs };
}

test('a page with good and broken images: codes in shards, drops counted, inspect decodes PNGs of the right size', async (t) => {
  const { input, imgs } = await pageInput();
  const out = tempDir('img-out');
  const m = await preprocess(
    tinyConfig([input], out, { workers: 0, validFraction: 0, images: 'vqgan', vqgan: bundle, imageCodes: 64 }),
  );
  t.is(m.documents.out, 3, JSON.stringify(m.skipped));
  const want = imgs.filter(([, , ok]) => ok);
  t.is(m.images.encoded, want.length, JSON.stringify(m.images));
  t.deepEqual(m.images.dropped, { 'too-large': 1, corrupt: 2, unsupported: 1, missing: 1 });

  const tokenizer = await Tokenizer.load(join(out, 'tokenizer.model'), { imageCodes: 64 });
  let docIndex = 0;
  while (
    imageCodeRuns((await readStoredDocument(out, 'train', docIndex, tokenizer)).original, tokenizer.layout).length === 0
  )
    docIndex++;
  const doc = await readStoredDocument(out, 'train', docIndex, tokenizer);
  const runs = imageCodeRuns(doc.original, tokenizer.layout);
  t.is(runs.length, want.length);
  t.true(runs.every((r) => r.length === 16 && r.every((c) => c < 64)));
  // Independent path: load and encode each file directly; the shard holds exactly those codes.
  const tok = await loadImageTokenizer(bundle);
  for (const [i, [name, bytes]] of want.entries()) {
    const img = await loadImage(bytes, { size: 32 }, name);
    if ('drop' in img) {
      t.fail(`${name}: ${img.detail}`);
      continue;
    }
    t.deepEqual(Array.from(runs[i]), Array.from((await tok.encode([img.rgb]))[0]), name);
  }
  t.deepEqual(Array.from(runs[9]), Array.from(runs[0]), 'duplicate image, same codes');
  t.true(
    tokenizer.decode(doc.original).includes('figure drawing.svg'),
    'the page kept its text and alt of dropped images',
  );

  // The worker-thread path gives the same shard tokens.
  const out2 = tempDir('img-out-w');
  await preprocess(
    tinyConfig([input], out2, {
      workers: 1,
      validFraction: 0,
      images: 'vqgan',
      vqgan: bundle,
      imageCodes: 64,
      tokenizer: join(out, 'tokenizer.model'),
    }),
  );
  t.deepEqual(readFileSync(join(out2, 'train-00000.bin')), readFileSync(join(out, 'train-00000.bin')));

  // inspect decodes the codes back to images (finding the VQGAN in the manifest's config).
  const pngs = tempDir('img-inspect');
  await run(process.execPath, [
    join(REPO, 'dist/scripts/inspect.js'),
    out,
    '--doc',
    String(docIndex),
    '--images-out',
    pngs,
  ]);
  const files = readdirSync(pngs).sort();
  t.is(files.length, want.length);
  for (const f of files) {
    const meta = await sharp(join(pngs, f)).metadata();
    t.deepEqual([meta.width, meta.height, meta.channels], [32, 32, 3], f);
  }
});

test('a VQGAN codebook that does not match the vocabulary image block is refused, naming both sizes', async (t) => {
  const { input } = await pageInput();
  const err = await t.throwsAsync(
    preprocess(
      tinyConfig([input], tempDir('img-bad'), { workers: 0, images: 'vqgan', vqgan: bundle, imageCodes: 8192 }),
    ),
  );
  t.regex(err!.message, /codebook of 64 codes.*imageCodes.*8192/);
});
