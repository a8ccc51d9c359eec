// Hostile inputs and hostile machines (issue 13): a JSONL image that is not base64 drops that image and
// keeps the page; a text too small for the default vocabulary trains a capped one with a warning naming
// the flags; a disk that fills up or turns read-only mid-run ends in `error [IO_FAILED]` naming the file
// and saying the same command resumes — and it does, byte-identically. The disk tests use a real small
// tmpfs (mount needs root; they are skipped with a logged reason otherwise) and /dev/full (everywhere).
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HyperlmError } from '../src/errors.js';
import { asIoFailure } from '../src/io/io-failure.js';
import { preprocess } from '../src/pipeline/preprocess.js';
import { IndexedDatasetWriter } from '../src/shards/megatron.js';
import { outputSnapshot, REPO, smallInput, tempDir, tinyConfig, walk } from './helpers/fixtures.js';

const tokenizerRun = (async () => {
  const out = tempDir('hostile-tok');
  await preprocess(tinyConfig([smallInput(4, 2)], out, { workers: 0 }));
  return join(out, 'tokenizer.model');
})();

/** Mounts a tmpfs of `kb` KiB at a fresh folder, or returns undefined (not root, no mount). */
function mountTmpfs(kb: number): string | undefined {
  const dir = tempDir('tmpfs');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kb}k`, 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    return undefined;
  }
}
const unmount = (dir: string): void => {
  execFileSync('umount', [dir], { stdio: 'ignore' });
};
const probe = mountTmpfs(64);
if (probe) unmount(probe);
else
  console.log(
    'preprocess-hostile-input: cannot mount a tmpfs (needs root): the disk-full and read-only tests are skipped',
  );
const withTmpfs = probe ? test.serial : test.skip;

test('a JSONL image that is not base64 is dropped with a reason; the page is kept', async (t) => {
  const input = tempDir('jsonl-img');
  const html = `<html><body><p>${'A page whose one image is broken. '.repeat(20)}</p><img src="https://ex.com/a.png" alt="a"></body></html>`;
  writeFileSync(
    join(input, 'pages.jsonl'),
    [
      JSON.stringify({ url: 'https://ex.com/1', html, images: { 'https://ex.com/a.png': 'not base64 at all!' } }),
      JSON.stringify({ url: 'https://ex.com/2', html: html.replace('broken', 'fine') }),
    ].join('\n'),
  );
  const m = await preprocess(
    tinyConfig([input], tempDir('jsonl-img-out'), { tokenizer: await tokenizerRun, images: 'none' }),
  );
  t.is(m.documents.in, 2);
  t.is(m.documents.out, 2, JSON.stringify(m.skipped));
  t.false('INPUT_BAD_RECORD' in m.skipped);
  t.is(m.images.dropped['not-base64'], 1);
});

test('a small input trains a capped vocabulary with a warning naming --vocab-size and --tokenizer', async (t) => {
  const warnings: string[] = [];
  const out = tempDir('cap');
  const m = await preprocess(tinyConfig([smallInput(2, 0)], out, { vocabSize: 16000 }), {
    warn: (l) => warnings.push(l),
  });
  t.is(warnings.length, 1);
  t.regex(warnings[0], /allow only \d+ of the 16000 pieces/);
  t.regex(warnings[0], /--vocab-size N/);
  t.regex(warnings[0], /--tokenizer FILE/);
  const cap = Number(/only (\d+) of/.exec(warnings[0])![1]);
  t.true(cap > 300 && cap < 16000);
  t.true(m.documents.out > 0);
  // The layout adds the image block (and padding) to the trained pieces; the pieces are the capped number.
  t.true(
    m.tokenizer.vocabSize >= cap && m.tokenizer.vocabSize < 16000 + (m.config.imageCodes as number),
    String(m.tokenizer.vocabSize),
  );
});

test('a write to a full device names the file (/dev/full, no root needed)', async (t) => {
  const dir = tempDir('devfull');
  symlinkSync('/dev/full', join(dir, 's.bin.tmp'));
  const w = new IndexedDatasetWriter(join(dir, 's'), 'int32');
  const raw = t.throws(() => w.addSequence(new Int32Array(300_000))); // > the 1 MiB write buffer: flushes
  const err = asIoFailure(raw, 'rerun the same command to resume') as HyperlmError;
  t.true(err instanceof HyperlmError);
  t.is(err.code, 'IO_FAILED');
  t.regex(
    err.message,
    new RegExp(`${join(dir, 's.bin.tmp')}: no space left on device \\(ENOSPC during write\\); rerun the same command`),
  );
});

withTmpfs(
  'disk full mid-run: IO_FAILED naming the file; after freeing space the same command ends byte-identical',
  async (t) => {
    const tokenizer = await tokenizerRun;
    const input = smallInput(8, 8);
    const reference = tempDir('full-ref');
    await preprocess(tinyConfig([input], reference, { tokenizer, shardDocs: 2 }));
    const used = walk(reference).reduce((a, f) => a + readFileSync(f).length, 0);
    const mnt = mountTmpfs(1024)!;
    try {
      const out = join(mnt, 'out');
      // Leave room for roughly half of the output.
      const filler = join(mnt, 'filler');
      writeFileSync(filler, Buffer.alloc(1024 * 1024 - Math.round(used / 2) - 8192));
      const err = await t.throwsAsync(preprocess(tinyConfig([input], out, { tokenizer, shardDocs: 2 })));
      t.true(err instanceof HyperlmError, err?.stack);
      t.is((err as HyperlmError).code, 'IO_FAILED');
      t.regex(err!.message, new RegExp(`^${out}/\\S+: no space left on device \\(ENOSPC`));
      t.regex(err!.message, /rerun the same command to resume/);
      t.deepEqual(
        readdirSync(out).filter((f) => f.endsWith('.tmp')),
        [],
        'no half-written file under the final names or as .tmp',
      );
      // The command line prints it as one line in the project's format, not a stack trace.
      const cli = spawnSync(
        process.execPath,
        [
          join(REPO, 'dist/scripts/preprocess.js'),
          '--input',
          input,
          '--out',
          out,
          '--tokenizer',
          tokenizer,
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
        ],
        { encoding: 'utf8' },
      );
      t.is(cli.status, 2, cli.stderr);
      t.regex(
        cli.stderr,
        /^error \[IO_FAILED\]: \S+: no space left on device \(ENOSPC[^\n]*rerun the same command to resume\n$/,
      );
      rmSync(filler);
      await preprocess(tinyConfig([input], out, { tokenizer, shardDocs: 2 }));
      t.deepEqual(outputSnapshot(out), outputSnapshot(reference));
    } finally {
      unmount(mnt);
    }
  },
);

withTmpfs('a read-only output folder ends in IO_FAILED naming it', async (t) => {
  const mnt = mountTmpfs(256)!;
  try {
    mkdirSync(join(mnt, 'out'));
    execFileSync('mount', ['-o', 'remount,ro', mnt], { stdio: 'ignore' });
    const err = await t.throwsAsync(
      preprocess(tinyConfig([smallInput(2, 0)], join(mnt, 'out'), { tokenizer: await tokenizerRun })),
    );
    t.is((err as HyperlmError).code, 'IO_FAILED', err?.stack);
    t.regex(err!.message, new RegExp(`^${join(mnt, 'out')}\\S*: read-only file system \\(EROFS`));
  } finally {
    unmount(mnt);
  }
});
