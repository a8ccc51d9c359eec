// The worker pool's failure handling with real worker threads: a document that hangs past the
// per-document timeout is skipped with a reason naming it; the pool terminates and replaces the worker
// and the run finishes. (Worker heap exhaustion is not tested: V8 can abort the whole process on a
// worker's fatal OOM, so documents are bounded by --max-doc-bytes before they reach a worker instead.)
import test from 'ava';
import { readFileSync } from 'node:fs';
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
  // 1 ms cannot fit a worker's start-up (it loads the tokenizer), so the batch times out; it is then
  // retried one document per task, and each of those times out too (an abort of a running task
  // terminates its worker and piscina starts a fresh one).
  const m = await preprocess(tinyConfig([input], out, { tokenizer: await tokenizerRun, workers: 2, docTimeoutMs: 1 }));
  t.is(m.documents.in, 4);
  t.is(m.skipped.DOC_TIMEOUT, 4);
  const lines = readFileSync(join(out, 'skipped.jsonl'), 'utf8').trim().split('\n');
  t.true(
    lines.every((l) => /took longer than 1 ms/.test(l)),
    lines[0],
  );
});
