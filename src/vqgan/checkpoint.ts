// VQGAN training checkpoints, written like the language model's (src/model/checkpoint.ts, whose folder
// naming and latest.json pointer are reused): a temp folder is filled and fsynced, renamed into place,
// then latest.json is replaced atomically, so a kill at any moment leaves the previous one intact.
// Unlike the LM's, a checkpoint holds two Adam states (tfjs's) and the dead-code tracker.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { HyperlmError } from '../errors.js';
import type { RngState } from '../rng.js';
import { writeCheckpointDir } from '../train/index.js';
import { decodeSafetensors, encodeSafetensors, variablesToSafeTensors, type SafeTensor } from '../train/safetensors.js';
import type { BatcherState } from './image-batches.js';
import type { VqganRunConfig } from './train-config.js';
import type { Vqgan } from './vqgan.js';

export interface VqganCheckpointState {
  /** Steps completed; training resumes at this step. */
  step: number;
  data: BatcherState;
  deadCodes: { lastUsed: number[]; rng: RngState | number };
  /** Adam's running β1^t, β2^t (float32) of the generator and discriminator optimizers. tfjs's setWeights
   *  recomputes them with pow(), which can differ from the running product in the last bit; restoring
   *  the saved values keeps a resumed run bit-identical. */
  adamPowers: { generator: [number, number]; discriminator: [number, number] };
  config: VqganRunConfig;
}

/** tfjs keeps the bias-correction powers in these (untyped-public) variables. */
type AdamInternals = { accBeta1: tf.Variable; accBeta2: tf.Variable };

/** Current β1^t, β2^t of both optimizers (for VqganCheckpointState.adamPowers). */
export function adamPowers(model: Vqgan): VqganCheckpointState['adamPowers'] {
  const get = (o: tf.AdamOptimizer): [number, number] => {
    const a = o as unknown as AdamInternals;
    return [a.accBeta1.dataSync()[0], a.accBeta2.dataSync()[0]];
  };
  return { generator: get(model.generatorOptimizer), discriminator: get(model.discriminatorOptimizer) };
}

function setAdamPowers(model: Vqgan, p: VqganCheckpointState['adamPowers']): void {
  for (const [o, v] of [
    [model.generatorOptimizer, p.generator],
    [model.discriminatorOptimizer, p.discriminator],
  ] as const) {
    const a = o as unknown as AdamInternals;
    tf.tidy(() => {
      a.accBeta1.assign(tf.scalar(v[0]));
      a.accBeta2.assign(tf.scalar(v[1]));
    });
  }
}

/** Both optimizers' slots as safetensors entries, plus their order (tfjs pairs slots with variables by position). */
async function optimizerTensors(model: Vqgan): Promise<{ tensors: Map<string, SafeTensor>; order: string[] }> {
  const tensors = new Map<string, SafeTensor>();
  const order: string[] = [];
  for (const w of await model.getOptimizerState()) {
    const data = await w.tensor.data();
    tensors.set(
      w.name,
      w.tensor.dtype === 'int32'
        ? { dtype: 'I32', shape: w.tensor.shape, data: Int32Array.from(data as Int32Array) }
        : { dtype: 'F32', shape: w.tensor.shape, data: Float32Array.from(data as Float32Array) },
    );
    order.push(w.name);
    if (w.name.endsWith('/iter')) w.tensor.dispose();
  }
  return { tensors, order };
}

/**
 * Write the checkpoint for `state.step`, point latest.json at it, keep the newest `keep`; returns its folder.
 *
 *   RUN/checkpoints/step-000120/model.safetensors      every variable by Vqgan.params() name, F32;
 *                                                      __metadata__.config = the model config (JSON)
 *                              /optimizer.safetensors  both Adams: generator/iter, generator/<param>/m|v,
 *                                                      discriminator/…; __metadata__.order = slot order
 *                              /state.json             { step, data (epoch, cursor, crop RNG),
 *                                                        deadCodes (lastUsed[K], rng), config (run config) }
 *   RUN/checkpoints/latest.json                         { "step": 120, "dir": "step-000120" }
 */
export async function saveVqganCheckpoint(
  runDir: string,
  model: Vqgan,
  state: VqganCheckpointState,
  keep = 2,
): Promise<string> {
  const opt = await optimizerTensors(model);
  return writeCheckpointDir(
    runDir,
    state.step,
    {
      'model.safetensors': encodeSafetensors(variablesToSafeTensors(model.params()), {
        config: JSON.stringify(model.config),
        step: String(state.step),
      }),
      'optimizer.safetensors': encodeSafetensors(opt.tensors, { order: JSON.stringify(opt.order) }),
      'state.json': JSON.stringify(state) + '\n',
    },
    keep,
  );
}

async function readIn(dir: string, file: string): Promise<Buffer> {
  try {
    return await readFile(join(dir, file));
  } catch (err) {
    throw new HyperlmError('CHECKPOINT_CORRUPT', `${join(dir, file)}: cannot read (${(err as Error).message})`, {
      cause: err,
    });
  }
}

/** Read a checkpoint's state.json (no weights). */
export async function readVqganCheckpointState(dir: string): Promise<VqganCheckpointState> {
  let state: VqganCheckpointState;
  try {
    state = JSON.parse((await readIn(dir, 'state.json')).toString('utf8')) as VqganCheckpointState;
  } catch (err) {
    if (err instanceof HyperlmError) throw err;
    throw new HyperlmError('CHECKPOINT_CORRUPT', `${join(dir, 'state.json')}: not valid JSON`, { cause: err });
  }
  if (!Number.isInteger(state.step) || !state.data || !state.deadCodes || !state.config) {
    throw new HyperlmError(
      'CHECKPOINT_CORRUPT',
      `${join(dir, 'state.json')}: needs integer "step", "data", "deadCodes" and "config"`,
    );
  }
  return state;
}

/** Weights into `model`; with `training`, also both Adam states and the dead-code tracker. */
export async function loadVqganCheckpoint(dir: string, model: Vqgan, training: boolean): Promise<VqganCheckpointState> {
  const state = await readVqganCheckpointState(dir);
  const weights = join(dir, 'model.safetensors');
  model.loadWeights(decodeSafetensors(await readIn(dir, 'model.safetensors'), weights).tensors, weights);
  if (training) {
    const path = join(dir, 'optimizer.safetensors');
    const { tensors, metadata } = decodeSafetensors(await readIn(dir, 'optimizer.safetensors'), path);
    const order = JSON.parse(metadata.order ?? '[]') as string[];
    if (order.length !== tensors.size)
      throw new HyperlmError(
        'CHECKPOINT_CORRUPT',
        `${path}: __metadata__.order lists ${order.length} slots, the file has ${tensors.size}`,
      );
    const named = order.map((name) => {
      const t = tensors.get(name);
      if (!t) throw new HyperlmError('CHECKPOINT_CORRUPT', `${path}: slot ${name} is missing`);
      return {
        name,
        tensor: t.dtype === 'I32' ? tf.scalar(t.data[0], 'int32') : tf.tensor(t.data, t.shape, 'float32'),
      };
    });
    await model.setOptimizerState(named);
    tf.dispose(named.map((n) => n.tensor));
    if (state.adamPowers) setAdamPowers(model, state.adamPowers);
    model.deadCodes.setState(state.deadCodes);
  }
  return state;
}
