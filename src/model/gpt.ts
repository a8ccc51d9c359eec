// The decoder-only GPT (nanoGPT's GPT): token embedding (+ learned positions, or rotary inside attention),
// nLayer pre-norm blocks with dense or MoE MLPs, final LayerNorm, output projection tied to the embedding.
// `forward` gives logits, the summed MoE aux loss and per-layer routing; `loss` adds weighted cross-entropy
// (weights are 0 on sentinels/padding); `lossAndGrads` is the training step's gradient call. Dropout masks
// are seeded per batch row (dropout.ts), so a training forward is a function of its inputs and seeds.

import * as tf from '@tensorflow/tfjs';
import { HyperlmError } from '../errors.js';
import { Rng } from '../rng.js';
import { attentionMask, rotaryTables, type KVEntry } from './attention.js';
import { Block } from './block.js';
import type { ModelConfig } from './config.js';
import { RowDropout } from './dropout.js';
import type { RoutingInfo } from './moe.js';
import { embeddingLookup, softmaxCrossEntropy } from '../nn/fused.js';
import { ParamStore, layerNorm } from '../nn/params.js';

export interface ForwardOptions {
  training?: boolean;
  /** demix: domain id per batch row [B]. */
  domains?: Int32Array | number[];
  /** demix inference: expert weights per batch row [B][E]. */
  mixture?: number[][];
  /** Keys/values of earlier positions, one entry per layer ([] to start one); when given, the result has the extended cache. */
  cache?: KVEntry[];
  /** Absolute positions [B][T]; default pastLen + t. Left-padded batches pass per-sequence positions. */
  positions?: number[][];
  /** [B][pastLen + T]: 1 for real tokens, 0 for padding keys that no query may attend. */
  keyMask?: number[][];
  /** Seeds GShard's stochastic second-expert choice (default: random), and dropout when dropoutSeed is absent. */
  seed?: number;
  /** Training: dropout masks for row b come from (dropoutSeed, rowOffset + b, layer, site), dropout.ts. */
  dropoutSeed?: number;
  /** Index of row 0 within the full batch (a data-parallel slice's first row), so masks do not depend on the split. Default 0. */
  rowOffset?: number;
}

export interface ForwardResult {
  logits: tf.Tensor3D; // [B, T, V]
  aux: tf.Scalar;
  routing: RoutingInfo[];
  cache?: KVEntry[];
}

export interface LossResult {
  loss: tf.Scalar; // ce + aux
  ce: tf.Scalar;
  aux: tf.Scalar;
  routing: RoutingInfo[];
}

export class GPT {
  private readonly store: ParamStore;
  private decodeHead?: { source: tf.DataId; tensor: tf.Tensor2D }; // headTransposed()'s cache
  readonly wte: tf.Variable; // [V, d]
  readonly wpe?: tf.Variable; // [blockSize, d]
  readonly blocks: Block[];
  readonly lnF: { weight: tf.Variable; bias: tf.Variable };
  readonly lmHead?: tf.Variable; // [V, d] when embeddings are untied

  constructor(
    readonly config: ModelConfig,
    seed = 0,
  ) {
    const { vocabSize: V, dModel: d, blockSize, initStd } = config;
    this.store = new ParamStore(seed);
    this.wte = this.store.normal('transformer.wte.weight', [V, d], initStd);
    if (config.positions === 'learned') this.wpe = this.store.normal('transformer.wpe.weight', [blockSize, d], initStd);
    this.blocks = Array.from(
      { length: config.nLayer },
      (_, i) => new Block(this.store, `transformer.h.${i}`, config, i),
    );
    this.lnF = {
      weight: this.store.ones('transformer.ln_f.weight', [d]),
      bias: this.store.zeros('transformer.ln_f.bias', [d]),
    };
    if (!config.tieEmbeddings) this.lmHead = this.store.normal('lm_head.weight', [V, d], initStd);
  }

  /** All trainable weights by HF GPT-2 name. */
  params(): Map<string, tf.Variable> {
    return this.store.vars;
  }

  numParams(): number {
    let n = 0;
    for (const v of this.store.vars.values()) n += v.size;
    return n;
  }

  /** ids: [B, T] int32 → logits [B, T, V]. */
  forward(ids: tf.Tensor2D, opts: ForwardOptions = {}): ForwardResult {
    const [B, T] = ids.shape;
    const pastLen = opts.cache && opts.cache.length > 0 ? opts.cache[0].k.shape[2] : 0;
    if (pastLen + T > this.config.blockSize) {
      throw new HyperlmError(
        'MODEL_BAD_INPUT',
        `sequence length ${pastLen + T} exceeds blockSize ${this.config.blockSize}`,
      );
    }
    const positions =
      opts.positions ?? Array.from({ length: B }, () => Array.from({ length: T }, (_, t) => pastLen + t));
    const training = opts.training ?? false;
    const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
    const random = Rng.fromSeed(seed).uniformFn();
    const drop =
      training && this.config.dropout > 0
        ? new RowDropout(this.config.dropout, opts.dropoutSeed ?? seed, opts.rowOffset ?? 0)
        : undefined;
    const domains = opts.domains ? Int32Array.from(opts.domains) : undefined;
    return tf.tidy(() => {
      const { dModel: d, vocabSize: V } = this.config;
      const pos = tf.tensor2d(positions, [B, T], 'int32');
      let x: tf.Tensor = this.embed(this.wte as tf.Tensor2D, ids, V); // [B, T, d]
      if (this.wpe) x = x.add(this.embed(this.wpe as tf.Tensor2D, pos, this.config.blockSize));
      if (drop) x = drop.apply(x, -1, 'embed');
      const ctx = {
        training,
        dropout: drop,
        mask: attentionMask(B, T, pastLen, opts.keyMask),
        rope: this.config.positions === 'rotary' ? rotaryTables(pos, d / this.config.nHead) : undefined,
        domains,
        mixture: opts.mixture,
        random,
      };
      const routing: RoutingInfo[] = [];
      const cache: KVEntry[] = [];
      let aux = tf.scalar(0);
      for (let i = 0; i < this.blocks.length; i++) {
        const out = this.blocks[i].apply(x as tf.Tensor3D, ctx, opts.cache?.[i]);
        x = out.x;
        cache.push(out.kv);
        if (out.aux) aux = aux.add(out.aux);
        if (out.routing) routing.push(out.routing);
      }
      x = layerNorm(x, this.lnF.weight as tf.Tensor1D, this.lnF.bias as tf.Tensor1D, this.config.normEps);
      const head = (this.lmHead ?? this.wte) as tf.Tensor2D; // [V, d]
      const logits = tf.matMul(x.reshape([B * T, d]), head, false, true).reshape([B, T, V]) as tf.Tensor3D; // [B, T, V]
      const result: ForwardResult = { logits, aux, routing };
      if (opts.cache) result.cache = cache;
      return result as unknown as tf.TensorContainer;
    }) as unknown as ForwardResult;
  }

  /** Rows of `table` [n, d] for integer ids [B, T] → [B, T, d]: gather, or one-hot matmul when configured. */
  private embed(table: tf.Tensor2D, ids: tf.Tensor2D, n: number): tf.Tensor3D {
    const [B, T] = ids.shape;
    if (this.config.embedding === 'onehot') {
      return tf.matMul(tf.oneHot(ids.reshape([-1]).toInt(), n), table).reshape([B, T, -1]) as tf.Tensor3D; // [B, T, d]
    }
    return embeddingLookup(table, ids); // [B, T, d]
  }

  /** Weighted next-token cross-entropy + aux. ids, targets, weights: [B, T]; loss = Σ w·nll / Σ w (0 if Σ w = 0). */
  loss(ids: tf.Tensor2D, targets: tf.Tensor2D, weights: tf.Tensor2D, opts: ForwardOptions = {}): LossResult {
    const { logits, aux, routing } = this.forward(ids, { ...opts, cache: undefined });
    const ids32 = Int32Array.from(targets.dataSync());
    return tf.tidy(() => {
      const [B, T, V] = logits.shape;
      const nll = softmaxCrossEntropy(logits.reshape([B * T, V]) as tf.Tensor2D, ids32).reshape([B, T]); // [B, T]
      const w = weights.toFloat();
      const ce = nll.mul(w).sum().div(tf.maximum(w.sum(), 1e-9)) as tf.Scalar;
      tf.dispose(logits);
      return { loss: ce.add(aux) as tf.Scalar, ce, aux, routing } as unknown as tf.TensorContainer;
    }) as unknown as LossResult;
  }

  /**
   * One gradient evaluation: scalar values plus a gradient for every parameter, by name (caller disposes
   * grads). The gradient is of scale.ce·ce + scale.aux·aux (default 1, 1: of `loss`); data-parallel
   * slices pass their share of the batch so the workers' gradients sum to the full batch's.
   */
  lossAndGrads(
    ids: tf.Tensor2D,
    targets: tf.Tensor2D,
    weights: tf.Tensor2D,
    opts: ForwardOptions = {},
    scale = { ce: 1, aux: 1 },
  ): { loss: number; ce: number; aux: number; routing: RoutingInfo[]; grads: Map<string, tf.Tensor> } {
    let ce = 0,
      aux = 0;
    let routing: RoutingInfo[] = [];
    const vars = [...this.store.vars.values()];
    const { value, grads } = tf.variableGrads(() => {
      const r = this.loss(ids, targets, weights, opts);
      ce = r.ce.dataSync()[0];
      aux = r.aux.dataSync()[0];
      routing = r.routing;
      return scale.ce === 1 && scale.aux === 1 ? r.loss : (r.ce.mul(scale.ce).add(r.aux.mul(scale.aux)) as tf.Scalar);
    }, vars);
    const loss = ce + aux;
    value.dispose();
    const byName = new Map<string, tf.Tensor>();
    for (const [name, v] of this.store.vars) {
      // Experts that got no tokens have no gradient; a zero keeps the map complete and in a fixed order,
      // which tf optimizers need (Adam keys its moment slots by position in the list).
      byName.set(name, grads[v.name] ?? tf.zerosLike(v));
    }
    return { loss, ce, aux, routing, grads: byName };
  }

  /** Gradients keyed by tf variable name, in parameter order, as optimizer.applyGradients expects. */
  toVariableNames(grads: Map<string, tf.Tensor>): Array<{ name: string; tensor: tf.Tensor }> {
    return [...grads].map(([name, tensor]) => ({ name: this.store.vars.get(name)!.name, tensor }));
  }

  /** Copy weights in by parameter name (e.g. from readSafetensors); every parameter must be present with its shape. */
  loadWeights(tensors: Map<string, { shape: number[]; data: Float32Array | Int32Array }>, source = 'weights'): void {
    for (const [name, v] of this.store.vars) {
      const t = tensors.get(name);
      if (!t) throw new HyperlmError('CHECKPOINT_CORRUPT', `${source}: missing parameter ${name}`);
      if (t.shape.join(',') !== v.shape.join(',')) {
        throw new HyperlmError(
          'CHECKPOINT_CORRUPT',
          `${source}: ${name} has shape [${t.shape}], model expects [${v.shape}]`,
        );
      }
      tf.tidy(() => v.assign(tf.tensor(Float32Array.from(t.data), v.shape, 'float32')));
    }
  }

  /**
   * Decoding only (decode.ts): the output head as [d, V], transposed once per head weights and kept until
   * they change or dispose() — wasm's fast matmul needs an untransposed b, and caches b's packed form per tensor.
   */
  headTransposed(): tf.Tensor2D {
    const head = this.lmHead ?? this.wte; // [V, d]
    if (this.decodeHead?.source !== head.dataId) {
      this.decodeHead?.tensor.dispose();
      this.decodeHead = { source: head.dataId, tensor: tf.keep(tf.transpose(head as tf.Tensor2D)) }; // [d, V]
    }
    return this.decodeHead.tensor;
  }

  dispose(): void {
    for (const v of this.store.vars.values()) v.dispose();
    this.decodeHead?.tensor.dispose();
    this.decodeHead = undefined;
  }
}
