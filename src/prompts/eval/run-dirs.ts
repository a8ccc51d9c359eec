// Where `npm run eval` finds its model and its n-gram training data. The model: `--run`, else the bundled
// `data/model` when it exists, else the newest run under `runs/` (by the time of its latest checkpoint).
// The n-gram: `--ngram-data DIR`, else the preprocessed folder the run trained on, which a training run
// records in RUN/config.json as `data` (src/model/train-config.ts `RunConfig.data`); a bundle records none.

import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { HyperlmError } from '../../errors.js';

async function mtime(path: string): Promise<number | undefined> {
  return stat(path).then(
    (s) => s.mtimeMs,
    () => undefined,
  );
}

export { defaultRunDir } from '../../model/load-run.js';

/**
 * The preprocessed data folder a training run trained on (RUN/config.json `data`), resolved against the
 * working directory (where `npm run train` ran) and then the run's parent; undefined for a bundle.
 */
export async function runDataDir(runDir: string, cwd = process.cwd()): Promise<string | undefined> {
  const configPath = join(runDir, 'config.json');
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new HyperlmError('INPUT_NOT_FOUND', `${configPath} cannot be read as JSON`, { cause: err });
  }
  const data = json.data;
  if (data === undefined) return undefined;
  if (typeof data !== 'string')
    throw new HyperlmError('CHECKPOINT_CORRUPT', `${configPath}: field "data" must be a string`);
  const candidates = isAbsolute(data) ? [data] : [resolve(cwd, data), resolve(runDir, '..', '..', data)];
  for (const dir of candidates) if ((await mtime(join(dir, 'manifest.json'))) !== undefined) return dir;
  throw new HyperlmError(
    'INPUT_NOT_FOUND',
    `${configPath}: its data folder ${JSON.stringify(data)} (needed to train the n-gram baseline) is not at ` +
      `${candidates.join(' or ')}; pass --ngram-data DIR`,
  );
}
