// Where train:vqgan finds images (src/vqgan/image-files.ts): besides image files, a preprocess input —
// a folder of HTML pages (their <img>, resolved inside the input root: a page's reference to an image
// file is the same image, an extension-less file and a data: URI are new ones, remote and escaping
// references are dropped by reason), WARC.gz image records (with or without a page mentioning them) and
// the base64 images of JSONL records (a URL seen before is listed once). Keys — and so the held-out
// split — do not depend on where the input lies; a short training run reads WARC and JSONL images.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  describeImageList,
  listImageFiles,
  loadImage,
  newImageListStats,
  pageImageSources,
  readImageBytes,
  resolveVqganRun,
  splitImageFiles,
  trainVqgan,
} from '../src/vqgan/index.js';
import { tempDir } from './helpers/fixtures.js';
import { gradientImage } from './helpers/images.js';
import { warcRecord, warcResponse } from './helpers/warc.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

interface Fixture {
  site: string;
  warc: string;
  jsonl: string;
  bytes: Record<string, Buffer>;
}

async function fixture(): Promise<Fixture> {
  const dir = tempDir('vq-inputs');
  const bytes: Record<string, Buffer> = {};
  for (const [i, name] of ['a', 'b', 'blob', 'data', 'one', 'two', 'three', 'outside'].entries())
    bytes[name] = await gradientImage(30 + i, 28 + i, i, name === 'b' ? 'jpeg' : 'png');
  const site = join(dir, 'site');
  mkdirSync(join(site, 'img'), { recursive: true });
  mkdirSync(join(site, 'pages'));
  writeFileSync(join(site, 'img/a.png'), bytes.a);
  writeFileSync(join(site, 'img/b.jpg'), bytes.b);
  writeFileSync(join(site, 'blob'), bytes.blob); // an image without an extension: only a page reveals it
  writeFileSync(join(dir, 'outside.png'), bytes.outside);
  symlinkSync(join(dir, 'outside.png'), join(site, 'link.png'));
  writeFileSync(
    join(site, 'pages/index.html'),
    '<html><body>' +
      '<img src="../img/a.png"><img src="/blob"><img src="data:image/png;base64,' +
      bytes.data.toString('base64') +
      '">' +
      '<img src="https://cdn.example.com/x.png"><img src="/link.png"><img data-src="../img/b.jpg">' +
      '<img srcset="../img/a.png 1x, /blob 2x"><img src="/missing.png"></body></html>',
  );
  const warc = join(dir, 'crawl.warc.gz');
  writeFileSync(
    warc,
    Buffer.concat(
      [
        warcRecord('warcinfo', '', 'application/warc-fields', Buffer.from('software: test\r\n')),
        warcResponse('https://ex.com/page.html', 'text/html', '<img src="/i/one.png">'),
        warcResponse('https://ex.com/i/one.png', 'image/png', bytes.one),
        warcResponse('https://cdn.ex.com/two.png', 'image/png', bytes.two), // no page mentions it
        warcResponse('https://ex.com/gone.png', 'image/png', bytes.two, '', '404 Not Found'),
      ].map((r) => gzipSync(r)),
    ),
  );
  const jsonl = join(dir, 'pages.jsonl');
  writeFileSync(
    jsonl,
    [
      {
        url: 'https://ex.com/j.html',
        html: '<img src="/i/one.png"><img src="three.png">',
        images: {
          'https://ex.com/i/one.png': bytes.one.toString('base64'),
          'https://ex.com/three.png': bytes.three.toString('base64'),
        },
      },
      { url: 'https://ex.com/k.html', html: '<p>no images</p>' },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n') + '\n',
  );
  return { site, warc, jsonl, bytes };
}

test('page <img> references: src, data-src, largest srcset candidate, first <base href>', (t) => {
  t.deepEqual(
    pageImageSources(
      '<base href="/x/"><base href="/y/"><img src=" a.png "><img data-src="b.png"><img srcset="c.png 1x, d.png 2x"><img alt="none"><IMG SRC="e.png">',
    ),
    { srcs: ['a.png', 'b.png', 'd.png', 'e.png'], baseHref: '/x/' },
  );
});

test('a folder of pages and images, a WARC.gz and a JSONL: every image once, by a stable key', async (t) => {
  const f = await fixture();
  const stats = newImageListStats();
  const files = await listImageFiles([f.site, f.warc, f.jsonl], stats);
  const dataKey = files.find((x) => x.relPath.startsWith('sha256:'))?.relPath;
  t.deepEqual(
    files.map((x) => x.relPath),
    [
      'img/a.png',
      'img/b.jpg',
      'blob',
      dataKey!,
      'https://ex.com/i/one.png',
      'https://cdn.ex.com/two.png',
      'https://ex.com/three.png',
    ],
    'files in walk order, then what the page adds, then the WARC records, then JSONL images not seen before',
  );
  t.regex(dataKey!, /^sha256:[0-9a-f]{64}$/);
  t.like(stats, { files: 2, pages: 1, fromPages: 2, fromContainers: 3, duplicates: 4 });
  t.deepEqual(stats.dropped, { remote: 1, 'outside-root': 1, missing: 1 });
  t.regex(describeImageList(stats), /^7 images \(2 files, 2 more via 1 pages' <img>, 3 from WARC\/JSONL\); not used: /);
  const expected = [f.bytes.a, f.bytes.b, f.bytes.blob, f.bytes.data, f.bytes.one, f.bytes.two, f.bytes.three];
  for (const [i, file] of files.entries()) {
    const b = await readImageBytes(file);
    t.true(b !== undefined && Buffer.from(b).equals(expected[i]), `bytes of ${file.relPath}`);
    t.false('drop' in (await loadImage(b!, { size: 16 }, file.relPath)), `${file.relPath} decodes`);
  }
  t.is(files.filter((x) => x.bytes !== undefined).length, 4, 'only data: URIs and container images are held in memory');

  // The same inputs elsewhere, under other names: same keys, so the same held-out split.
  const elsewhere = tempDir('vq-inputs-moved');
  cpSync(f.site, join(elsewhere, 'copy'), { recursive: true, verbatimSymlinks: true });
  cpSync(f.warc, join(elsewhere, 'other-name.warc.gz'));
  cpSync(f.jsonl, join(elsewhere, 'other.jsonl'));
  const moved = await listImageFiles([
    join(elsewhere, 'copy'),
    join(elsewhere, 'other-name.warc.gz'),
    join(elsewhere, 'other.jsonl'),
  ]);
  t.deepEqual(
    moved.map((x) => x.relPath),
    files.map((x) => x.relPath),
  );
  const keys = (s: { heldOut: { relPath: string }[] }) => s.heldOut.map((x) => x.relPath);
  t.deepEqual(keys(splitImageFiles(moved, 0.5)), keys(splitImageFiles(files, 0.5)));
  t.true(splitImageFiles(files, 0.5).heldOut.length > 0 && splitImageFiles(files, 0.5).train.length > 0);
});

test('a page given as a file resolves its images against its own folder; an image file given directly is used as is', async (t) => {
  const f = await fixture();
  const stats = newImageListStats();
  const files = await listImageFiles([join(f.site, 'pages/index.html'), join(f.site, 'blob')], stats);
  // The root is pages/: ../img/a.png is site-root relative (/img/a.png inside pages/) and so missing there.
  t.deepEqual(
    files.map((x) => x.relPath),
    [files[0].relPath, 'blob'],
  );
  t.regex(files[0].relPath, /^sha256:/, 'the data: URI');
  t.is(stats.dropped.missing, 6);
});

test('train:vqgan reads WARC and JSONL images (2 steps, tiny preset)', async (t) => {
  const f = await fixture();
  const config = resolveVqganRun('tiny', { steps: 2, batchSize: 2, evalEvery: 0, heldOut: 0 });
  const lines: string[] = [];
  const r = await trainVqgan({
    runDir: tempDir('vq-inputs-run'),
    config,
    images: [f.warc, f.jsonl],
    log: (l) => lines.push(l),
  });
  t.is(r.losses.length, 2);
  t.true(r.losses.every(Number.isFinite));
  t.true(
    lines.some((l) => l.startsWith('images: 3 images (0 files, 3 from WARC/JSONL); 3 train, 0 held out')),
    lines.join('\n'),
  );
  t.false(
    lines.some((l) => l.startsWith('training images skipped')),
    'every image decoded',
  );
});
