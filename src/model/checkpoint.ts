// Training checkpoints: everything needed to continue a run so that its losses equal an uninterrupted
// run's. Written atomically: a temp folder is filled and fsynced, renamed into place, then the
// `latest.json` pointer is replaced atomically — a kill at any moment leaves the previous checkpoint
// intact and pointed to.
//
//   RUN/checkpoints/step-000120/model.safetensors      weights by HF GPT-2 name (safetensors.ts; numpy-readable)
//                              /optimizer.safetensors  AdamW m.NAME, v.NAME
//                              /state.json             { step, optimizerStep, rng, loader, tokensSeen, config }
//   RUN/checkpoints/latest.json                         { "step": 120, "dir": "step-000120" }

import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import { syncDir, writeJsonAtomic } from '../io/atomic-file.js';
import { asIoFailure, withPath } from '../io/io-failure.js';
import type { RngState } from '../rng.js';
import type { GPT } from './gpt.js';
import type { LoaderState } from './loader.js';
import type { AdamW } from '../train/optimizer.js';
import { decodeSafetensors, encodeSafetensors, variablesToSafeTensors, type SafeTensor } from '../train/safetensors.js';

export interface CheckpointState {
  /** Optimizer steps completed; training resumes at this step. */
  step: number;
  /**
   * Seeds per-step model randomness (GShard's second-expert draw). Dropout needs no saved state: its masks
   * are a function of (config train.seed, step, micro-batch, batch row, layer, site) (dropout.ts).
   */
  rng: RngState;
  /** Training data position. */
  loader: LoaderState;
  /** Input tokens trained on so far (for metrics). */
  tokensSeen: number;
  /** The resolved run configuration (model + training), as saved in RUN/config.json. */
  config: unknown;
}

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
 * rename), points latest.json at it and keeps the newest `keep` checkpoints; returns its folder. Shared
 * by the language-model and VQGAN trainers.
 */
export async function writeCheckpointDir(runDir: string, step: number, files: Record<string, string | Uint8Array>, keep: number): Promise<string> {
  try {
    return await writeCheckpointFiles(runDir, step, files, keep);
  } catch (err) {
    // latest.json still names the last whole checkpoint; the half-written temp folder is removed (best effort: the disk may be gone).
    await rm(join(runDir, 'checkpoints', `.tmp-${checkpointDirName(step)}-${process.pid}`), { recursive: true, force: true }).catch(() => {});
    throw asIoFailure(err, `checkpoint step ${step} was not written; free space or fix the permission, then rerun the training command with --resume: it continues from the last complete checkpoint (latest.json)`);
  }
}

async function writeCheckpointFiles(runDir: string, step: number, files: Record<string, string | Uint8Array>, keep: number): Promise<string> {
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
  for (const n of old.slice(0, Math.max(0, old.length - (keep - 1)))) await rm(join(root, n), { recursive: true, force: true });
  return final;
}

/** Write a checkpoint for `state.step`, point latest.json at it, keep the newest `keep`; returns its folder. */
export async function saveCheckpoint(runDir: string, model: GPT, optimizer: AdamW, state: CheckpointState, keep = 3): Promise<string> {
  const opt = new Map<string, SafeTensor>();
  for (const [k, t] of optimizer.stateTensors()) opt.set(k, { dtype: 'F32', ...t });
  return writeCheckpointDir(runDir, state.step, {
    'model.safetensors': encodeSafetensors(variablesToSafeTensors(model.params()), { config: JSON.stringify(model.config), step: String(state.step) }),
    'optimizer.safetensors': encodeSafetensors(opt, { step: String(optimizer.step) }),
    'state.json': JSON.stringify({ ...state, optimizerStep: optimizer.step }, null, 2) + '\n',
  }, keep);
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
  if (typeof latest.dir !== 'string') throw new HyperlmError('CHECKPOINT_CORRUPT', `${join(root, 'latest.json')}: field "dir" must be a string`);
  return join(root, latest.dir);
}

export interface LoadedCheckpoint extends CheckpointState {
  optimizerStep: number;
  dir: string;
}

/** Read a checkpoint's state; weights go into `model` and, when given, m/v into `optimizer`. */
export async function loadCheckpoint(dir: string, model?: GPT, optimizer?: AdamW): Promise<LoadedCheckpoint> {
  const read = async (file: string): Promise<Buffer> => {
    try {
      return await readFile(join(dir, file));
    } catch (err) {
      throw new HyperlmError('CHECKPOINT_CORRUPT', `${join(dir, file)}: cannot read (${(err as Error).message})`, { cause: err });
    }
  };
  let state: LoadedCheckpoint;
  try {
    state = { ...JSON.parse((await read('state.json')).toString('utf8')), dir } as LoadedCheckpoint;
  } catch (err) {
    if (err instanceof HyperlmError) throw err;
    throw new HyperlmError('CHECKPOINT_CORRUPT', `${join(dir, 'state.json')}: not valid JSON`, { cause: err });
  }
  if (!Number.isInteger(state.step) || !state.loader || !Array.isArray(state.rng)) {
    throw new HyperlmError('CHECKPOINT_CORRUPT', `${join(dir, 'state.json')}: needs integer "step", "rng" and "loader"`);
  }
  if (model) model.loadWeights(decodeSafetensors(await read('model.safetensors'), join(dir, 'model.safetensors')).tensors, join(dir, 'model.safetensors'));
  if (optimizer) {
    const { tensors } = decodeSafetensors(await read('optimizer.safetensors'), join(dir, 'optimizer.safetensors'));
    optimizer.loadState(state.optimizerStep ?? state.step, tensors);
  }
  return state;
}
