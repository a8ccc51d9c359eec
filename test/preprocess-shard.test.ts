// Sharded runs and merge (issue 13): 3 shard runs of one input merged give exactly the documents of one
// unsharded run — the same multiset of sequences per split and the same manifest counts — with exact
// duplicates removed across shards at merge; merging shards of different tokenizers is refused naming
// the file; a shard run needs --tokenizer; `--shard auto` reads Slurm's and Kubernetes' job-array
// variables (run through the real command lines, as the README's Slurm script and Indexed Job do).
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { Manifest } from '../src/pipeline/manifest.js';
import { mergeShards } from '../src/pipeline/merge.js';
import { preprocess } from '../src/pipeline/preprocess.js';
import { resolveShard, shardFolder, shardOf } from '../src/pipeline/shard.js';
import { IndexedDataset } from '../src/shards/megatron.js';
import { readSidecar } from '../src/shards/sidecar.js';
import { REPO, smallInput, tempDir, tinyConfig } from './helpers/fixtures.js';
import { warcResponse } from './helpers/warc.js';

const run = promisify(execFile);

/** The sample's pages and code, a JSONL file and a WARC, with repeats inside and across containers. */
function crawlInput(): string {
  const dir = smallInput(6, 4);
  const page = (n: number): string =>
    `<html><head><title>Page ${n}</title></head><body><h1>Topic ${n}</h1><p>${`Words about topic number ${n} for the shard test. `.repeat(12)}</p></body></html>`;
  writeFileSync(
    join(dir, 'pages.jsonl'),
    [1, 2, 3, 2, 4, 5].map((n, i) => JSON.stringify({ url: `https://j.example/${i}`, html: page(n) })).join('\n'),
  );
  const records = [6, 7, 1, 8, 7, 9, 10].map((n, i) =>
    gzipSync(warcResponse(`https://w.example/${i % 5}`, 'text/html; charset=utf-8', page(n))),
  );
  writeFileSync(join(dir, 'crawl.warc.gz'), Buffer.concat(records));
  mkdirSync(join(dir, 'copies'));
  writeFileSync(join(dir, 'copies', 'a.html'), page(3));
  writeFileSync(join(dir, 'copies', 'b.html'), page(11));
  // A long page and a near copy of it: another heading, one word changed.
  const body = Array.from({ length: 400 }, (_, i) => `word${(i * 7919) % 1009}`).join(' ');
  writeFileSync(join(dir, 'copies', 'c.html'), `<html><body><h1>Original heading</h1><p>${body}</p></body></html>`);
  writeFileSync(
    join(dir, 'copies', 'd.html'),
    `<html><body><h1>Another heading for the copy</h1><p>${body.replace('word856 ', 'changed ')}</p></body></html>`,
  );
  return dir;
}

const input = crawlInput();
const tokenizer = (async () => {
  const out = tempDir('shard-tok');
  await preprocess(tinyConfig([input], out, { workers: 0 }));
  return join(out, 'tokenizer.model');
})();

/** Every stored sequence of a split, as strings, sorted (a multiset). */
async function sequences(dir: string, m: Manifest, split: 'train' | 'valid'): Promise<string[]> {
  const out: string[] = [];
  for (const s of m.shards.filter((x) => x.split === split)) {
    const ds = await IndexedDataset.open(join(dir, s.name));
    for (let i = 0; i < ds.sequenceCount; i++) out.push((await ds.getSequence(i)).join(','));
    await ds.close();
  }
  return out.sort();
}

/** The counts a merge must reproduce (ids of domains may differ: the key set may not). */
function counts(m: Manifest): unknown {
  return {
    documents: m.documents,
    skipped: m.skipped,
    tokens: m.tokens,
    images: m.images,
    minimize: m.minimize,
    filters: m.filters,
    languages: m.languages,
    readSkipped: m.readSkipped,
    domains: Object.keys(m.domains).sort(),
  };
}

async function shardedEqualsUnsharded(
  t: import('ava').ExecutionContext,
  over: Parameters<typeof tinyConfig>[2],
): Promise<Manifest> {
  // With near dedup the copy kept is the first in input order unsharded, the first in shard order merged:
  // the document counts agree, the characters and tokens of the copies kept need not.
  const near = over?.dedup === 'near';
  const tok = await tokenizer;
  const whole = tempDir('shard-whole');
  const mWhole = await preprocess(tinyConfig([input], whole, { tokenizer: tok, workers: 1, ...over }));
  const root = tempDir('shard-parts');
  const dirs: string[] = [];
  for (let i = 0; i < 3; i++) {
    const shard = { index: i, count: 3 };
    dirs.push(shardFolder(root, shard));
    await preprocess(
      tinyConfig([input], shardFolder(root, shard), { tokenizer: tok, workers: i === 1 ? 2 : 0, shard, ...over }),
    );
  }
  const merged = tempDir('shard-merged');
  const m = await mergeShards({ out: merged, shards: [dirs[2], dirs[0], dirs[1]] });
  if (near) {
    t.deepEqual(
      [m.documents, m.skipped, m.filters['dedup-near'].documents],
      [mWhole.documents, mWhole.skipped, mWhole.filters['dedup-near'].documents],
    );
    return m;
  }
  t.deepEqual(counts(m), counts(mWhole));
  for (const split of ['train', 'valid'] as const)
    t.deepEqual(await sequences(merged, m, split), await sequences(whole, mWhole, split), split);
  // The merged sidecar is aligned with the merged shard and its domain ids name the same keys.
  const side = await readSidecar(join(merged, 'train-00000'));
  t.is(side.length, m.shards.find((s) => s.split === 'train')!.sequences);
  const names = Object.fromEntries(Object.entries(m.domains).map(([k, v]) => [v, k]));
  const wholeSide = (
    await Promise.all(mWhole.shards.filter((s) => s.split === 'train').map((s) => readSidecar(join(whole, s.name))))
  ).flat();
  const wholeNames = Object.fromEntries(Object.entries(mWhole.domains).map(([k, v]) => [v, k]));
  // Which copy of a repeated page is kept depends on the order (input order vs shard order), so with dedup
  // only the domains and lengths must agree; without it, the sources too.
  const key = (r: { source: string; tokens: number }, name: string): string =>
    `${over?.dedup === 'none' ? r.source : ''} ${name} ${r.tokens}`;
  t.deepEqual(
    side.map((r) => key(r, names[r.domain])).sort(),
    wholeSide.map((r) => key(r, wholeNames[r.domain])).sort(),
  );
  return m;
}

test('3 shards with exact dedup, merged, equal one unsharded run; repeats across shards are dropped at merge', async (t) => {
  const m = await shardedEqualsUnsharded(t, { validFraction: 0, dedup: 'exact' });
  // page(2) and page(7) twice, page(1) and page(3) in two containers each: 4 repeats.
  t.is(m.skipped.DUPLICATE, 4, JSON.stringify(m.skipped));
  t.is(m.filters['dedup-exact'].documents, 4);
  t.true(m.merge!.crossShardDuplicates >= 1, 'some repeats were in different shards (else the test proves less)');
});

test('3 shards with near dedup, merged, equal one unsharded run', async (t) => {
  const m = await shardedEqualsUnsharded(t, { validFraction: 0, dedup: 'near' });
  t.is(m.skipped.NEAR_DUPLICATE, 1, JSON.stringify(m.skipped));
  t.is(m.filters['dedup-near'].documents, 1);
  t.deepEqual(
    m.filters['dedup-near'].examples!.map((e) => [e.source, e.duplicateOf].map((x) => x.replace(/.*\//, '')).sort()),
    [['c.html', 'd.html']],
  );
});

test('3 shards without dedup and with a valid split, merged, equal one unsharded run per split', async (t) => {
  const m = await shardedEqualsUnsharded(t, { validFraction: 0.3, dedup: 'none' });
  t.true(m.documents.valid > 0 && m.documents.train > 0);
  t.false('DUPLICATE' in m.skipped);
});

test('merging shards preprocessed with different tokenizers is refused, naming the file', async (t) => {
  const other = tempDir('shard-tok2');
  await preprocess(tinyConfig([smallInput(3, 1)], other, { workers: 0, vocabSize: 900 }));
  const root = tempDir('shard-mixed');
  await preprocess(
    tinyConfig([input], shardFolder(root, { index: 0, count: 2 }), {
      tokenizer: await tokenizer,
      workers: 0,
      shard: { index: 0, count: 2 },
    }),
  );
  await preprocess(
    tinyConfig([input], shardFolder(root, { index: 1, count: 2 }), {
      tokenizer: join(other, 'tokenizer.model'),
      workers: 0,
      shard: { index: 1, count: 2 },
    }),
  );
  const err = await t.throwsAsync(
    mergeShards({
      out: tempDir('shard-mixed-out'),
      shards: [0, 1].map((i) => shardFolder(root, { index: i, count: 2 })),
    }),
  );
  t.regex(
    err!.message,
    new RegExp(
      `${shardFolder(root, { index: 1, count: 2 })}/manifest.json: tokenizer sha256 .* differs .*same --tokenizer`,
    ),
  );
  const missing = await t.throwsAsync(
    mergeShards({ out: tempDir('shard-missing'), shards: [shardFolder(root, { index: 0, count: 2 })] }),
  );
  t.regex(missing!.message, /shard\(s\) 1 of 2 are missing/);
});

test('a shard run without --tokenizer is an error that says so', async (t) => {
  const err = await t.throwsAsync(
    preprocess(tinyConfig([input], tempDir('shard-notok'), { shard: { index: 0, count: 2 } })),
  );
  t.regex(err!.message, /sharded run needs --tokenizer FILE/);
});

test('--shard I/N and auto: Slurm array variables, Kubernetes JOB_COMPLETION_INDEX with --shards; errors name the variable', (t) => {
  t.deepEqual(resolveShard('2/5', undefined, {}), { index: 2, count: 5 });
  t.deepEqual(
    resolveShard('auto', undefined, {
      SLURM_ARRAY_TASK_ID: '3',
      SLURM_ARRAY_TASK_COUNT: '4',
      SLURM_ARRAY_TASK_MIN: '0',
    }),
    { index: 3, count: 4 },
  );
  // `sbatch --array=1-4` numbers tasks from 1; `--array=0-6:2` in steps of 2.
  t.deepEqual(
    resolveShard('auto', undefined, {
      SLURM_ARRAY_TASK_ID: '1',
      SLURM_ARRAY_TASK_COUNT: '4',
      SLURM_ARRAY_TASK_MIN: '1',
    }),
    { index: 0, count: 4 },
  );
  t.deepEqual(
    resolveShard('auto', undefined, {
      SLURM_ARRAY_TASK_ID: '6',
      SLURM_ARRAY_TASK_COUNT: '4',
      SLURM_ARRAY_TASK_MIN: '0',
      SLURM_ARRAY_TASK_STEP: '2',
    }),
    { index: 3, count: 4 },
  );
  t.deepEqual(resolveShard('auto', 8, { JOB_COMPLETION_INDEX: '7' }), { index: 7, count: 8 });
  t.throws(() => resolveShard('auto', undefined, { JOB_COMPLETION_INDEX: '7' }), { message: /needs --shards N/ });
  t.throws(() => resolveShard('auto', 8, { JOB_COMPLETION_INDEX: '8' }), { message: /shard index 8 is not in 0..7/ });
  t.throws(() => resolveShard('auto', undefined, {}), {
    message: /neither SLURM_ARRAY_TASK_ID .* nor JOB_COMPLETION_INDEX/,
  });
  t.throws(() => resolveShard('3/3', undefined, {}), { message: /shard index 3 is not in 0..2/ });
  t.throws(() => resolveShard('1-3', undefined, {}), { message: /--shard must be I\/N/ });
  // The partition is a function of the identity and N only, and spreads documents over all shards.
  const hits = [0, 0, 0];
  for (let i = 0; i < 3000; i++) hits[shardOf(`site/page-${i}.html`, 3)]++;
  t.true(
    hits.every((h) => h > 900 && h < 1100),
    JSON.stringify(hits),
  );
  t.is(shardOf('crawl.warc.gz@123#https://x/', 7), shardOf('crawl.warc.gz@123#https://x/', 7));
});

test('the Slurm and Kubernetes command lines: shards by environment, then npm run merge', async (t) => {
  const tok = await tokenizer;
  const out = tempDir('shard-cli');
  const cli = (script: string, args: string[], env: Record<string, string>) =>
    run(process.execPath, [join(REPO, 'dist/scripts', script), ...args], { env: { ...process.env, ...env } });
  const common = [
    '--input',
    input,
    '--out',
    out,
    '--tokenizer',
    tok,
    '--images',
    'none',
    '--workers',
    '1',
    '--valid-fraction',
    '0',
    '--shard-docs',
    '4',
    '--quiet',
  ];
  // Slurm: sbatch --array=0-1 (tasks 0 and 1 of 3) …
  for (const id of ['0', '1'])
    await cli('preprocess.js', [...common, '--shard', 'auto'], {
      SLURM_ARRAY_TASK_ID: id,
      SLURM_ARRAY_TASK_COUNT: '3',
      SLURM_ARRAY_TASK_MIN: '0',
    });
  // … and the last shard as pod 2 of a Kubernetes Indexed Job with completions: 3.
  await cli('preprocess.js', [...common, '--shard', 'auto', '--shards', '3'], { JOB_COMPLETION_INDEX: '2' });
  const dirs = [0, 1, 2].map((i) => shardFolder(out, { index: i, count: 3 }));
  for (const [i, d] of dirs.entries())
    t.deepEqual(JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')).config.shard, { index: i, count: 3 });
  const merged = join(out, 'merged');
  const { stdout } = await cli('merge.js', ['--out', merged, ...dirs, '--quiet'], {});
  t.regex(stdout, /from 3 shards/);
  const whole = tempDir('shard-cli-whole');
  const mWhole = await preprocess(tinyConfig([input], whole, { tokenizer: tok, validFraction: 0 }));
  const m = JSON.parse(readFileSync(join(merged, 'manifest.json'), 'utf8')) as Manifest;
  t.deepEqual(counts(m), counts(mWhole));
  const blend = JSON.parse(readFileSync(join(merged, 'megatron-blend.json'), 'utf8')) as Record<string, string[]>;
  t.deepEqual(blend.train, [String(m.tokens.train), join(merged, 'train-00000')]);
  // --link: no tokens copied; the blend lists the shards' own files weighted by tokens.
  const linked = join(out, 'linked');
  await cli('merge.js', ['--out', linked, ...dirs, '--link', '--quiet'], {});
  const lm = JSON.parse(readFileSync(join(linked, 'manifest.json'), 'utf8')) as Manifest;
  const lb = JSON.parse(readFileSync(join(linked, 'megatron-blend.json'), 'utf8')) as Record<string, string[]>;
  t.is(lb.train.length, 2 * lm.shards.filter((s) => s.split === 'train').length);
  t.is(
    lb.train.filter((_, i) => i % 2 === 0).reduce((a, w) => a + Number(w), 0),
    lm.tokens.train,
  );
  t.true(lm.merge!.link);
});
