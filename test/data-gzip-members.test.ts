// The native gzip member reader (src/data/gzip-members.ts) and the WARC reader built on it, checked
// against independent references: Node's own gunzip for the bytes, and warcio reading the same file
// by itself (pako) for the records and their offsets. Also the `images: false` one-pass stream.
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { WARCParser } from 'warcio';
import { gzipMembers, GzipMemberError } from '../src/data/gzip-members.js';
import { readWarc, defaultWarcOptions, type WarcPage } from '../src/data/warc.js';
import { newSourceStats } from '../src/data/sources.js';
import { Rng } from '../src/rng.js';
import { warcRecord, warcResponse } from './helpers/warc.js';

let dir: string;
test.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hyperlm-gzip-members-'));
});
test.after.always(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A gzip member with the optional header fields of RFC 1952 set (FEXTRA, FNAME, FCOMMENT), as some writers emit. */
function gzipWithHeaderFields(data: Buffer): Buffer {
  const plain = gzipSync(data);
  const extra = Buffer.from([4, 0, 0x41, 0x42, 0x43, 0x44]); // XLEN 4, then 4 bytes
  const header = Buffer.from(plain.subarray(0, 10));
  header[3] = 4 | 8 | 16;
  return Buffer.concat([header, extra, Buffer.from('name.warc\0comment\0'), plain.subarray(10)]);
}

async function members(
  file: string,
  max = 1 << 20,
): Promise<{ got: Array<{ offset: number; data: Buffer }>; err?: GzipMemberError }> {
  const got: Array<{ offset: number; data: Buffer }> = [];
  try {
    for await (const m of gzipMembers(file, max)) got.push(m);
  } catch (err) {
    if (!(err instanceof GzipMemberError)) throw err;
    return { got, err };
  }
  return { got };
}

test('members of a multi-member gzip: offsets, bytes equal to gunzip, header fields, members across read blocks', async (t) => {
  const rng = Rng.fromSeed(3);
  // Incompressible members of up to ~1.5 MB, so that some straddle the reader's 4 MB blocks.
  const datas = Array.from({ length: 12 }, (_, i) =>
    Buffer.from(Array.from({ length: 1000 + rng.int(1_500_000) }, () => rng.int(256))).fill(i, 0, 1),
  );
  const parts = datas.map((d, i) => (i % 3 === 1 ? gzipWithHeaderFields(d) : gzipSync(d)));
  const file = path.join(dir, 'multi.gz');
  const whole = Buffer.concat(parts);
  await writeFile(file, whole);
  const { got, err } = await members(file, 2 << 20);
  t.is(err, undefined);
  t.deepEqual(
    got.map((m) => m.offset),
    parts.map((_, i) => parts.slice(0, i).reduce((a, p) => a + p.length, 0)),
  );
  t.true(
    Buffer.concat(got.map((m) => m.data)).equals(gunzipSync(whole)),
    'the same bytes as zlib gunzip of the whole file',
  );
});

test('a truncated, corrupt, non-gzip or oversized member stops the reader at its offset, after the good ones', async (t) => {
  const parts = ['one', 'two', 'three'].map((s) => gzipSync(Buffer.from(s.repeat(500))));
  const at2 = parts[0].length + parts[1].length;
  const cases: Array<[string, Buffer, GzipMemberError['reason'], number, number]> = [
    ['truncated', Buffer.concat(parts).subarray(0, at2 + 12), 'truncated', at2, 2],
    ['trailer cut', Buffer.concat(parts).subarray(0, Buffer.concat(parts).length - 3), 'truncated', at2, 2],
    ['junk', Buffer.concat([parts[0], parts[1], Buffer.from('junk bytes here')]), 'not-gzip', at2, 2],
    ['first bytes not gzip', Buffer.from('WARC/1.0\r\n'), 'not-gzip', 0, 0],
  ];
  const badCrc = Buffer.concat(parts);
  badCrc[at2 + parts[2].length - 6] ^= 0xff; // inside the CRC32 of the last member
  cases.push(['bad CRC', badCrc, 'corrupt', at2, 2]);
  for (const [name, bytes, reason, offset, good] of cases) {
    const file = path.join(dir, `${name.replace(/ /g, '-')}.gz`);
    await writeFile(file, bytes);
    const { got, err } = await members(file);
    t.is(got.length, good, name);
    t.is(err?.reason, reason, name);
    t.is(err?.offset, offset, name);
  }
  const big = path.join(dir, 'big.gz');
  await writeFile(big, Buffer.concat([parts[0], gzipSync(Buffer.alloc(5000, 'x'))]));
  const { got, err } = await members(big, 4000);
  t.is(got.length, 1);
  t.is(err?.reason, 'too-large');
  t.is(err?.offset, parts[0].length);
});

function crawlRecords(n: number): Buffer[] {
  const out = [warcRecord('warcinfo', '', 'application/warc-fields', Buffer.from('software: test\r\n'))];
  for (let i = 0; i < n; i++) {
    const url = `https://site-${i % 7}.example/page-${i}.html`;
    out.push(
      i % 5 === 4
        ? warcResponse(`https://site-${i % 7}.example/i${i}.png`, 'image/png', `\x89PNG-${i}`)
        : warcResponse(url, 'text/html; charset=utf-8', `<html><p>page ${i} ${'words '.repeat(i % 40)}</p></html>`),
    );
  }
  return out;
}

/** warcio reading the file by itself: the reference for which records a file holds and their offsets. */
async function warcioPages(file: string): Promise<Array<{ url: string; offset: number; bytes: string }>> {
  const parser = new WARCParser(createReadStream(file));
  const out: Array<{ url: string; offset: number; bytes: string }> = [];
  for await (const record of parser) {
    const type = record.httpHeaders?.headers.get('content-type') ?? '';
    if (record.warcType !== 'response' || !type.includes('text/html')) continue;
    out.push({
      url: record.warcTargetURI!,
      offset: parser.offset,
      bytes: Buffer.from(await record.readFully(true)).toString(),
    });
  }
  return out;
}

async function readPages(
  file: string,
  opts = defaultWarcOptions,
): Promise<{ pages: WarcPage[]; stats: ReturnType<typeof newSourceStats> }> {
  const stats = newSourceStats();
  const pages: WarcPage[] = [];
  for await (const p of readWarc(file, opts, stats)) pages.push(p);
  return { pages, stats };
}

test('WARC.gz read member by member gives warcio’s records and offsets; a whole-file gzip and a plain WARC too', async (t) => {
  const records = crawlRecords(60);
  const files = {
    perRecord: [path.join(dir, 'cc.warc.gz'), Buffer.concat(records.map((r) => gzipSync(r)))],
    wholeFile: [path.join(dir, 'whole.warc.gz'), gzipSync(Buffer.concat(records))],
    plain: [path.join(dir, 'plain.warc'), Buffer.concat(records)],
  } as const;
  for (const [name, [file, bytes]] of Object.entries(files)) {
    await writeFile(file, bytes);
    const reference = await warcioPages(file);
    t.is(reference.length, 48, name);
    // Inside one member holding many records warcio's offsets depend on how the stream was chunked;
    // hyperlm names the member, as for one record per member: offset 0 for a whole-file gzip.
    const expected = name === 'wholeFile' ? reference.map((p) => ({ ...p, offset: 0 })) : reference;
    const { pages, stats } = await readPages(file);
    t.deepEqual(
      pages.map((p) => ({ url: p.url, offset: p.offset, bytes: Buffer.from(p.bytes).toString() })),
      expected,
      name,
    );
    t.deepEqual(stats.errors, [], name);
    // Without images: the same pages, none carrying images, in one pass (the page buffer plays no part).
    const lean = await readPages(file, { ...defaultWarcOptions, images: false, maxPageBufferBytes: 10 });
    t.deepEqual(
      lean.pages.map((p) => [p.url, p.offset, p.images]),
      expected.map((p) => [p.url, p.offset, undefined]),
      name,
    );
    t.deepEqual(lean.stats.skipped, stats.skipped, `${name}: the same skips`);
  }
  // Pages that mention images still get them (the first page mentions none; build one that does).
  const withImage = path.join(dir, 'img.warc.gz');
  await writeFile(
    withImage,
    Buffer.concat(
      [
        warcResponse('https://a.example/p.html', 'text/html', '<img src="/x.png">'),
        warcResponse('https://a.example/x.png', 'image/png', '\x89PNG-x'),
      ].map((r) => gzipSync(r)),
    ),
  );
  const { pages } = await readPages(withImage);
  t.deepEqual(Object.keys(pages[0].images ?? {}), ['https://a.example/x.png']);
});

test('a WARC.gz whose member is too large for memory falls back to streaming at that member', async (t) => {
  // Per-record members, then one member holding the other records (as a whole-file gzip does) over maxMemberBytes.
  const records = crawlRecords(20);
  const head = records.slice(0, 8).map((r) => gzipSync(r));
  const tail = gzipSync(Buffer.concat(records.slice(8)));
  const file = path.join(dir, 'mixed.warc.gz');
  await writeFile(file, Buffer.concat([...head, tail]));
  const tailAt = head.reduce((a, m) => a + m.length, 0);
  const reference = await warcioPages(file);
  const inHead = reference.filter((p) => p.offset < tailAt);
  t.is(inHead.length, 6);
  for (const maxMemberBytes of [defaultWarcOptions.maxMemberBytes, 1000]) {
    const { pages, stats } = await readPages(file, { ...defaultWarcOptions, maxMemberBytes });
    const what = `maxMemberBytes ${maxMemberBytes}`;
    t.deepEqual(
      pages.map((p) => p.url),
      reference.map((p) => p.url),
      what,
    );
    t.deepEqual(
      pages.slice(0, 6).map((p) => p.offset),
      inHead.map((p) => p.offset),
      what,
    );
    // Held in memory, the tail's records name its member; streamed (over the cap), warcio's offsets from there on.
    const tail = pages.slice(6).map((p) => p.offset);
    if (maxMemberBytes > 1000)
      t.true(
        tail.every((o) => o === tailAt),
        what,
      );
    else
      t.true(
        tail.every((o, i) => o >= tailAt && (i === 0 || o >= tail[i - 1])),
        what,
      );
    t.deepEqual(stats.errors, [], what);
  }
  t.true(gunzipSync(tail).length > 1000, 'the last member is over the small cap');
});
