// AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization", Algorithm 2) with the
// learning-rate schedule and global-norm gradient clipping of GPT-style training (nanoGPT's train.py):
//   g ← g · min(1, clip / ‖g‖₂)                       (norm over all parameters together)
//   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ)
//   θ ← θ − lr·(m̂/(√v̂ + ε) + λθ)                      (λ = 0 for norms, biases and embeddings)
// Unlike tf.train.adam, the state (m, v, t) is ours and keyed by parameter name, so a checkpoint can
// save and restore it bit-exactly. The update is one JS loop per parameter over Float32Arrays (m and v
// live in JS memory): ~10 tfjs ops per parameter tensor cost far more in dispatch and heap traffic.
// `applyFlat` updates the flat layout of flat-params.ts; AdamWShard is the same update on one contiguous
// range of it with flat moments (ZeRO-1: each data-parallel worker owns one), and flatState / setFlatState
// scatter and gather those moments so the checkpoint keeps AdamW's per-name format.

import * as tf from '@tensorflow/tfjs';
import { HyperlmError } from '../errors.js';
import { flatten, paramLayout, type ParamLayout } from './flat-params.js';

export interface OptimConfig {
  /** Peak learning rate after warmup; 1e-3 suits the small presets (nanoGPT's shakespeare-char). */
  lr: number;
  /** Floor of the cosine decay; lr/10 as in Chinchilla/nanoGPT. */
  minLr: number;
  /** Linear warmup steps; avoids Adam's large first updates while v̂ is a poor estimate. */
  warmupSteps: number;
  /** Decoupled weight decay λ on matrices; 0.1 as in GPT-3. */
  weightDecay: number;
  /** Adam β₁. */
  beta1: number;
  /** Adam β₂; 0.95 (GPT-3) is steadier than 0.999 for small batches. */
  beta2: number;
  /** Adam ε. */
  eps: number;
  /** Global gradient-norm clip (0 = off); 1.0 as in GPT-3. */
  clipNorm: number;
}

export const defaultOptimConfig: OptimConfig = {
  lr: 1e-3,
  minLr: 1e-4,
  warmupSteps: 20,
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  clipNorm: 1.0,
};

/** Learning rate at 0-based `step` of `totalSteps`: linear warmup, then cosine from lr to minLr. */
export function learningRate(step: number, totalSteps: number, c: OptimConfig): number {
  if (c.warmupSteps > 0 && step < c.warmupSteps) return (c.lr * (step + 1)) / c.warmupSteps;
  const span = Math.max(1, totalSteps - c.warmupSteps);
  const progress = Math.min(1, (step - c.warmupSteps) / span);
  return c.minLr + 0.5 * (1 + Math.cos(Math.PI * progress)) * (c.lr - c.minLr);
}

/** Weight decay applies to matrices only: not to LayerNorm gains, biases, or the token/position embeddings. */
export function decays(name: string, shape: readonly number[]): boolean {
  return shape.length >= 2 && !/\.(wte|wpe)\.weight$/.test(name);
}

/** The sum of squares of all gradients, square-rooted: ‖g‖₂ over every parameter. */
export function globalNorm(grads: Map<string, tf.Tensor>): number {
  if (grads.size === 0) return 0;
  const sq = tf.tidy(() => tf.addN([...grads.values()].map((g) => g.square().sum())));
  const v = sq.dataSync()[0];
  sq.dispose();
  return Math.sqrt(v);
}

interface SpanConstants {
  b1: number;
  b2: number;
  eps: number;
  scale: number;
  lr: number;
  c1: number;
  c2: number;
  wd: number;
}

/** The AdamW update of params[o, o+n) with moments m, v[mo, mo+n): the one loop AdamW and AdamWShard share, so both give the same bits. */
function adamwSpan(
  params: Float32Array,
  grads: Float32Array,
  o: number,
  m: Float32Array,
  v: Float32Array,
  mo: number,
  n: number,
  k: SpanConstants,
): void {
  const { b1, b2, eps, scale, lr, c1, c2, wd } = k;
  for (let j = 0; j < n; j++) {
    const g = grads[o + j] * scale;
    const mj = (m[mo + j] = b1 * m[mo + j] + (1 - b1) * g);
    const vj = (v[mo + j] = b2 * v[mo + j] + (1 - b2) * g * g);
    const p = params[o + j];
    params[o + j] = p - lr * (mj / c1 / (Math.sqrt(vj / c2) + eps) + wd * p);
  }
}

/** The step-independent part of one update: clip scale and bias corrections at step t (1-based). */
function stepConstants(c: OptimConfig, t: number, lr: number, gradNorm: number): Omit<SpanConstants, 'wd'> {
  const scale = c.clipNorm > 0 && gradNorm > c.clipNorm ? c.clipNorm / gradNorm : 1;
  return { b1: c.beta1, b2: c.beta2, eps: c.eps, scale, lr, c1: 1 - c.beta1 ** t, c2: 1 - c.beta2 ** t };
}

/**
 * ZeRO-1's optimizer shard (Rajbhandari et al. 2020, "ZeRO", stage 1): AdamW's moments for the flat
 * range [lo, hi) of a layout only, as two flat arrays; `update` changes params[lo, hi) in place with the
 * same per-element arithmetic as AdamW.applyFlat, so N shards together give AdamW's bytes. Unlike
 * AdamW the step count is the caller's (every shard takes the same t) and parameters cut by lo or hi
 * are handled in part. `selected[i]` false leaves parameter i alone (DEMix trains one expert).
 */
export class AdamWShard {
  readonly m: Float32Array;
  readonly v: Float32Array;
  constructor(
    private readonly config: OptimConfig,
    private readonly layout: ParamLayout,
    readonly lo: number,
    readonly hi: number,
  ) {
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 0 && lo <= hi && hi <= layout.total)) {
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `AdamWShard: range [${lo}, ${hi}) is not inside the ${layout.total} parameters`,
      );
    }
    this.m = new Float32Array(hi - lo);
    this.v = new Float32Array(hi - lo);
  }

  /** Step t (1-based) on params[lo, hi) from grads[lo, hi); both are full-layout arrays (e.g. shared memory). */
  update(
    params: Float32Array,
    grads: Float32Array,
    lr: number,
    gradNorm: number,
    t: number,
    selected?: readonly boolean[],
  ): void {
    const k = stepConstants(this.config, t, lr, gradNorm);
    const { names, shapes, offsets, sizes } = this.layout;
    const wdOf = this.config.weightDecay;
    for (let i = 0; i < names.length; i++) {
      const a = Math.max(offsets[i], this.lo),
        b = Math.min(offsets[i] + sizes[i], this.hi);
      if (a >= b || (selected && !selected[i])) continue;
      const wd = wdOf > 0 && decays(names[i], shapes[i]) ? wdOf : 0;
      adamwSpan(params, grads, a, this.m, this.v, a - this.lo, b - a, { ...k, wd });
    }
  }

  /** Overwrite the moments (each hi − lo long), e.g. a checkpoint's slice. */
  load(m: Float32Array, v: Float32Array): void {
    if (m.length !== this.m.length || v.length !== this.v.length) {
      throw new HyperlmError(
        'CHECKPOINT_CORRUPT',
        `AdamWShard: state of ${m.length}/${v.length} values for a shard of ${this.m.length}`,
      );
    }
    this.m.set(m);
    this.v.set(v);
  }
}

export class AdamW {
  /** Steps taken (t in the bias corrections). */
  step = 0;
  /** First and second moments by parameter name (created as zeros on a parameter's first update). */
  readonly m = new Map<string, Float32Array>();
  readonly v = new Map<string, Float32Array>();
  private readonly shapes = new Map<string, number[]>();

  constructor(private readonly config: OptimConfig) {}

  /**
   * One update of `params` from `grads` (same names; parameters without a gradient are left alone).
   * `gradNorm` is the already measured global norm, used for clipping. Does not dispose `grads`.
   */
  apply(params: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, lr: number, gradNorm: number): void {
    const names = [...grads.keys()].filter((n) => params.has(n));
    const sub = new Map(names.map((n) => [n, params.get(n)!] as const));
    const layout = paramLayout(sub);
    const flatP = flatten(layout, sub as Map<string, tf.Tensor>);
    this.applyFlat(layout, flatP, flatten(layout, grads), lr, gradNorm);
    layout.names.forEach((n, i) => {
      const o = layout.offsets[i];
      tf.tidy(() => sub.get(n)!.assign(tf.tensor(flatP.slice(o, o + layout.sizes[i]), layout.shapes[i], 'float32')));
    });
  }

  /**
   * One update of the flat `params` (in place) from the flat `grads`, both in `layout` order; parameters
   * for which `only(name)` is false are left alone (DEMix trains one expert).
   */
  applyFlat(
    layout: ParamLayout,
    params: Float32Array,
    grads: Float32Array,
    lr: number,
    gradNorm: number,
    only?: (name: string) => boolean,
  ): void {
    const { weightDecay } = this.config;
    this.step++;
    const k = stepConstants(this.config, this.step, lr, gradNorm);
    layout.names.forEach((name, i) => {
      if (only && !only(name)) return;
      const o = layout.offsets[i],
        size = layout.sizes[i];
      const m = this.slot(this.m, name, layout.shapes[i]);
      const v = this.slot(this.v, name, layout.shapes[i]);
      const wd = weightDecay > 0 && decays(name, layout.shapes[i]) ? weightDecay : 0;
      adamwSpan(params, grads, o, m, v, 0, size, { ...k, wd });
    });
  }

  private slot(map: Map<string, Float32Array>, name: string, shape: number[]): Float32Array {
    let s = map.get(name);
    if (!s) {
      s = new Float32Array(tf.util.sizeFromShape(shape));
      map.set(name, s);
      this.shapes.set(name, shape.slice());
    }
    return s;
  }

  /** m and v as flat layout-order arrays, zeros where a parameter has no state yet (to scatter to AdamWShards). */
  flatState(layout: ParamLayout): { m: Float32Array; v: Float32Array } {
    const m = new Float32Array(layout.total),
      v = new Float32Array(layout.total);
    layout.names.forEach((name, i) => {
      const mi = this.m.get(name),
        vi = this.v.get(name);
      if (mi && mi.length === layout.sizes[i]) m.set(mi, layout.offsets[i]);
      if (vi && vi.length === layout.sizes[i]) v.set(vi, layout.offsets[i]);
    });
    return { m, v };
  }

  /** Take m and v of the layout parameters `names` selects from flat arrays (gathered AdamWShards); others keep their state. */
  setFlatState(layout: ParamLayout, m: Float32Array, v: Float32Array, names: (name: string) => boolean): void {
    layout.names.forEach((name, i) => {
      if (!names(name)) return;
      const o = layout.offsets[i],
        end = o + layout.sizes[i];
      this.m.set(name, m.slice(o, end));
      this.v.set(name, v.slice(o, end));
      this.shapes.set(name, layout.shapes[i].slice());
    });
  }

  /** m and v as named float arrays (`m.NAME`, `v.NAME`) for a checkpoint. */
  stateTensors(): Map<string, { shape: number[]; data: Float32Array }> {
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [prefix, map] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      for (const [name, t] of map)
        out.set(`${prefix}.${name}`, { shape: this.shapes.get(name)!.slice(), data: t.slice() });
    }
    return out;
  }

  /** Restore from `stateTensors` output and a step count; replaces any existing state. */
  loadState(step: number, tensors: Map<string, { shape: number[]; data: Float32Array | Int32Array }>): void {
    this.dispose();
    this.step = step;
    for (const [key, t] of tensors) {
      const dot = key.indexOf('.');
      const map = key.slice(0, dot) === 'm' ? this.m : key.slice(0, dot) === 'v' ? this.v : undefined;
      if (!map) continue;
      map.set(key.slice(dot + 1), Float32Array.from(t.data));
      this.shapes.set(key.slice(dot + 1), t.shape.slice());
    }
  }

  dispose(): void {
    this.m.clear();
    this.v.clear();
    this.shapes.clear();
  }
}
