// Megatron indexed-dataset shards (src/tokenize/megatron.ts) and their sidecar (src/tokenize/sidecar.ts):
// write → read round trips, parity with an independent numpy reader (test/fixtures/read_megatron.py),
// the on-disk header bytes, validation, corruption detection and the tmp+rename discipline.

import test from 'ava';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IndexedDatasetWriter, IndexedDataset, splitDocument, type ShardDtype } from '../src/shards/megatron.js';
import { SidecarWriter, readSidecar, sidecarPath, type SidecarRecord } from '../src/shards/sidecar.js';
import { HyperlmError } from '../src/errors.js';
import { Rng } from '../src/rng.js';

// dist/test/megatron.test.js → test/fixtures/read_megatron.py in the source tree
const READER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/read_megatron.py');

function tmpPrefix(name: string): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hyperlm-shard-')), name);
}

function hasNumpy(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Documents as lists of sequences; includes a multi-sequence document, a document with no sequences and an empty sequence. */
function sampleDocs(maxToken: number, seed: number): number[][][] {
  const g = Rng.fromSeed(seed);
  const docs: number[][][] = [];
  for (let d = 0; d < 12; d++) {
    const nSeq = d === 3 ? 0 : 1 + g.int(3);
    docs.push(Array.from({ length: nSeq }, () => Array.from({ length: g.int(40) }, () => g.int(maxToken + 1))));
  }
  docs[5][0] = [];
  docs[7] = [[maxToken, 0, maxToken - 1], [1], [2, 3]];
  return docs;
}

async function writeShard(prefix: string, dtype: ShardDtype, docs: number[][][]): Promise<void> {
  const w = new IndexedDatasetWriter(prefix, dtype);
  for (const doc of docs) {
    for (const seq of doc) w.addSequence(seq);
    w.endDocument();
  }
  await w.finalize();
}

function expectedIndex(docs: number[][][], itemSize: number) {
  const sizes = docs.flat().map((s) => s.length);
  const pointers: number[] = [];
  let p = 0;
  for (const n of sizes) {
    pointers.push(p);
    p += n * itemSize;
  }
  const documentIndices = [0];
  for (const d of docs) documentIndices.push(documentIndices[documentIndices.length - 1] + d.length);
  return { sizes, pointers, documentIndices, sequences: docs.flat() };
}

for (const [dtype, maxToken, code, itemSize] of [
  ['uint16', 65535, 8, 2],
  ['int32', 2 ** 31 - 1, 4, 4],
] as const) {
  test(`${dtype}: TS reader and numpy reader return exactly what was written`, async (t) => {
    const prefix = tmpPrefix(`shard_${dtype}`);
    const docs = sampleDocs(maxToken, code);
    await writeShard(prefix, dtype, docs);
    t.deepEqual(
      fs.readdirSync(path.dirname(prefix)).sort(),
      [`shard_${dtype}.bin`, `shard_${dtype}.idx`],
      'no .tmp left behind',
    );
    const exp = expectedIndex(docs, itemSize);

    const ds = await IndexedDataset.open(prefix);
    t.is(ds.dtype, dtype);
    t.is(ds.sequenceCount, exp.sizes.length);
    t.is(ds.documentCount, docs.length);
    for (let i = 0; i < ds.sequenceCount; i++) {
      t.is(ds.sequenceLength(i), exp.sizes[i]);
      t.deepEqual([...(await ds.getSequence(i))], exp.sequences[i]);
    }
    for (let d = 0; d < docs.length; d++)
      t.deepEqual(ds.documentSequences(d), [exp.documentIndices[d], exp.documentIndices[d + 1]]);
    t.deepEqual(
      ds.documentSequences(3),
      [exp.documentIndices[3], exp.documentIndices[3]],
      'document without sequences',
    );
    await ds.close();

    if (!hasNumpy()) {
      t.log('python3 with numpy not available: skipping the independent reader check');
      return;
    }
    const py = JSON.parse(execFileSync('python3', [READER, prefix], { encoding: 'utf8' }));
    t.is(py.dtype, dtype);
    t.is(py.dtype_code, code);
    t.is(py.sequence_count, exp.sizes.length);
    t.is(py.document_count, docs.length + 1);
    t.deepEqual(py.sizes, exp.sizes);
    t.deepEqual(py.pointers, exp.pointers);
    t.deepEqual(py.document_indices, exp.documentIndices);
    t.deepEqual(py.sequences, exp.sequences);
  });
}

test('shards written by numpy the way Megatron writes them read back, and byte-identical to ours', async (t) => {
  if (!hasNumpy()) {
    t.log('python3 with numpy not available: skipping the numpy-written shard check');
    t.pass();
    return;
  }
  for (const dtype of ['uint16', 'int32'] as const) {
    const docs = sampleDocs(dtype === 'uint16' ? 65535 : 2 ** 31 - 1, 99);
    const pyPrefix = tmpPrefix(`py_${dtype}`);
    execFileSync('python3', [READER, '--write', pyPrefix, dtype], { input: JSON.stringify(docs) });
    const ds = await IndexedDataset.open(pyPrefix);
    const got: number[][][] = [];
    for (let d = 0; d < ds.documentCount; d++) {
      const [a, b] = ds.documentSequences(d);
      const seqs: number[][] = [];
      for (let i = a; i < b; i++) seqs.push([...(await ds.getSequence(i))]);
      got.push(seqs);
    }
    await ds.close();
    t.deepEqual(got, docs);
    const tsPrefix = tmpPrefix(`ts_${dtype}`);
    await writeShard(tsPrefix, dtype, docs);
    for (const ext of ['.idx', '.bin'])
      t.true(fs.readFileSync(tsPrefix + ext).equals(fs.readFileSync(pyPrefix + ext)), `${dtype} ${ext} identical`);
  }
});

test('index header bytes match the Megatron layout', async (t) => {
  const prefix = tmpPrefix('hdr');
  await writeShard(prefix, 'uint16', [[[1, 2, 3]], [[4], [5, 6]]]);
  const idx = fs.readFileSync(`${prefix}.idx`);
  const expected = Buffer.concat([
    Buffer.from('MMIDIDX\x00\x00', 'latin1'),
    Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), // version <Q
    Buffer.from([8]), // uint16 <B
    Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), // sequences <Q
    Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]), // document indices <Q (2 documents + leading 0)
    Buffer.from(Int32Array.of(3, 1, 2).buffer),
    Buffer.from(BigInt64Array.of(0n, 6n, 8n).buffer),
    Buffer.from(BigInt64Array.of(0n, 1n, 3n).buffer),
  ]);
  t.true(idx.equals(expected));
  t.deepEqual([...fs.readFileSync(`${prefix}.bin`)], [1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0]);
});

test('a multi-megabyte shard streams through the write buffer and reads back by positioned reads', async (t) => {
  const prefix = tmpPrefix('big');
  const g = Rng.fromSeed(11);
  const seqs: Int32Array[] = [];
  const w = new IndexedDatasetWriter(prefix, 'int32');
  for (let i = 0; i < 300; i++) {
    const s = Int32Array.from({ length: 1 + g.int(4000) }, () => g.int(2 ** 31 - 1));
    seqs.push(s);
    w.addSequence(s);
    if (i % 7 === 6) w.endDocument();
  }
  await w.finalize(); // the open document is closed by finalize
  const ds = await IndexedDataset.open(prefix);
  t.is(ds.documentCount, Math.ceil(300 / 7));
  t.is(
    fs.statSync(`${prefix}.bin`).size,
    seqs.reduce((a, s) => a + 4 * s.length, 0),
  );
  for (const i of [0, 1, 150, 298, 299]) t.deepEqual(await ds.getSequence(i), seqs[i]);
  await ds.close();
  t.log(`wrote ${(fs.statSync(`${prefix}.bin`).size / 2 ** 20).toFixed(1)} MiB`);
});

test('tokens outside the dtype range are rejected naming the value', (t) => {
  const w = new IndexedDatasetWriter(tmpPrefix('range'), 'uint16');
  for (const bad of [65536, -1, 1.5, NaN]) {
    const e = t.throws(() => w.addSequence([1, bad]), { instanceOf: HyperlmError });
    t.is((e as HyperlmError).code, 'SHARD_BAD_TOKEN');
    t.true(e!.message.includes(String(bad)), e!.message);
  }
  t.is(w.sequenceCount, 0, 'a rejected sequence is not half-written');
  w.abort();
  const w32 = new IndexedDatasetWriter(tmpPrefix('range32'), 'int32');
  t.throws(() => w32.addSequence([2 ** 31]), { message: /2147483648/ });
  w32.addSequence([-(2 ** 31), 2 ** 31 - 1]);
  w32.abort();
});

test('abort removes temporaries; nothing appears under the final names before finalize', (t) => {
  const prefix = tmpPrefix('abort');
  const w = new IndexedDatasetWriter(prefix, 'uint16');
  w.addSequence([1, 2, 3]);
  w.endDocument();
  t.false(fs.existsSync(`${prefix}.bin`));
  t.false(fs.existsSync(`${prefix}.idx`));
  w.abort();
  t.deepEqual(fs.readdirSync(path.dirname(prefix)), []);
  t.throws(() => w.addSequence([1]), { instanceOf: HyperlmError });
});

test('corrupt or truncated shards are SHARD_CORRUPT naming the file', async (t) => {
  const base = tmpPrefix('good');
  await writeShard(base, 'uint16', [
    [
      [1, 2, 3],
      [4, 5],
    ],
    [[6, 7, 8, 9]],
  ]);
  const idx = fs.readFileSync(`${base}.idx`);
  const bin = fs.readFileSync(`${base}.bin`);
  const cases: Array<[string, Buffer, Buffer, RegExp]> = [
    ['magic', Buffer.concat([Buffer.from('XXIDIDX'), idx.subarray(7)]), bin, /magic/],
    ['truncated-idx', idx.subarray(0, idx.length - 4), bin, /bytes, expected/],
    ['short-header', idx.subarray(0, 20), bin, /header/],
    ['truncated-bin', idx, bin.subarray(0, bin.length - 2), /truncated/],
    ['bad-dtype', Buffer.concat([idx.subarray(0, 17), Buffer.from([7]), idx.subarray(18)]), bin, /dtype code 7/],
  ];
  const lastDoc = Buffer.from(idx);
  lastDoc.writeBigInt64LE(2n, lastDoc.length - 8);
  cases.push(['last-doc', lastDoc, bin, /last document index/]);
  for (const [name, idxBytes, binBytes, why] of cases) {
    const prefix = path.join(path.dirname(base), name);
    fs.writeFileSync(`${prefix}.idx`, idxBytes);
    fs.writeFileSync(`${prefix}.bin`, binBytes);
    const e = await t.throwsAsync(IndexedDataset.open(prefix), { instanceOf: HyperlmError }, name);
    t.is((e as HyperlmError).code, 'SHARD_CORRUPT', name);
    t.regex(e!.message, why, name);
    t.true(e!.message.includes(name), `${name}: message names the file: ${e!.message}`);
  }
});

test('splitDocument cuts long documents into consecutive pieces', (t) => {
  const doc = Int32Array.from({ length: 10 }, (_, i) => i);
  t.deepEqual(
    splitDocument(doc, 4).map((p) => [...p]),
    [
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ],
  );
  t.deepEqual(
    splitDocument(doc, 10).map((p) => p.length),
    [10],
  );
  t.deepEqual(splitDocument(doc, 1).length, 10);
  t.deepEqual(
    splitDocument(new Int32Array(0), 4).map((p) => p.length),
    [0],
  );
  t.throws(() => splitDocument(doc, 0), { message: /maxDocTokens/ });
});

test('sidecar: one line per sequence, round trip, tmp+rename, malformed lines named', async (t) => {
  const prefix = tmpPrefix('side');
  const records: SidecarRecord[] = [
    { doc: 0, part: 0, source: 'site/a.html', kind: 'html', language: 'html', domain: 3, tokens: 812 },
    { doc: 0, part: 1, source: 'site/a.html', kind: 'html', language: 'html', domain: 3, tokens: 57 },
    {
      doc: 1,
      part: 0,
      source: 'x.warc.gz#https://例え.jp/',
      url: 'https://例え.jp/',
      kind: 'html',
      language: 'html',
      domain: 0,
      tokens: 9,
    },
    { doc: 2, part: 0, source: 'src/main.py', kind: 'code', language: 'python', domain: 1, tokens: 0 },
  ];
  const w = new SidecarWriter(prefix);
  for (const r of records) w.add(r);
  t.false(fs.existsSync(sidecarPath(prefix)));
  await w.finalize();
  t.deepEqual(await readSidecar(prefix), records);
  t.is(fs.readFileSync(sidecarPath(prefix), 'utf8').split('\n').length, records.length + 1);
  t.false(fs.existsSync(`${sidecarPath(prefix)}.tmp`));

  const w2 = new SidecarWriter(tmpPrefix('side-bad'));
  t.throws(() => w2.add({ ...records[0], kind: 'pdf' as 'html' }), { message: /kind/ });
  w2.abort();

  fs.appendFileSync(sidecarPath(prefix), '{"doc":3,"part":0}\n');
  const e = await t.throwsAsync(readSidecar(prefix), { instanceOf: HyperlmError });
  t.is((e as HyperlmError).code, 'SHARD_CORRUPT');
  t.true(e!.message.includes('side.docs.jsonl:5'), e!.message);
});
