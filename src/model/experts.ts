// Adding and removing DEMix domain experts in a trained run (Gururangan et al. 2021, "DEMix Layers", §5:
// a new domain's expert starts as a copy of the existing expert most likely for that domain's data —
// lowest validation loss when all its tokens are routed to it — and can then be trained alone with
// `--train-only-expert`; removing a domain drops its expert with no retraining). Both rewrite the
// latest checkpoint in place (atomically, same step) and RUN/config.json; AdamW moments follow the
// renamed experts, a new expert starts with zero moments.

import { writeJsonAtomic } from '../io/atomic-file.js';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { latestCheckpoint } from '../train/index.js';
import { GPT } from './gpt.js';
import { ShardLoader, readDataInfo } from './loader.js';
import { AdamW } from '../train/optimizer.js';
import type { RunConfig } from './train-config.js';
import { evaluate, readRunConfig } from './train.js';

/** `transformer.h.1.mlp.experts.3.c_fc.weight` → { prefix: 'transformer.h.1.mlp.experts.', k: 3, rest: '.c_fc.weight' } */
function expertOf(name: string): { prefix: string; k: number; rest: string } | undefined {
  const m = /^(.*\.mlp\.experts\.)(\d+)(\..*)$/.exec(name);
  return m ? { prefix: m[1], k: Number(m[2]), rest: m[3] } : undefined;
}

async function openRun(runDir: string): Promise<{ config: RunConfig; ckpt: string; names: string[] }> {
  const config = await readRunConfig(runDir);
  const { moe } = config.model;
  if (!(moe.every > 0 && moe.router === 'demix'))
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `${runDir}: experts add/remove needs a demix run, this one has moe.router ${moe.router} (every ${moe.every})`,
    );
  const ckpt = await latestCheckpoint(runDir);
  if (!ckpt) throw new HyperlmError('INPUT_NOT_FOUND', `${runDir} has no checkpoint to change`);
  const names = moe.domains?.length ? [...moe.domains] : Array.from({ length: moe.experts }, (_, i) => String(i));
  return { config, ckpt, names };
}

/** Validation loss of domain `key`'s data under each existing expert (train split if it has no valid data). */
export async function expertLosses(model: GPT, config: RunConfig, key: string, batches = 4): Promise<number[]> {
  const data = await readDataInfo(config.data);
  const id = data.domains[key];
  if (id === undefined)
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `domain ${JSON.stringify(key)} is not in ${config.data}/manifest.json (have ${Object.keys(data.domains).join(', ')})`,
    );
  const losses: number[] = [];
  for (let e = 0; e < config.model.moe.experts; e++) {
    const opts = {
      blockSize: config.model.blockSize,
      seed: config.train.seed,
      byDomain: true,
      shuffle: false,
      domainOf: (d: number) => (d === id ? e : -1),
      cm3: config.train.cm3,
    };
    const loader = await ShardLoader.open(config.data, { ...opts, split: 'valid' }).catch(() =>
      ShardLoader.open(config.data, { ...opts, split: 'train' }),
    );
    losses.push(await evaluate(model, loader, batches, config.train.batchSize));
    await loader.close();
  }
  return losses;
}

/** Rebuild the run with `experts` renamed by `map(oldIndex) → newIndex | -1` and optionally one new expert copied from `copyFrom`. */
async function rewrite(
  runDir: string,
  config: RunConfig,
  ckpt: string,
  domains: string[],
  map: (k: number) => number,
  copyFrom?: number,
): Promise<string> {
  const old = new GPT(config.model, 0);
  const oldOpt = new AdamW(config.train.optim);
  const state = await loadCheckpoint(ckpt, old, oldOpt);
  const next: RunConfig = {
    ...config,
    model: { ...config.model, moe: { ...config.model.moe, experts: domains.length, domains } },
  };
  const model = new GPT(next.model, 0);
  const rename = (name: string): string | undefined => {
    const e = expertOf(name);
    if (!e) return name;
    const k = map(e.k);
    return k < 0 ? undefined : `${e.prefix}${k}${e.rest}`;
  };
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, v] of old.params()) {
    const to = rename(name);
    const t = { shape: v.shape, data: v.dataSync() as Float32Array };
    if (to) weights.set(to, t);
    const e = expertOf(name);
    if (copyFrom !== undefined && e && e.k === copyFrom) weights.set(`${e.prefix}${domains.length - 1}${e.rest}`, t);
  }
  model.loadWeights(weights, ckpt);
  const moments = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [key, t] of oldOpt.stateTensors()) {
    const to = rename(key.slice(2));
    if (to) moments.set(`${key.slice(0, 2)}${to}`, t);
  }
  const opt = new AdamW(next.train.optim);
  opt.loadState(state.optimizerStep, moments);
  await writeJsonAtomic(join(runDir, 'config.json'), next);
  // the data selection changes with the experts, so the data position restarts at the next epoch
  const loader = { epoch: state.loader.epoch + 1, cursor: 0, pending: {} };
  const dir = await saveCheckpoint(
    runDir,
    model,
    opt,
    { step: state.step, rng: state.rng, loader, tokensSeen: state.tokensSeen, config: next },
    config.train.keepCheckpoints,
  );
  for (const x of [old, model]) x.dispose();
  for (const x of [oldOpt, opt]) x.dispose();
  return dir;
}

/** Add an expert for data domain `key`, initialised from the existing expert with the lowest loss on it. */
export async function addExpert(
  runDir: string,
  key: string,
  log: (line: string) => void = () => {},
): Promise<{ expert: number; copiedFrom: number; losses: number[] }> {
  const { config, ckpt, names } = await openRun(runDir);
  if (names.includes(key))
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `${runDir} already has an expert for domain ${JSON.stringify(key)} (expert ${names.indexOf(key)})`,
    );
  const model = new GPT(config.model, 0);
  await loadCheckpoint(ckpt, model);
  const losses = await expertLosses(model, config, key, config.train.evalBatches);
  model.dispose();
  const copiedFrom = losses.indexOf(Math.min(...losses.map((l) => (Number.isFinite(l) ? l : Infinity))));
  log(
    `domain ${key}: loss per expert ${losses.map((l, i) => `${names[i]}=${l.toFixed(4)}`).join(', ')}; copying expert ${copiedFrom} (${names[copiedFrom]})`,
  );
  await rewrite(runDir, config, ckpt, [...names, key], (k) => k, copiedFrom);
  return { expert: names.length, copiedFrom, losses };
}

/** Drop the expert of domain `key`; later experts shift down by one. */
export async function removeExpert(runDir: string, key: string): Promise<{ removed: number }> {
  const { config, ckpt, names } = await openRun(runDir);
  const k = names.indexOf(key);
  if (k < 0)
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `${runDir} has no expert for domain ${JSON.stringify(key)} (have ${names.join(', ')})`,
    );
  if (names.length === 1) throw new HyperlmError('CONFIG_BAD_VALUE', `${runDir}: cannot remove the only expert`);
  await rewrite(
    runDir,
    config,
    ckpt,
    names.filter((n) => n !== key),
    (i) => (i === k ? -1 : i > k ? i - 1 : i),
  );
  return { removed: k };
}
