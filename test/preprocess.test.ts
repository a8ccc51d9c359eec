// End-to-end preprocessing: real pages and code from the bundled sample → shards, through the real
// worker pool. Checks determinism across worker counts, byte-identical resume after SIGKILL, that every
// stored document decodes back to its minimized text, and the manifest's accounting.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { preprocess } from '../src/pipeline/preprocess.js';
import { readStoredDocument } from '../src/pipeline/read-document.js';
import { Tokenizer } from '../src/tokenize/tokenizer.js';
import { outputSnapshot, REPO, smallInput, tempDir, tinyConfig } from './helpers/fixtures.js';

const input = smallInput(8, 8);

test('output is identical with 1 and 2 workers, and documents decode back', async (t) => {
  const a = tempDir('pp1');
  const b = tempDir('pp2');
  const ma = await preprocess(tinyConfig([input], a, { workers: 1 }));
  await preprocess(tinyConfig([input], b, { workers: 2 }));
  t.deepEqual(outputSnapshot(a), outputSnapshot(b));
  t.is(ma.documents.in, 16);
  t.true(ma.documents.out >= 14, JSON.stringify(ma.skipped));
  t.is(ma.documents.train + ma.documents.valid, ma.documents.out);
  t.true(ma.tokens.total > 1000);
  t.true(ma.shards.length >= 4);
  for (const name of [
    'manifest.json',
    'vocab.json',
    'tokenizer.model',
    'train-00000.bin',
    'train-00000.idx',
    'train-00000.docs.jsonl',
  ]) {
    t.true(existsSync(join(a, name)), name);
  }
  // A code document comes back verbatim after its header.
  const tok = await Tokenizer.load(join(a, 'tokenizer.model'));
  let sawCode = false;
  for (let n = 0; n < ma.documents.train; n++) {
    const doc = await readStoredDocument(a, 'train', n, tok);
    const text = tok.decode(doc.original);
    if (doc.meta.kind === 'code') {
      const file = readFileSync(
        join(input, doc.meta.source.startsWith('/') ? relative(input, doc.meta.source) : doc.meta.source),
        'utf8',
      );
      t.true(text.endsWith(file), `code document ${doc.meta.source} round-trips`);
      sawCode = true;
    } else {
      t.true(text.startsWith('<html'), text.slice(0, 40));
    }
  }
  t.true(sawCode);
});

test('static CM3 masking is undone exactly by inspect', async (t) => {
  const plain = tempDir('plain');
  const masked = tempDir('masked');
  await preprocess(tinyConfig([input], plain));
  await preprocess(tinyConfig([input], masked, { cm3Static: true }));
  const tok = await Tokenizer.load(join(plain, 'tokenizer.model'));
  for (let n = 0; n < 4; n++) {
    const p = await readStoredDocument(plain, 'train', n, tok);
    const m = await readStoredDocument(masked, 'train', n, tok);
    t.notDeepEqual(Array.from(m.tokens), Array.from(p.tokens));
    t.deepEqual(Array.from(m.original), Array.from(p.tokens));
  }
});

test('a run killed with SIGKILL and rerun gives byte-identical output', async (t) => {
  const reference = tempDir('ref');
  await preprocess(tinyConfig([input], reference, { shardDocs: 2 }));
  const out = tempDir('killed');
  const args = [
    join(REPO, 'dist/scripts/preprocess.js'),
    '--input',
    input,
    '--out',
    out,
    '--vocab-size',
    '1000',
    '--tokenizer-sample-mb',
    '4',
    '--workers',
    '1',
    '--valid-fraction',
    '0.2',
    '--shard-docs',
    '2',
    '--images',
    'none',
    '--quiet',
  ];
  const child = spawn(process.execPath, args, { stdio: 'ignore' });
  // Kill as soon as the second chunk is committed: the run is then mid-way through its shards.
  const killedMidway = await new Promise<boolean>((resolve) => {
    const timer = setInterval(() => {
      if (existsSync(join(out, '.state/chunk-00001.json'))) {
        clearInterval(timer);
        child.kill('SIGKILL');
        resolve(!existsSync(join(out, 'manifest.json')));
      }
    }, 5);
    child.on('exit', () => {
      clearInterval(timer);
      resolve(false);
    });
  });
  await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.on('exit', r)));
  t.log(killedMidway ? 'killed mid-run' : 'the run finished before the kill landed');
  await preprocess(tinyConfig([input], out, { shardDocs: 2 }));
  t.deepEqual(outputSnapshot(out), outputSnapshot(reference));
});

test('reusing an output folder with a different configuration is refused, naming the key', async (t) => {
  const out = tempDir('reuse');
  await preprocess(tinyConfig([input], out));
  const err = await t.throwsAsync(preprocess(tinyConfig([input], out, { seed: 99 })));
  t.regex(err!.message, /seed=1234, now 99/);
  // Settings that do not change the output (workers) may differ on a rerun.
  await t.notThrowsAsync(preprocess(tinyConfig([input], out, { workers: 2 })));
});
