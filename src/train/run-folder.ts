// A training run's folder, shared by the LM trainer (src/model/train.ts) and the VQGAN trainer
// (src/vqgan/train.ts): atomic checkpoint folders with a `latest.json` pointer, the guard against training
// over a run that already has checkpoints, the metrics log that a resumed run truncates to its checkpoint,
// the worker-count rule, and when to checkpoint. Layout:
//   RUN/checkpoints/step-000120/…   one folder per checkpoint, filled in a temp folder, fsynced, renamed
//   RUN/checkpoints/latest.json     { "step": 120, "dir": "step-000120" }, replaced atomically
//   RUN/metrics.jsonl               one JSON object per line, each with a "step"

import { appendFile, mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import { syncDir, writeJsonAtomic } from '../io/atomic-file.js';
import { asIoFailure, withPath } from '../io/io-failure.js';

export function checkpointDirName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

async function writeSynced(path: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    throw withPath(err, path);
  } finally {
    await fh.close();
  }
}

/**
 * Writes `files` into RUN/checkpoints/step-N atomically (a temp folder, each file fsynced, then one
 * rename), points latest.json at it and keeps the newest `keep` checkpoints; returns its folder. A write
 * that fails (disk full, permission, device) is IO_FAILED naming the file; latest.json still names the
 * last whole checkpoint.
 */
export async function writeCheckpointDir(
  runDir: string,
  step: number,
  files: Record<string, string | Uint8Array>,
  keep: number,
): Promise<string> {
  try {
    return await writeCheckpointFiles(runDir, step, files, keep);
  } catch (err) {
    // the half-written temp folder is removed (best effort: the disk may be gone)
    await rm(join(runDir, 'checkpoints', `.tmp-${checkpointDirName(step)}-${process.pid}`), {
      recursive: true,
      force: true,
    }).catch(() => {});
    throw asIoFailure(
      err,
      `checkpoint step ${step} was not written; free space or fix the permission, then rerun the training command with --resume: it continues from the last complete checkpoint (latest.json)`,
    );
  }
}

async function writeCheckpointFiles(
  runDir: string,
  step: number,
  files: Record<string, string | Uint8Array>,
  keep: number,
): Promise<string> {
  const root = join(runDir, 'checkpoints');
  await mkdir(root, { recursive: true });
  const name = checkpointDirName(step);
  const tmp = join(root, `.tmp-${name}-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  for (const [file, data] of Object.entries(files)) await writeSynced(join(tmp, file), data);
  await syncDir(tmp);
  const final = join(root, name);
  await rm(final, { recursive: true, force: true });
  await rename(tmp, final);
  await syncDir(root);
  await writeJsonAtomic(join(root, 'latest.json'), { step, dir: name });
  const old = (await readdir(root)).filter((n) => /^step-\d+$/.test(n) && n !== name).sort();
  for (const n of old.slice(0, Math.max(0, old.length - (keep - 1))))
    await rm(join(root, n), { recursive: true, force: true });
  return final;
}

/** The folder of the newest checkpoint of a run, or undefined when it has none. */
export async function latestCheckpoint(runDir: string): Promise<string | undefined> {
  const root = join(runDir, 'checkpoints');
  let text: string;
  try {
    text = await readFile(join(root, 'latest.json'), 'utf8');
  } catch {
    return undefined;
  }
  const latest = JSON.parse(text) as { dir?: unknown };
  if (typeof latest.dir !== 'string')
    throw new HyperlmError('CHECKPOINT_CORRUPT', `${join(root, 'latest.json')}: field "dir" must be a string`);
  return join(root, latest.dir);
}

/**
 * The run's latest checkpoint when continuing it. A run folder that already has checkpoints is only
 * trained further with `resume`, so a second `npm run train` cannot overwrite a run by accident.
 */
export async function existingCheckpoint(runDir: string, resume: boolean | undefined): Promise<string | undefined> {
  const existing = await latestCheckpoint(runDir);
  if (existing && !resume) {
    throw new HyperlmError(
      'RUN_HAS_CHECKPOINTS',
      `${runDir} already has checkpoints (${existing}); pass --resume to continue it or choose another --out`,
    );
  }
  return existing;
}

/** RUN/metrics.jsonl: lines after a resumed run's checkpoint step are dropped (they will be recomputed). */
export class MetricsLog {
  private constructor(
    readonly path: string,
    readonly history: Array<Record<string, number>>,
  ) {}

  /** Opens the log at `step` (0 for a fresh run), rewriting it without the lines of later steps. */
  static async open(path: string, step: number): Promise<MetricsLog> {
    const text = await readFile(path, 'utf8').catch(() => '');
    const lines = text.split('\n').filter((l) => l.trim() !== '' && (JSON.parse(l) as { step: number }).step <= step);
    await writeFile(path, lines.map((l) => l + '\n').join(''));
    return new MetricsLog(
      path,
      lines.map((l) => JSON.parse(l) as Record<string, number>),
    );
  }

  async append(line: Record<string, unknown>): Promise<void> {
    await appendFile(this.path, JSON.stringify(line) + '\n');
    this.history.push(line as Record<string, number>);
  }
}

/**
 * Data-parallel worker count: at most one worker per batch row (`unit` names a row in the message), at
 * least 1. A request above the cap is logged, not an error.
 */
export function workerCount(
  requested: number | undefined,
  batchSize: number,
  unit: string,
  log: (line: string) => void,
): number {
  const workers = Math.max(1, Math.min(requested ?? 1, batchSize));
  if ((requested ?? 1) > workers)
    log(`workers: ${requested} requested, using ${workers} (one ${unit} per worker at batchSize ${batchSize})`);
  return workers;
}

/** Checkpoint after this step: every `every` steps, at the last step, and when interrupted. */
export function checkpointDue(step: number, end: number, every: number, interrupted: boolean): boolean {
  return step % every === 0 || step === end || interrupted;
}
