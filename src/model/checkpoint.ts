// The language model's training checkpoints: everything needed to continue a run so that its losses equal
// an uninterrupted run's, written through src/train/run-folder.ts's atomic checkpoint folders (a kill at any
// moment leaves the previous checkpoint intact and pointed to by latest.json).
//
//   RUN/checkpoints/step-000120/model.safetensors      weights by HF GPT-2 name (safetensors.ts; numpy-readable)
//                              /optimizer.safetensors  AdamW m.NAME, v.NAME
//                              /state.json             { step, optimizerStep, rng, loader, tokensSeen, config }
//   RUN/checkpoints/latest.json                         { "step": 120, "dir": "step-000120" }

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import type { RngState } from '../rng.js';
import type { GPT } from './gpt.js';
import type { LoaderState } from './loader.js';
import type { AdamW } from '../train/optimizer.js';
import { writeCheckpointDir } from '../train/run-folder.js';
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

/** Write a checkpoint for `state.step`, point latest.json at it, keep the newest `keep`; returns its folder. */
export async function saveCheckpoint(
  runDir: string,
  model: GPT,
  optimizer: AdamW,
  state: CheckpointState,
  keep = 3,
): Promise<string> {
  const opt = new Map<string, SafeTensor>();
  for (const [k, t] of optimizer.stateTensors()) opt.set(k, { dtype: 'F32', ...t });
  return writeCheckpointDir(
    runDir,
    state.step,
    {
      'model.safetensors': encodeSafetensors(variablesToSafeTensors(model.params()), {
        config: JSON.stringify(model.config),
        step: String(state.step),
      }),
      'optimizer.safetensors': encodeSafetensors(opt, { step: String(optimizer.step) }),
      'state.json': JSON.stringify({ ...state, optimizerStep: optimizer.step }, null, 2) + '\n',
    },
    keep,
  );
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
      throw new HyperlmError('CHECKPOINT_CORRUPT', `${join(dir, file)}: cannot read (${(err as Error).message})`, {
        cause: err,
      });
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
    throw new HyperlmError(
      'CHECKPOINT_CORRUPT',
      `${join(dir, 'state.json')}: needs integer "step", "rng" and "loader"`,
    );
  }
  if (model)
    model.loadWeights(
      decodeSafetensors(await read('model.safetensors'), join(dir, 'model.safetensors')).tensors,
      join(dir, 'model.safetensors'),
    );
  if (optimizer) {
    const { tensors } = decodeSafetensors(await read('optimizer.safetensors'), join(dir, 'optimizer.safetensors'));
    optimizer.loadState(state.optimizerStep ?? state.step, tensors);
  }
  return state;
}
