// The one parameter store of the project's models (GPT in src/model, ViT-VQGAN in src/vqgan): named
// tf.Variables drawn with seeded initialisers, plus the affine map and LayerNorm every layer uses. The
// n-th tensor drawn from seed s always gets tfjs seed s·7919 + n + 1 — never 0, which tfjs treats as
// "unseeded" (`seed ? seed : Math.random()` in tfjs-core's rand_util), so seed 0 is reproducible too.
// Weights are stored [in, out] (GPT-2's Conv1D layout), so `x @ W + b` needs no transpose.

import * as tf from '@tensorflow/tfjs';
import { HyperlmError } from '../errors.js';

export class ParamStore {
  readonly vars = new Map<string, tf.Variable>();
  private count = 0;
  constructor(readonly seed: number) {}

  /** A trainable variable drawn from N(0, std²). */
  normal(name: string, shape: number[], std: number): tf.Variable {
    const seed = this.nextSeed();
    return this.add(
      name,
      tf.tidy(() => tf.randomNormal(shape, 0, std, 'float32', seed)),
    );
  }

  /** A trainable variable drawn from N(0, std²) truncated at ±2σ (ViT's initialiser). */
  truncatedNormal(name: string, shape: number[], std: number): tf.Variable {
    const seed = this.nextSeed();
    return this.add(
      name,
      tf.tidy(() => tf.truncatedNormal(shape, 0, std, 'float32', seed)),
    );
  }

  fill(name: string, shape: number[], value: number): tf.Variable {
    this.count++; // constants take a draw index too, so adding one never shifts the others' seeds
    return this.add(name, tf.fill(shape, value));
  }

  zeros(name: string, shape: number[]): tf.Variable {
    return this.fill(name, shape, 0);
  }

  ones(name: string, shape: number[]): tf.Variable {
    return this.fill(name, shape, 1);
  }

  private nextSeed(): number {
    return this.seed * 7919 + this.count++ + 1;
  }

  private add(name: string, init: tf.Tensor): tf.Variable {
    if (this.vars.has(name)) throw new HyperlmError('INTERNAL', `ParamStore: parameter ${name} created twice`);
    // tfjs's own variable names (increasing integers) are unique in the engine, and integer-like keys keep
    // creation order in the gradient maps tfjs optimizers iterate (the VQGAN's Adam slot order relies on it)
    const v = tf.variable(init, true);
    init.dispose();
    this.vars.set(name, v);
    return v;
  }
}

/** x @ W + b over the last axis, for any leading shape. x: [..., in], W: [in, out], b: [out]. */
export function linear(x: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor {
  const lead = x.shape.slice(0, -1);
  const inDim = x.shape[x.shape.length - 1];
  let y = tf.matMul(x.reshape([-1, inDim]), w); // [N, out]
  if (b) y = y.add(b);
  return y.reshape([...lead, w.shape[1]]); // [..., out]
}

// LayerNorm (GPT-2's ln_1/ln_2/ln_f, ViT's norms) lives with the fused ops, which give it a kernel on wasm.
export { layerNorm } from './fused.js';
