// The README's library example as a runnable ES module: the first ```ts block under "## Library", with its
// folder names replaced by test folders and its `from 'hyperlm'` pointed where the test wants (the
// checkout's dist/src/index.js, or the package installed from the packed tarball).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './fixtures.js';

export function readmeExample(paths: { input: string; out: string; run: string }, hyperlm = 'hyperlm'): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Library\n'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error('README.md: no ```ts block under "## Library"');
  return match[1]
    .replaceAll("'my-pages/'", JSON.stringify(paths.input))
    .replaceAll("'out/mine'", JSON.stringify(paths.out))
    .replaceAll("'runs/mine'", JSON.stringify(paths.run))
    .replace("from 'hyperlm'", `from ${JSON.stringify(hyperlm)}`);
}

/** Writes the example to DIR/example.mjs and returns its path. */
export function writeReadmeExample(
  dir: string,
  paths: { input: string; out: string; run: string },
  hyperlm?: string,
): string {
  const file = join(dir, 'example.mjs');
  writeFileSync(file, readmeExample(paths, hyperlm));
  return file;
}
