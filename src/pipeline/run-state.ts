// The on-disk state of a preprocessing run besides its shards: DIR/.state/config.json (the output
// configuration a rerun must match), DIR/.state/chunk-NNNNN.json (one per finished chunk, written last,
// so the contiguous prefix of them is what a rerun keeps), DIR/skipped.jsonl, and the input size the
// progress bar counts against. After datatrove's completion markers per task; unlike datatrove the
// unit of resumption is a chunk of documents inside one run, not a whole task, and a rerun must
// match the saved configuration. Split from preprocess.ts, which drives the run.
import { statSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import type { SourceStats } from '../data/sources.js';
import { fileKindForPath } from '../data/walk.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic-file.js';
import type { ChunkRecord } from './chunk.js';

export async function checkSameConfig(path: string, current: Record<string, unknown>): Promise<void> {
  if (await exists(path)) {
    const before = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    for (const key of new Set([...Object.keys(before), ...Object.keys(current)])) {
      if (JSON.stringify(before[key]) !== JSON.stringify(current[key])) {
        throw new HyperlmError(
          'CONFIG_BAD_VALUE',
          `${path}: this output folder was written with ${key}=${JSON.stringify(before[key])}, now ${JSON.stringify(current[key])}; use another --out or delete the folder`,
        );
      }
    }
    return;
  }
  await writeJsonAtomic(path, current);
}

export async function loadChunkRecords(stateDir: string): Promise<ChunkRecord[]> {
  const names = (await readdir(stateDir)).filter((n) => /^chunk-\d{5}\.json$/.test(n)).sort();
  const records: ChunkRecord[] = [];
  // Only a contiguous prefix counts: chunks are finalized in order.
  for (const [i, name] of names.entries()) {
    if (name !== `chunk-${String(i).padStart(5, '0')}.json`) break;
    records.push(JSON.parse(await readFile(join(stateDir, name), 'utf8')) as ChunkRecord);
  }
  return records;
}

/** Temp files of an interrupted run (`*.tmp`) are never part of the output. */
export async function removeTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir)) if (name.endsWith('.tmp')) await rm(join(dir, name), { force: true });
}

export async function writeSkipped(path: string, chunks: ChunkRecord[], sources: SourceStats): Promise<void> {
  const lines = [
    ...sources.errors.map((e) => JSON.stringify({ stage: 'read', reason: e.code, source: e.where, detail: e.message })),
    ...chunks.flatMap((c) =>
      c.skips.map((s) =>
        JSON.stringify({ stage: 'document', index: s.index, reason: s.reason, source: s.source, detail: s.detail }),
      ),
    ),
  ];
  await writeFileAtomic(path, lines.map((l) => l + '\n').join(''));
}

/**
 * The bytes the progress bar counts against: the documents' sizes on disk, or undefined when an input
 * is compressed (.gz): progress counts uncompressed document bytes, which a compressed file's size
 * does not bound, so the bar would sit at 100% long before the end; only the rates are shown then.
 */
export async function inputBytes(inputs: string[]): Promise<number | undefined> {
  let total = 0;
  let compressed = false;
  for (const input of inputs) {
    const s = await stat(input).catch(() => undefined);
    if (!s) throw new HyperlmError('INPUT_NOT_FOUND', `--input ${input}: no such file or folder`);
    if (s.isFile()) {
      total += s.size;
      compressed ||= input.endsWith('.gz');
      continue;
    }
    for (const entry of await readdir(input, { recursive: true, withFileTypes: true })) {
      // Only files that become documents count (images are read through pages).
      // statSync: thousands of awaited fs.promises.stat calls cost main-thread CPU taken from the workers.
      if (entry.isFile() && fileKindForPath(entry.name).kind !== 'skip') {
        total += statSync(join(entry.parentPath, entry.name)).size;
        compressed ||= entry.name.endsWith('.gz');
      }
    }
  }
  return compressed ? undefined : total;
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * mkdir -p that reports the real failure: Node's recursive mkdir says ENOENT when the device is
 * read-only (EROFS) or the folder not writable, so the leaf is retried alone to get the true code.
 */
export async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err;
    await mkdir(dir);
  }
}
