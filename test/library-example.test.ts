// The README's library example, run as written (only the folder names differ) against this checkout:
// preprocess a folder, train a tiny model for a few steps, load the run, ask it for a title and an infill.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { REPO, smallInput, tempDir } from './helpers/fixtures.js';
import { writeReadmeExample } from './helpers/readme-example.js';

test('the README library example runs end to end', (t) => {
  const dir = tempDir('lib');
  const paths = { input: smallInput(4, 4), out: join(dir, 'data'), run: join(dir, 'run') };
  const file = writeReadmeExample(dir, paths, join(REPO, 'dist/src/index.js'));
  const stdout = execFileSync(process.execPath, [file], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 240_000,
  });
  t.is(stdout, ''); // the example reports on stderr; stdout stays empty
  t.true(existsSync(join(paths.out, 'manifest.json')));
  t.true(existsSync(join(paths.run, 'checkpoints', 'latest.json')));
});
