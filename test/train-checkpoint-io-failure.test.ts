// A training checkpoint that cannot be written (disk full) ends in `error [IO_FAILED]` naming the file
// and saying that rerunning with --resume continues from the last complete checkpoint, which latest.json still names.
// Uses a real small tmpfs (mount needs root; skipped with a logged reason otherwise).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HyperlmError } from '../src/errors.js';
import { latestCheckpoint, writeCheckpointDir } from '../src/train/index.js';
import { tempDir } from './helpers/fixtures.js';

function mountTmpfs(kb: number): string | undefined {
  const dir = tempDir('ck-tmpfs');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kb}k`, 'tmpfs', dir], { stdio: 'ignore' });
    return dir;
  } catch {
    return undefined;
  }
}
const mnt = mountTmpfs(256);
if (!mnt) console.log('train-checkpoint-io-failure: cannot mount a tmpfs (needs root): skipped');

(mnt ? test : test.skip)(
  'a checkpoint on a full disk: IO_FAILED naming the file; latest.json keeps the last whole one',
  async (t) => {
    try {
      const run = join(mnt!, 'run');
      await writeCheckpointDir(run, 1, { 'model.safetensors': new Uint8Array(10_000), 'state.json': '{}' }, 3);
      const err = await t.throwsAsync(
        writeCheckpointDir(run, 2, { 'model.safetensors': new Uint8Array(512 * 1024), 'state.json': '{}' }, 3),
      );
      t.true(err instanceof HyperlmError, err?.stack);
      t.is((err as HyperlmError).code, 'IO_FAILED');
      t.regex(
        err!.message,
        /\/checkpoints\/\.tmp-step-000002-\d+\/model\.safetensors: no space left on device \(ENOSPC/,
      );
      t.regex(err!.message, /rerun the training command with --resume: it continues from the last complete checkpoint/);
      t.is(await latestCheckpoint(run), join(run, 'checkpoints', 'step-000001'));
      t.deepEqual(readdirSync(join(run, 'checkpoints')).sort(), ['latest.json', 'step-000001']);
    } finally {
      execFileSync('umount', [mnt!], { stdio: 'ignore' });
    }
  },
);
