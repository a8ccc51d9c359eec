// Deduplication through the whole pipeline (src/filter/dedup.ts in preprocess.ts): exact repeats are
// skipped as DUPLICATE naming the kept copy, near copies (another template, a word changed) as
// NEAR_DUPLICATE with examples in manifest.filters; each filter step reports documents and characters
// removed. The verdicts are taken in input order, so the output is byte-identical for any --workers
// and after a resume (the index is rebuilt from the finished chunks).
import test from 'ava';
import { copyFileSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { preprocess } from '../src/pipeline/preprocess.js';
import { unpackKeys } from '../src/filter/dedup.js';
import { Rng } from '../src/rng.js';
import { outputSnapshot, SAMPLE, tempDir, tinyConfig, walk } from './helpers/fixtures.js';

const rng = Rng.fromSeed(7);
const vocab = Array.from({ length: 1500 }, (_, i) => `w${i.toString(36)}${'aeiou'[i % 5]}`);
const words = (n: number): string[] => Array.from({ length: n }, () => vocab[rng.int(vocab.length)]);
const template = (k: number): { head: string; foot: string } => ({
  head: words(30).join(' '),
  foot: `site ${k} ${words(20).join(' ')}`,
});
const html = (t: { head: string; foot: string }, body: string[]): string =>
  `<html><head><title>${body.slice(0, 3).join(' ')}</title></head><body><div class="top">${t.head}</div>` +
  `${Array.from({ length: Math.ceil(body.length / 60) }, (_, i) => `<p>${body.slice(i * 60, (i + 1) * 60).join(' ')}</p>`).join('')}<div class="bottom">${t.foot}</div></body></html>`;

const input = tempDir('dedup-in');
const [t1, t2] = [template(1), template(2)];
const bodies = [words(500), words(450), words(600)];
bodies.forEach((b, i) => writeFileSync(join(input, `a-${i}.html`), html(t1, b)));
// Near copies: the other site's template, and one word changed in the body.
bodies.forEach((b, i) => {
  const c = [...b];
  c[100 + i] = 'changed';
  writeFileSync(join(input, `b-${i}.html`), html(t2, c));
});
// An exact copy of a sample page under another name, and two more sample pages.
const sample = walk(SAMPLE)
  .filter((f) => f.endsWith('.html'))
  .slice(0, 3);
sample.forEach((f, i) => copyFileSync(f, join(input, `c-${i}.html`)));
copyFileSync(sample[0], join(input, 'd-copy.html'));

const tokenizer = (async () => {
  const out = tempDir('dedup-tok');
  await preprocess(tinyConfig([input], out, { workers: 0, dedup: 'none' }));
  return join(out, 'tokenizer.model');
})();

test('exact: a repeated page is skipped as DUPLICATE naming the kept copy; counted as a filter step', async (t) => {
  const out = tempDir('dedup-exact');
  const m = await preprocess(tinyConfig([input], out, { tokenizer: await tokenizer, dedup: 'exact' }));
  t.is(m.documents.in, 10);
  t.is(m.skipped.DUPLICATE, 1, JSON.stringify(m.skipped));
  t.false('NEAR_DUPLICATE' in m.skipped);
  t.is(m.filters['dedup-exact'].documents, 1);
  t.true(m.filters['dedup-exact'].chars > 100, JSON.stringify(m.filters));
  t.false('dedup-near' in m.filters);
  const lines = readFileSync(join(out, 'skipped.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { reason: string; source: string; detail: string });
  const dup = lines.find((l) => l.reason === 'DUPLICATE')!;
  t.true(dup.source.endsWith('d-copy.html'));
  t.regex(dup.detail, /duplicate of .*c-0\.html/);
  const keys = unpackKeys(readFileSync(join(out, 'dedup.bin')), 'dedup.bin');
  t.is(
    keys.filter((k) => k.split !== 'dropped').length,
    m.documents.out,
    'dedup.bin has one entry per stored document',
  );
});

test('near: copies under another template with a word changed are NEAR_DUPLICATE, with examples in the manifest', async (t) => {
  const out = tempDir('dedup-near');
  const m = await preprocess(tinyConfig([input], out, { tokenizer: await tokenizer, dedup: 'near' }));
  t.is(m.skipped.DUPLICATE, 1);
  t.is(m.skipped.NEAR_DUPLICATE, 3, JSON.stringify(m.skipped));
  t.is(m.documents.out, 6);
  const near = m.filters['dedup-near'];
  t.is(near.documents, 3);
  t.deepEqual(
    near.examples!.map((e) => [e.source.replace(/.*\//, ''), e.duplicateOf.replace(/.*\//, '')]),
    [0, 1, 2].map((i) => [`b-${i}.html`, `a-${i}.html`]),
  );
});

test('dedup output is byte-identical for 0, 1 and 2 workers and after a resume', async (t) => {
  const tok = await tokenizer;
  const runs: Record<string, string>[] = [];
  for (const workers of [0, 1, 2]) {
    const out = tempDir(`dedup-w${workers}`);
    await preprocess(tinyConfig([input], out, { tokenizer: tok, dedup: 'near', workers, shardDocs: 3 }));
    runs.push(outputSnapshot(out));
    if (workers === 2) {
      // As after a kill once chunk 1 was committed: later chunk records and the manifest are gone.
      for (const name of readdirSync(join(out, '.state')))
        if (/^chunk-0000[2-9]\.json$/.test(name)) rmSync(join(out, '.state', name));
      rmSync(join(out, 'manifest.json'));
      await preprocess(tinyConfig([input], out, { tokenizer: tok, dedup: 'near', workers, shardDocs: 3 }));
      runs.push(outputSnapshot(out));
    }
  }
  for (const r of runs.slice(1)) t.deepEqual(r, runs[0]);
});
