// The position-wise feed-forward network (nanoGPT's MLP: c_fc → GELU → c_proj; block.ts applies the
// dropout after it, to the dense or MoE output, with masks indexed by batch row). The dense blocks use one
// (GELU is fused.ts's, one heap pass on wasm); an MoE layer (moe.ts) holds `experts` of them under `mlp.experts.k`.

import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './config.js';
import { gelu } from '../nn/fused.js';
import { ParamStore, linear } from '../nn/params.js';

export { gelu };

export class Mlp {
  readonly cFcW: tf.Variable;
  readonly cFcB: tf.Variable;
  readonly cProjW: tf.Variable;
  readonly cProjB: tf.Variable;

  constructor(store: ParamStore, prefix: string, config: ModelConfig) {
    const { dModel: d, dFF: ff, initStd, nLayer } = config;
    this.cFcW = store.normal(`${prefix}.c_fc.weight`, [d, ff], initStd);
    this.cFcB = store.zeros(`${prefix}.c_fc.bias`, [ff]);
    this.cProjW = store.normal(`${prefix}.c_proj.weight`, [ff, d], initStd / Math.sqrt(2 * nLayer));
    this.cProjB = store.zeros(`${prefix}.c_proj.bias`, [d]);
  }

  /** x: [..., d] → [..., d]. */
  apply(x: tf.Tensor): tf.Tensor {
    const h = gelu(linear(x, this.cFcW as tf.Tensor2D, this.cFcB as tf.Tensor1D)); // [..., ff]
    return linear(h, this.cProjW as tf.Tensor2D, this.cProjB as tf.Tensor1D); // [..., d]
  }
}
