// readSources over real inputs built in a temp dir: a folder (order, kinds, skips), WARC.gz and
// plain WARC written by hand (one gzip member per record, as Common Crawl does), JSONL(.gz) with
// base64 images, and the broken cases (truncated WARC, bad JSONL lines, missing input).

import test from 'ava';
import { mkdtemp, mkdir, rm, writeFile, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { readSources, newSourceStats, type SourceStats } from '../src/data/sources.js';
import type { RawDocument } from '../src/data/document.js';
import { fileKindForPath } from '../src/data/walk.js';
import { HyperlmError } from '../src/errors.js';
import { warcRecord, warcResponse } from './helpers/warc.js';

let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hyperlm-sources-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(inputs: string[], extra: object = {}): Promise<{ docs: RawDocument[]; stats: SourceStats }> {
  const stats = newSourceStats();
  const docs: RawDocument[] = [];
  for await (const doc of readSources(inputs, { stats, ...extra })) docs.push(doc);
  return { docs, stats };
}

const png1 = Buffer.from('\x89PNG-one', 'latin1');
const png2 = Buffer.from('\x89PNG-two', 'latin1');

function sampleWarcRecords(): Buffer[] {
  return [
    warcRecord('warcinfo', '', 'application/warc-fields', Buffer.from('software: test\r\n')),
    warcResponse(
      'https://ex.com/a.html',
      'text/html; charset=utf-8',
      '<html><img src="/img/one.png"><img src="https://cdn.ex.com/two.png"></html>',
    ),
    warcResponse('https://ex.com/style.css', 'text/css', 'p{}'),
    warcResponse(
      'https://ex.com/b.html',
      'text/html',
      gzipSync('<p>zipped <img src="nothing.png"></p>'),
      'Content-Encoding: gzip\r\n',
    ),
    warcResponse('https://ex.com/gone.html', 'text/html', 'not found', '', '404 Not Found'),
    // Images after the page that uses them.
    warcResponse('https://ex.com/img/one.png', 'image/png', png1),
    warcResponse('https://cdn.ex.com/two.png', 'image/png', png2),
  ];
}

test('a missing input throws INPUT_NOT_FOUND before anything is yielded', async (t) => {
  await mkdir(path.join(dir, 'exists'), { recursive: true });
  const err = await t.throwsAsync(collect([path.join(dir, 'exists'), path.join(dir, 'nope')]));
  t.true(err instanceof HyperlmError && err.code === 'INPUT_NOT_FOUND' && err.message.includes('nope'), String(err));
});

test('a folder is walked recursively in byte order, with kinds, languages and counted skips', async (t) => {
  const root = path.join(dir, 'site');
  const files: Record<string, string> = {
    'index.html': '<p>home</p>',
    'a-c.htm': 'x',
    'a/b.xhtml': 'y',
    'B.html': 'upper',
    'lib/main.py': 'print(1)',
    'lib/x.ts': 'let a = 1',
    'notes.txt': 'skip me',
    LICENSE: 'MIT',
    '.git/config.html': 'hidden',
    'node_modules/m/index.js': 'hidden',
    'big.html': 'z'.repeat(2000),
  };
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await writeFile(path.join(root, rel), content);
  }
  await symlink('/etc/passwd', path.join(root, 'passwd.html'));
  const { docs, stats } = await collect([root], { maxFileBytes: 1000 });
  // Byte order of relPath: uppercase first, `a-c` (0x2D) before `a/` (0x2F).
  t.deepEqual(
    docs.map((d) => d.relPath),
    ['B.html', 'a-c.htm', 'a/b.xhtml', 'index.html', 'lib/main.py', 'lib/x.ts'],
  );
  t.deepEqual(
    docs.map((d) => d.index),
    [0, 1, 2, 3, 4, 5],
  );
  t.deepEqual(
    docs.map((d) => `${d.kind}:${d.language}`),
    ['html:html', 'html:html', 'html:html', 'html:html', 'code:python', 'code:typescript'],
  );
  const home = docs[3];
  t.is(Buffer.from(home.bytes).toString(), '<p>home</p>');
  t.is(home.root, root);
  t.is(home.filePath, path.join(root, 'index.html'));
  t.is(home.source, path.join(root, 'index.html'));
  t.deepEqual(stats.skipped, { 'extension .txt': 1, 'no-extension': 1, 'too-large': 1, symlink: 1 });
  // Files known by name (Makefile, Dockerfile) are code: see languageForPath.
  t.deepEqual(fileKindForPath('/x/Makefile'), { kind: 'code', language: 'makefile' });
  t.is(stats.documents, 6);

  const htmlOnly = await collect([root], { includeCode: false });
  t.is(htmlOnly.docs.filter((d) => d.kind === 'code').length, 0);
  t.is(htmlOnly.stats.skipped['code-disabled'], 2);

  const single = await collect([path.join(root, 'lib', 'main.py')]);
  t.is(single.docs.length, 1);
  t.is(single.docs[0].relPath, 'main.py');
  t.is(single.docs[0].root, path.join(root, 'lib'));
});

test('WARC.gz (per-record gzip) and plain WARC: HTML responses become pages carrying the images they mention', async (t) => {
  const gz = path.join(dir, 'cc.warc.gz');
  const plain = path.join(dir, 'plain.warc');
  await writeFile(gz, Buffer.concat(sampleWarcRecords().map((r) => gzipSync(r))));
  await writeFile(plain, Buffer.concat(sampleWarcRecords()));
  for (const file of [gz, plain]) {
    const { docs, stats } = await collect([file]);
    t.deepEqual(
      docs.map((d) => d.url),
      ['https://ex.com/a.html', 'https://ex.com/b.html'],
      file,
    );
    t.deepEqual(
      docs.map((d) => d.index),
      [0, 1],
    );
    t.is(docs[0].source, `${file}#https://ex.com/a.html`);
    t.is(docs[0].kind, 'html');
    t.deepEqual(Object.keys(docs[0].images ?? {}).sort(), ['https://cdn.ex.com/two.png', 'https://ex.com/img/one.png']);
    t.deepEqual(Buffer.from(docs[0].images?.['https://ex.com/img/one.png'] ?? []), png1);
    t.is(
      Buffer.from(docs[1].bytes).toString(),
      '<p>zipped <img src="nothing.png"></p>',
      'Content-Encoding: gzip is decoded',
    );
    t.is(docs[1].images, undefined);
    t.deepEqual(stats.skipped, { 'warc-warcinfo': 1, 'warc-not-html': 1, 'warc-status-not-2xx': 1 });
    t.deepEqual(stats.errors, []);
  }
});

test('WARC memory caps: image overflow is counted; pages over the buffer are streamed in a second pass', async (t) => {
  const gz = path.join(dir, 'caps.warc.gz');
  await writeFile(gz, Buffer.concat(sampleWarcRecords().map((r) => gzipSync(r))));
  const { docs, stats } = await collect([gz], { warc: { maxImageBytesPerFile: png1.length, maxPageBufferBytes: 10 } });
  t.deepEqual(
    docs.map((d) => d.url),
    ['https://ex.com/a.html', 'https://ex.com/b.html'],
  );
  t.deepEqual(Object.keys(docs[0].images ?? {}), ['https://ex.com/img/one.png']);
  t.is(stats.skipped['warc-image-over-cap'], 1);
  t.is(stats.skipped['warc-not-html'], 1, 'skips are counted once, not per pass');
});

test('a truncated or corrupt WARC yields the records read so far and counts the error with its offset', async (t) => {
  const records = sampleWarcRecords().map((r) => gzipSync(r));
  const whole = Buffer.concat(records);
  const cut = records[0].length + records[1].length + records[2].length + (records[3].length >> 1);
  const truncated = path.join(dir, 'truncated.warc.gz');
  await writeFile(truncated, whole.subarray(0, cut));
  const a = await collect([truncated]);
  t.deepEqual(
    a.docs.map((d) => d.url),
    ['https://ex.com/a.html'],
  );
  t.is(a.stats.errorCounts.INPUT_BAD_RECORD, 1, JSON.stringify(a.stats.errors));
  t.regex(a.stats.errors[0].where, /truncated\.warc\.gz@\d+$/);

  // Plain WARC cut inside the last record's body: the partial page is dropped, not yielded short.
  const plainRecords = sampleWarcRecords().slice(0, 2);
  const plainCut = path.join(dir, 'cut.warc');
  const plainWhole = Buffer.concat(plainRecords);
  await writeFile(plainCut, plainWhole.subarray(0, plainWhole.length - 30));
  const p = await collect([plainCut]);
  t.deepEqual(
    p.docs.map((d) => d.url),
    [],
  );
  t.is(p.stats.errorCounts.INPUT_BAD_RECORD, 1, JSON.stringify(p.stats.errors));

  // Junk bytes between gzip members (not a gzip stream): reading stops there, the error is counted.
  const junk = path.join(dir, 'junk.warc.gz');
  await writeFile(junk, Buffer.concat([records[0], records[1], Buffer.from('junk \x00\x01\x02 bytes'), records[3]]));
  const b = await collect([junk]);
  t.deepEqual(
    b.docs.map((d) => d.url),
    ['https://ex.com/a.html'],
  );
  t.is(b.stats.errorCounts.INPUT_BAD_RECORD, 1, JSON.stringify(b.stats.errors));
  t.regex(b.stats.errors[0].message, /unparsable bytes/);
});

test('JSONL and JSONL.gz: pages with base64 images; bad lines counted with file:line', async (t) => {
  const lines = [
    JSON.stringify({
      url: 'https://ex.com/1',
      html: '<p>one</p>',
      images: { 'https://ex.com/i.png': png1.toString('base64') },
    }),
    '{"url": "https://ex.com/broken", "html": ',
    '',
    JSON.stringify({ url: 'https://ex.com/2', html: 42 }),
    JSON.stringify({ html: '<p>no url</p>' }),
    JSON.stringify({ url: 'https://ex.com/3', html: 'x', images: { a: '***' } }),
    '[1,2]',
  ].join('\n');
  await writeFile(path.join(dir, 'pages.jsonl'), lines);
  await writeFile(path.join(dir, 'pages.jsonl.gz'), gzipSync(lines));
  for (const name of ['pages.jsonl', 'pages.jsonl.gz']) {
    const file = path.join(dir, name);
    const { docs, stats } = await collect([file]);
    // Line 6's one image is not base64: the image is dropped (counted on the page), the page is kept.
    t.deepEqual(
      docs.map((d) => d.source),
      [`${file}#L1`, `${file}#L5`, `${file}#L6`],
    );
    t.deepEqual(docs[2].imagesDropped, { 'not-base64': 1 });
    t.deepEqual(docs[2].images, {});
    t.is(docs[0].url, 'https://ex.com/1');
    t.is(docs[1].url, undefined);
    t.deepEqual(Buffer.from(docs[0].images?.['https://ex.com/i.png'] ?? []), png1);
    t.is(Buffer.from(docs[1].bytes).toString(), '<p>no url</p>');
    t.is(stats.errorCounts.INPUT_BAD_RECORD, 3);
    t.deepEqual(
      stats.errors.map((e) => e.where),
      [2, 4, 7].map((n) => `${file}:${n}`),
    );
  }
  const cut = path.join(dir, 'cut.jsonl.gz');
  const zipped = gzipSync(
    Array.from({ length: 200 }, (_, i) => JSON.stringify({ html: `<p>${i} ${'word '.repeat(20)}</p>` })).join('\n'),
  );
  await writeFile(cut, zipped.subarray(0, zipped.length >> 1));
  const c = await collect([cut]);
  t.true(c.docs.length > 0 && c.docs.length < 200, `${c.docs.length} docs before the cut`);
  t.is(c.stats.errorCounts.INPUT_UNREADABLE, 1);
});

test('several inputs are read in sorted path order with one running index', async (t) => {
  const root = path.join(dir, 'multi');
  await mkdir(path.join(root, 'b'), { recursive: true });
  await writeFile(path.join(root, 'b', 'p.html'), 'b');
  await writeFile(path.join(root, 'a.jsonl'), JSON.stringify({ html: 'a1' }) + '\n' + JSON.stringify({ html: 'a2' }));
  await writeFile(path.join(root, 'c.warc.gz'), gzipSync(warcResponse('https://ex.com/c', 'text/html', 'c')));
  const inputs = ['c.warc.gz', 'b', 'a.jsonl'].map((n) => path.join(root, n));
  const { docs } = await collect(inputs);
  t.deepEqual(
    docs.map((d) => Buffer.from(d.bytes).toString()),
    ['a1', 'a2', 'b', 'c'],
  );
  t.deepEqual(
    docs.map((d) => d.index),
    [0, 1, 2, 3],
  );
  // The same folder, walked as one input, dispatches containers by extension too.
  const whole = await collect([root]);
  t.deepEqual(
    whole.docs.map((d) => Buffer.from(d.bytes).toString()),
    ['a1', 'a2', 'b', 'c'],
  );
  t.is(whole.docs[2].relPath, 'b/p.html');
});
