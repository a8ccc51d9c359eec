// Where the model's weights live: a named map of tf.Variables with seeded GPT-2-style initialisers,
// plus the one affine helper every layer uses. Names follow HF GPT-2 (`transformer.h.0.attn.c_attn.weight`)
// and weights are stored [in, out] like GPT-2's Conv1D, so `x @ W + b` needs no transpose.

import * as tf from '@tensorflow/tfjs';

export class ParamStore {
  readonly vars = new Map<string, tf.Variable>();
  private counter = 0;
  constructor(private readonly seed: number) {}

  /** A trainable variable drawn from N(0, std²), seeded by (seed, creation order). */
  normal(name: string, shape: number[], std: number): tf.Variable {
    const seed = this.seed * 7919 + this.counter++;
    return this.add(name, tf.tidy(() => tf.randomNormal(shape, 0, std, 'float32', seed)));
  }

  zeros(name: string, shape: number[]): tf.Variable {
    return this.add(name, tf.zeros(shape));
  }

  ones(name: string, shape: number[]): tf.Variable {
    return this.add(name, tf.ones(shape));
  }

  private add(name: string, init: tf.Tensor): tf.Variable {
    if (this.vars.has(name)) throw new Error(`duplicate parameter ${name}`);
    const v = tf.variable(init, true, `${name}_${this.seed}_${this.counter++}_${Math.random().toString(36).slice(2)}`);
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

/** LayerNorm over the last axis with learned gain and bias (GPT-2's ln_1/ln_2/ln_f). */
export function layerNorm(x: tf.Tensor, gain: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return x.sub(mean).mul(tf.rsqrt(variance.add(eps))).mul(gain).add(bias);
}
