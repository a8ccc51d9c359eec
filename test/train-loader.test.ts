// The training loader (src/model/loader.ts) on shards written by the real Megatron/sidecar writers:
// every document appears exactly once per epoch (CM3-masked windows invert to the originals and join
// back into the documents), targets are inputs shifted by one, weights are 0 exactly on sentinel and
// padding targets, DEMix rows hold one domain, epochs reshuffle and remask, and a saved position resumes
// the identical row stream. test/train-windows.test.ts checks the windows themselves on real data.
import test from 'ava';
import { ShardLoader, type LoaderOptions, type Row } from '../src/model/loader.js';
import { tempDir } from './helpers/fixtures.js';
import { documentsFromRows, rowTokens } from './helpers/row-windows.js';
import { LAYOUT, writeSyntheticData, type SyntheticData } from './helpers/train-shards.js';

const T = 16;
const vocab = { maskBase: LAYOUT.maskBase, maskCount: LAYOUT.maskCount, eom: LAYOUT.eom };
const isMask = (t: number): boolean => t >= LAYOUT.maskBase && t < LAYOUT.maskBase + LAYOUT.maskCount;
let data: SyntheticData;
let staticData: SyntheticData;

test.before(async () => {
  data = await writeSyntheticData(tempDir('loader'));
  staticData = await writeSyntheticData(tempDir('loader-static'), { cm3Static: true });
});

const open = (dir: string, over: Partial<LoaderOptions> = {}): Promise<ShardLoader> =>
  ShardLoader.open(dir, { split: 'train', blockSize: T, seed: 3, byDomain: false, ...over });

/** Rows of epochs 0..`last` (reads one row past them). */
async function epochRows(loader: ShardLoader, last: number): Promise<Row[]> {
  const rows: Row[] = [];
  for (;;) {
    const r = await loader.nextRow();
    if (r.epoch > last) return rows;
    rows.push(r);
  }
}

/** The input stream of some rows, cut at each eos into documents (without the eos). */
function documentsOf(rows: Row[]): number[][] {
  const stream = rows.flatMap((r) => [...r.input.subarray(0, r.real)]);
  const docs: number[][] = [];
  let cur: number[] = [];
  for (const t of stream) {
    if (t === LAYOUT.eos) {
      docs.push(cur);
      cur = [];
    } else cur.push(t);
  }
  return cur.length ? [...docs, cur] : docs;
}

const sorted = (docs: number[][]): string[] => docs.map((d) => d.join(',')).sort();

test('without masking, the file-order epoch stream is exactly the documents with eos', async (t) => {
  const loader = await open(staticData.dir, { shuffle: false });
  const rows = await epochRows(loader, 0);
  t.deepEqual(
    documentsOf(rows),
    staticData.docs.train.map((d) => d.tokens),
  );
  t.true(
    rows.slice(0, -1).every((r) => r.real === T),
    'only the last row of an epoch is padded',
  );
  await loader.close();
});

/** The documents of windowed rows, un-masked window by window. */
const windowDocs = (rows: Row[]): number[][] => documentsFromRows(rows, vocab, LAYOUT.pad, LAYOUT.eos);

test('with CM3 on the fly, every document appears once per epoch and its windows invert to it', async (t) => {
  const loader = await open(data.dir);
  const rows = await epochRows(loader, 0);
  t.true(
    rows.some((r) => r.input.some(isMask)),
    'some windows were masked',
  );
  t.true(
    rows.some((r) => (r.units?.length ?? 0) > 1),
    'some rows pack several windows',
  );
  t.deepEqual(sorted(windowDocs(rows)), sorted(data.docs.train.map((d) => d.tokens)));
  await loader.close();
});

test('targets are the inputs shifted by one; weights are 0 exactly at sentinel and padding targets', async (t) => {
  const loader = await open(data.dir);
  const rows = await epochRows(loader, 0);
  let sentinelTargets = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    for (let p = 0; p < T; p++) {
      if (p + 1 < r.real) t.is(r.target[p], r.input[p + 1]);
      if (r.real === T && p === T - 1 && r.target[p] !== LAYOUT.pad)
        t.is(r.target[p], rowTokens(r, LAYOUT.pad)[T], "the last target is the row's own last token");
      const padding = r.target[p] === LAYOUT.pad;
      if (isMask(r.target[p])) sentinelTargets++;
      t.is(r.weight[p], isMask(r.target[p]) || padding ? 0 : 1, `row ${i} position ${p} target ${r.target[p]}`);
    }
  }
  t.true(sentinelTargets > 0, 'the epoch has sentinel targets to check');
  await loader.close();
});

test('the next epoch has another order and other masks, and is deterministic in the seed', async (t) => {
  const a = await open(data.dir);
  const both = await epochRows(a, 1);
  const e0 = both.filter((r) => r.epoch === 0).map((r) => [...r.input]);
  const e1 = both.filter((r) => r.epoch === 1);
  t.notDeepEqual(
    e0,
    e1.map((r) => [...r.input]),
  );
  t.notDeepEqual(windowDocs(both.filter((r) => r.epoch === 0)), windowDocs(e1), 'another document order');
  t.deepEqual(sorted(windowDocs(e1)), sorted(data.docs.train.map((d) => d.tokens)));
  const b = await open(data.dir);
  t.deepEqual(
    (await epochRows(b, 0)).map((r) => [...r.input]),
    e0,
    'same seed, same stream',
  );
  const c = await open(data.dir, { seed: 4 });
  t.notDeepEqual(
    (await epochRows(c, 0)).map((r) => [...r.input]),
    e0,
    'another seed, another stream',
  );
  await Promise.all([a.close(), b.close(), c.close()]);
});

test('DEMix packing: each row holds one domain, and each domain gets exactly its documents', async (t) => {
  const loader = await open(staticData.dir, { byDomain: true });
  const rows = await epochRows(loader, 0);
  for (const domain of [0, 1]) {
    const mine = rows.filter((r) => r.domain === domain);
    t.deepEqual(
      sorted(documentsOf(mine)),
      sorted(staticData.docs.train.filter((d) => d.domain === domain).map((d) => d.tokens)),
    );
  }
  t.is(rows.filter((r) => r.real < T).length, 2, 'one padded row per domain at the end of the epoch');
  await loader.close();
});

test('domainOf maps domains and skips documents mapped to -1', async (t) => {
  const loader = await open(staticData.dir, { byDomain: true, domainOf: (d) => (d === 1 ? 0 : -1) });
  const rows = await epochRows(loader, 0);
  t.true(rows.every((r) => r.domain === 0));
  t.deepEqual(
    sorted(documentsOf(rows)),
    sorted(staticData.docs.train.filter((d) => d.domain === 1).map((d) => d.tokens)),
  );
  await loader.close();
});

test('a saved position resumes the identical row stream, across an epoch boundary', async (t) => {
  for (const byDomain of [false, true]) {
    const a = await open(data.dir, { byDomain });
    const epoch0 = (await epochRows(a, 0)).length;
    await a.close();
    const b = await open(data.dir, { byDomain });
    for (let i = 0; i < epoch0 - 3; i++) await b.nextRow();
    const state = JSON.parse(JSON.stringify(b.getState()));
    const expected = [];
    for (let i = 0; i < 10; i++) expected.push(await b.nextRow());
    const c = await open(data.dir, { byDomain });
    c.setState(state);
    for (let i = 0; i < 10; i++) {
      const r = await c.nextRow();
      t.deepEqual(
        [r.input, r.target, r.weight, r.domain, r.epoch],
        [expected[i].input, expected[i].target, expected[i].weight, expected[i].domain, expected[i].epoch],
      );
    }
    t.true(
      expected.some((r) => r.epoch === 1),
      'the compared rows cross into epoch 1',
    );
    await Promise.all([b.close(), c.close()]);
  }
});

test('batches are rows laid out row-major with their domains and real-token count', async (t) => {
  const a = await open(data.dir, { byDomain: true });
  const b = await open(data.dir, { byDomain: true });
  const batch = await a.nextBatch(3);
  let tokens = 0;
  for (let r = 0; r < 3; r++) {
    const row = await b.nextRow();
    t.deepEqual(batch.ids.subarray(r * T, (r + 1) * T), row.input);
    t.deepEqual(batch.weights.subarray(r * T, (r + 1) * T), row.weight);
    t.is(batch.domains[r], row.domain);
    tokens += row.real;
  }
  t.is(batch.tokens, tokens);
  await Promise.all([a.close(), b.close()]);
});

test('a data folder without a vocabulary layout is a named error', async (t) => {
  const err = await t.throwsAsync(open(tempDir('empty')));
  t.regex(err!.message, /manifest\.json/);
});
