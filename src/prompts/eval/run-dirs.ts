// Where `npm run eval` finds its model and its n-gram training data. The model: `--run`, else the bundled
// `data/model` when it exists, else the newest run under `runs/` (by the time of its latest checkpoint).
// The n-gram: `--ngram-data DIR`, else the preprocessed folder the run trained on, which a training run
// records in RUN/config.json as `data` (src/model/train-config.ts `RunConfig.data`); a bundle records none.

import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { HyperlmError } from '../../errors.js';

async function mtime(path: string): Promise<number | undefined> {
  return stat(path).then((s) => s.mtimeMs, () => undefined);
}

/** The default model folder (see the file comment), or undefined when there is none. */
export async function defaultRunDir(cwd = process.cwd()): Promise<string | undefined> {
  const bundled = join(cwd, 'data/model');
  if ((await mtime(join(bundled, 'config.json'))) !== undefined) return bundled;
  const runs = join(cwd, 'runs');
  const names = await readdir(runs).catch(() => [] as string[]);
  let best: { dir: string; time: number } | undefined;
  for (const name of names) {
    const dir = join(runs, name);
    const time = await mtime(join(dir, 'checkpoints', 'latest.json'));
    if (time !== undefined && (!best || time > best.time)) best = { dir, time };
  }
  return best?.dir;
}

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
  if (typeof data !== 'string') throw new HyperlmError('CHECKPOINT_CORRUPT', `${configPath}: field "data" must be a string`);
  const candidates = isAbsolute(data) ? [data] : [resolve(cwd, data), resolve(runDir, '..', '..', data)];
  for (const dir of candidates) if ((await mtime(join(dir, 'manifest.json'))) !== undefined) return dir;
  throw new HyperlmError('INPUT_NOT_FOUND',
    `${configPath}: its data folder ${JSON.stringify(data)} (needed to train the n-gram baseline) is not at ${candidates.join(' or ')}; pass --ngram-data DIR`);
}
