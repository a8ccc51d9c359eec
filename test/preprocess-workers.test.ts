// The worker pool's failure handling with real worker threads: a document that hangs past the
// per-document timeout, or that exhausts its worker's heap, is skipped with a reason naming it; the
// pool replaces the worker and the run finishes with the other documents written.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { preprocess } from '../src/pipeline/preprocess.js';
import { smallInput, tempDir, tinyConfig } from './helpers/fixtures.js';

const tokenizerRun = (async () => {
  const out = tempDir('tok');
  await preprocess(tinyConfig([smallInput(4, 2)], out, { workers: 0 }));
  return join(out, 'tokenizer.model');
})();

test('a document over the per-document timeout is skipped as DOC_TIMEOUT and the run goes on', async (t) => {
  const input = smallInput(2, 2);
  const out = tempDir('timeout');
  // 1 ms cannot fit a worker's start-up (it loads the tokenizer), so every document times out:
  // each abort terminates the worker and piscina starts a fresh one for the next document.
  const m = await preprocess(tinyConfig([input], out, { tokenizer: await tokenizerRun, workers: 2, docTimeoutMs: 1 }));
  t.is(m.documents.in, 4);
  t.is(m.skipped.DOC_TIMEOUT, 4);
  const lines = readFileSync(join(out, 'skipped.jsonl'), 'utf8').trim().split('\n');
  t.true(lines.every((l) => /took longer than 1 ms/.test(l)), lines[0]);
});

test('a document that exhausts its worker heap is skipped as DOC_CRASHED; the others are written', async (t) => {
  const input = smallInput(3, 0);
  // ~48 MB of one text node: its DOM and serialization cannot fit in a 64 MB worker heap.
  writeFileSync(join(input, 'huge.html'), `<html><body><p>${'word '.repeat(10_000_000)}</p></body></html>`);
  const out = tempDir('oom');
  const m = await preprocess(tinyConfig([input], out, { tokenizer: await tokenizerRun, workers: 1, workerHeapMb: 64 }));
  t.is(m.documents.in, 4);
  t.is(m.skipped.DOC_CRASHED, 1, JSON.stringify(m.skipped));
  t.is(m.documents.out, 3);
  const line = readFileSync(join(out, 'skipped.jsonl'), 'utf8').trim();
  t.true(line.includes('huge.html'), line);
});
