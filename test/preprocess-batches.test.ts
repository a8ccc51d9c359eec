// What makes 2 workers faster without changing the output: documents go to the pool in batches cut
// from the input order alone, and workers load an encode-only tokenizer. Checks the batch cuts, that
// output (tokenizer included) is identical in this thread and with 2 workers when the input spans
// several batches, and
// that the encode-only tokenizer gives the same ids as the full one; a batch that times out is rerun
// one document per task, so only the slow document is skipped.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { preprocess } from '../src/pipeline/preprocess.js';
import { BATCH_LIMITS, batchDocuments, batchLimitsFor } from '../src/pipeline/task.js';
import { createPool } from '../src/pipeline/pool.js';
import { Tokenizer } from '../src/tokenize/tokenizer.js';
import type { RawDocument } from '../src/data/document.js';
import { HyperlmError } from '../src/errors.js';
import { outputSnapshot, SAMPLE, smallInput, tempDir, tinyConfig, walk } from './helpers/fixtures.js';

const tokenizerRun = (async () => {
  const out = tempDir('enc-only');
  await preprocess(tinyConfig([smallInput(4, 2)], out, { workers: 0 }));
  return join(out, 'tokenizer.model');
})();

async function* docsOfSizes(sizes: number[]): AsyncGenerator<RawDocument> {
  for (const [index, n] of sizes.entries())
    yield { index, source: `d${index}`, kind: 'code', language: 'text', bytes: new Uint8Array(n) };
}

async function cuts(sizes: number[], limits: { docs: number; bytes: number }): Promise<number[][]> {
  const out: number[][] = [];
  for await (const batch of batchDocuments(docsOfSizes(sizes), limits)) out.push(batch.map((d) => d.index));
  return out;
}

test('batches are consecutive documents, cut at the document or byte limit; a large document goes alone; image runs are not batched', async (t) => {
  t.deepEqual(await cuts([1, 1, 1, 1, 1], { docs: 2, bytes: 100 }), [[0, 1], [2, 3], [4]]);
  t.deepEqual(await cuts([40, 40, 40, 10, 500, 5], { docs: 10, bytes: 100 }), [[0, 1], [2, 3], [4], [5]]);
  t.deepEqual(await cuts([], { docs: 4, bytes: 100 }), []);
  // Pages whose images are encoded go one per task; text-only runs are batched.
  t.deepEqual(await cuts([1, 1, 1], batchLimitsFor({ images: 'vqgan' })), [[0], [1], [2]]);
  t.deepEqual(await cuts([1, 1, 1], batchLimitsFor({ images: 'none' })), [[0, 1, 2]]);
  // The defaults: every batch within both limits unless it holds one document.
  const sizes = Array.from({ length: 200 }, (_, i) => (i * 7919) % 60_000);
  for await (const batch of batchDocuments(docsOfSizes(sizes))) {
    const bytes = batch.reduce((a, d) => a + d.bytes.length, 0);
    t.true(
      batch.length === 1 || (batch.length <= BATCH_LIMITS.docs && bytes <= BATCH_LIMITS.bytes),
      `${batch.length} docs, ${bytes} bytes`,
    );
  }
});

test('output spanning several batches is identical in this thread and with 2 workers', async (t) => {
  const input = smallInput(12, 12);
  const a = tempDir('batch0');
  const b = tempDir('batch2');
  const m = await preprocess(tinyConfig([input], a, { workers: 0, shardDocs: 5 }));
  await preprocess(tinyConfig([input], b, { workers: 2, shardDocs: 5 }));
  t.true(m.documents.in > BATCH_LIMITS.docs, `${m.documents.in} documents`);
  t.true(m.documents.out > BATCH_LIMITS.docs, JSON.stringify(m.skipped));
  const [sa, sb] = [outputSnapshot(a), outputSnapshot(b)];
  t.deepEqual(sb, sa);
});

test('an encode-only tokenizer gives the ids of the full one and refuses to decode', async (t) => {
  const path = await tokenizerRun;
  const full = await Tokenizer.load(path);
  const lean = await Tokenizer.load(path, { encodeOnly: true });
  t.is(lean.engine, 'js');
  const text = '<html><body><p>Ünïcödé text, 数字 123 and a lone \uD800 surrogate</p></body></html>\n'.repeat(3);
  t.deepEqual(Array.from(lean.encodeInt32(text)), full.encode(text));
  t.deepEqual(
    Array.from(lean.encodeDocument([text, { image: 0 }], [null])),
    Array.from(full.encodeDocument([text, { image: 0 }], [null])),
  );
  const err = t.throws(() => lean.decode(full.encode('abc')));
  t.true(err instanceof HyperlmError && /encodeOnly/.test(err.message), err?.message);
});

test('a batch that times out is rerun document by document: only the slow document is skipped', async (t) => {
  const pages = walk(SAMPLE)
    .filter((f) => f.endsWith('.html'))
    .slice(0, 5);
  const docs: RawDocument[] = pages.map((f, index) => ({
    index,
    source: f,
    kind: 'html',
    language: 'html',
    bytes: readFileSync(f),
  }));
  // ~40 MB of paragraphs: ~12 s of work here (killed at the timeout, so the test does not pay for it),
  // against milliseconds for a sample page.
  const slow = `<html><body>${'<p>slow page with many words in many paragraphs, one after another</p>\n'.repeat(560_000)}</body></html>`;
  docs.push({ index: 5, source: 'slow.html', kind: 'html', language: 'html', bytes: Buffer.from(slow) });
  const config = tinyConfig([], tempDir('unused'));
  // 4 s: a third of the slow page, far above a sample page even on a machine loaded 5× over its cores
  // (at 1.5 s a sample page timed out under a load average of 12 on 2 cores; when a worker is replaced,
  // the documents queued behind it wait for its start-up within their own timeout).
  const pool = createPool({ config, tokenizerPath: await tokenizerRun }, 2, 4000);
  try {
    // Warm both workers up first, so that the timeout measures documents, not start-up (a worker that
    // times out starting is replaced by one that takes tasks only once started).
    for (let round = 0; round < 20; round++) {
      const warm = await Promise.all([0, 1].map(() => pool.run({ docs: [docs[0]], until: 'cm3' })));
      if (warm.every(([r]) => r.ok)) break;
    }
    const results = await pool.run({ docs, until: 'cm3' });
    t.deepEqual(
      results.map((r) => r.index),
      [0, 1, 2, 3, 4, 5],
    );
    t.deepEqual(
      results.map((r) => (r.ok ? 'ok' : r.reason)),
      ['ok', 'ok', 'ok', 'ok', 'ok', 'DOC_TIMEOUT'],
    );
    const last = results[5];
    t.true(!last.ok && last.detail.startsWith('slow.html: took longer than 4000 ms'), JSON.stringify(last));
  } finally {
    await pool.close();
  }
});
