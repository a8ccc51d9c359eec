// DatasetConcatenator (src/shards/merge-datasets.ts) against an independent reader: three shards of
// random documents (several sequences, empty ones) are concatenated with some documents left out, and
// test/fixtures/read_megatron.py (numpy, no shared code) must read exactly the kept documents in order,
// with Megatron's merge_datasets.py index semantics (lengths appended, document indices offset by the
// sequences before, pointers a running byte sum). Shards of different dtypes are refused naming the file.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/rng.js';
import { DatasetConcatenator } from '../src/shards/merge-datasets.js';
import { IndexedDatasetWriter, type ShardDtype } from '../src/shards/megatron.js';
import { tempDir } from './helpers/fixtures.js';

const READER = resolve(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/read_megatron.py');
const numpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
if (!numpy)
  console.log(
    'merge-datasets: python3 with numpy not found (apt-get install python3-numpy): the reference test is skipped',
  );

type Doc = number[][];
const rng = Rng.fromSeed(99);
const randomDocs = (n: number): Doc[] =>
  Array.from({ length: n }, () =>
    Array.from({ length: 1 + rng.int(3) }, () => Array.from({ length: rng.int(6) }, () => rng.int(60000))),
  );

async function writeShard(prefix: string, docs: Doc[], dtype: ShardDtype = 'uint16'): Promise<void> {
  const w = new IndexedDatasetWriter(prefix, dtype);
  for (const d of docs) {
    for (const s of d) w.addSequence(s);
    w.endDocument();
  }
  await w.finalize();
}

(numpy ? test : test.skip)(
  'concatenation with dropped documents reads back in numpy as the kept documents, Megatron index semantics',
  async (t) => {
    const dir = tempDir('concat');
    const shards = [randomDocs(7), randomDocs(1), randomDocs(9)];
    for (const [i, docs] of shards.entries()) await writeShard(join(dir, `in-${i}`), docs);
    const drop = [new Set([0, 3, 4]), new Set<number>(), new Set([8])];
    const out = new DatasetConcatenator(join(dir, 'merged'), 'uint16');
    for (const [i] of shards.entries()) {
      const added = await out.addIndex(join(dir, `in-${i}`), (d) => !drop[i].has(d));
      t.deepEqual(
        added.kept,
        shards[i].map((_, d) => d).filter((d) => !drop[i].has(d)),
      );
    }
    await out.finalize();
    const kept = shards.flatMap((docs, i) => docs.filter((_, d) => !drop[i].has(d)));
    const got = JSON.parse(
      execFileSync('python3', [READER, join(dir, 'merged')], { encoding: 'utf8', maxBuffer: 1 << 26 }),
    ) as {
      dtype: string;
      sequences: number[][];
      document_indices: number[];
      pointers: number[];
      sizes: number[];
    };
    t.is(got.dtype, 'uint16');
    t.deepEqual(got.sequences, kept.flat());
    const docIdx = [0];
    for (const d of kept) docIdx.push(docIdx[docIdx.length - 1] + d.length);
    t.deepEqual(got.document_indices, docIdx);
    let p = 0;
    t.deepEqual(
      got.pointers,
      got.sizes.map((s) => {
        const at = p;
        p += 2 * s;
        return at;
      }),
    );
  },
);

test('shards of different dtypes are refused, naming the file', async (t) => {
  const dir = tempDir('concat-dtype');
  await writeShard(join(dir, 'a'), randomDocs(2), 'uint16');
  await writeShard(join(dir, 'b'), randomDocs(2), 'int32');
  const out = new DatasetConcatenator(join(dir, 'merged'), 'uint16');
  await out.addIndex(join(dir, 'a'));
  await t.throwsAsync(out.addIndex(join(dir, 'b')), {
    message: new RegExp(`${join(dir, 'b')}.idx: dtype int32 differs from the merged dataset's uint16`),
  });
  out.abort();
});
