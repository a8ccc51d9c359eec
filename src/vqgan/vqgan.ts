// The image tokenizer model: a ViT-VQGAN (Yu et al. 2022) trained with the VQGAN objective of Esser et
// al. 2021 (reconstruction + VQ losses + adaptive-weighted hinge GAN after a warm-up, no perceptual loss).
// Unlike taming-transformers' convolutional VQGAN, cost is dense GEMMs that WASM runs through XNNPACK, and
// factorized l2-normalized codes keep a large codebook in use; the discriminator stays a small PatchGAN
// (discriminator.ts). `Vqgan` owns all variables and both Adam optimizers (the step's maths: train-step.ts);
// its `ImageTokenizer` methods (uint8 in/out) are what the preprocessing pipeline calls.

import * as tf from '@tensorflow/tfjs';
import { HyperlmError } from '../errors.js';
import { checkVqganConfig, codeGrid, type VqganConfig } from './config.js';
import { createDecoder, decoderHead, decoderTrunk, type DecoderParams } from './decoder.js';
import { createDiscriminator, type DiscriminatorParams } from './discriminator.js';
import { ParamStore } from '../nn/index.js';
import { createEncoder, encoderForward, type EncoderParams } from './encoder.js';
import type { ImageTokenizer } from './image-tokenizer.js';
import {
  codeUsage,
  createQuantizer,
  DeadCodeTracker,
  lookup,
  quantize,
  type CodeUsage,
  type QuantizerParams,
} from './quantizer.js';
import { applyStep, disposeStepGradients, stepGradients, type LossParts, type StepGradients } from './train-step.js';

/** One named optimizer tensor (tfjs's io.NamedTensor, which the package root does not re-export). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

export interface TrainStepResult extends LossParts {
  step: number;
  /** Codes re-seeded by the dead-code restart this step. */
  restarted: number;
  /** Codebook usage within this batch. */
  usage: CodeUsage;
}

/** Recursively names every variable of a parameter tree: `encoder.blocks.0.qkv.w`. */
function collect(prefix: string, node: unknown, out: Map<string, tf.Variable>): void {
  if (node instanceof tf.Variable) out.set(prefix, node);
  else if (Array.isArray(node)) node.forEach((v, i) => collect(`${prefix}.${i}`, v, out));
  else if (node !== null && typeof node === 'object')
    for (const [k, v] of Object.entries(node)) collect(`${prefix}.${k}`, v, out);
}

/**
 * Why ViT-VQGAN rather than taming-transformers' convolutional VQGAN, for a model trained on CPU:
 * - Cost is matmuls. Patch embedding and transformer blocks are dense [tokens × width] GEMMs, which the
 *   WASM backend runs through XNNPACK; taming's f16 conv VQGAN runs 3×3 convs with 128–512 channels at up
 *   to 256×256 (hundreds of GFLOP per image forward, plus Conv2DBackpropFilter/Input kernels WASM lacks
 *   or runs slowly) against ~1.1 GFLOP for our cpu-small preset.
 * - Codebook usage. Factorized lookup (32-d) on l2-normalized vectors is ViT-VQGAN's fix for the dead
 *   codebooks of plain VQ; with dead-code restarts it keeps a large codebook (8192) in use, which matters
 *   most when training is short.
 * - One code per patch gives CM3's 16×16 grid directly and the same code runs on tfjs-node-gpu.
 * On WASM the discriminator's conv gradient (Conv2DBackpropFilter) comes from our kernels, registered by
 * selectBackend('wasm' | 'auto') (src/backend); bench:vqgan times the GAN phase. Tensor methods are
 * synchronous and tidy.
 */
export class Vqgan implements ImageTokenizer {
  readonly config: VqganConfig;
  readonly resolution: number;
  readonly codesPerImage: number;
  readonly codebookSize: number;
  readonly encoder: EncoderParams;
  readonly quantizer: QuantizerParams;
  readonly decoder: DecoderParams;
  readonly discriminator: DiscriminatorParams;
  /** Adam for encoder + quantizer + decoder; its slots are created on the first step (checkpoint via getWeights). */
  readonly generatorOptimizer: tf.AdamOptimizer;
  readonly discriminatorOptimizer: tf.AdamOptimizer;
  readonly deadCodes: DeadCodeTracker;

  constructor(config: VqganConfig, seed = 0) {
    this.config = checkVqganConfig({ ...config });
    const c = this.config;
    this.resolution = c.resolution;
    this.codesPerImage = codeGrid(c).perImage;
    this.codebookSize = c.codebookSize;
    const init = new ParamStore(seed);
    this.encoder = createEncoder(c, init);
    this.quantizer = createQuantizer(c.codebookSize, c.codeDim, seed * 7919 + 104729);
    this.decoder = createDecoder(c, init);
    this.discriminator = createDiscriminator(c, init);
    this.generatorOptimizer = tf.train.adam(c.learningRate, c.adamBeta1, c.adamBeta2) as tf.AdamOptimizer;
    this.discriminatorOptimizer = tf.train.adam(c.discLearningRate, c.adamBeta1, c.adamBeta2) as tf.AdamOptimizer;
    this.deadCodes = new DeadCodeTracker(c.codebookSize, c.deadCodeSteps, seed);
  }

  /** Every variable by stable dotted name (`encoder.*`, `quantizer.codebook`, `decoder.*`, `discriminator.*`). */
  params(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    collect('encoder', this.encoder, out);
    collect('quantizer', this.quantizer, out);
    collect('decoder', this.decoder, out);
    collect('discriminator', this.discriminator, out);
    return out;
  }

  /** Assigns weights by the names of params(); `requireAll` false lets inference files omit the
   *  discriminator (only `discriminator.*` may be missing). Shapes must match exactly. */
  loadWeights(
    tensors: Map<string, { shape: number[]; data: Float32Array | Int32Array }>,
    source: string,
    requireAll = true,
  ): void {
    for (const [name, v] of this.params()) {
      const t = tensors.get(name);
      if (!t) {
        if (!requireAll && name.startsWith('discriminator.')) continue;
        throw new HyperlmError('CHECKPOINT_CORRUPT', `${source}: missing tensor ${name}`);
      }
      if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
        throw new HyperlmError(
          'CHECKPOINT_CORRUPT',
          `${source}: ${name} has shape [${t.shape}], the config needs [${v.shape}]`,
        );
      }
      tf.tidy(() => v.assign(tf.tensor(Float32Array.from(t.data), v.shape, 'float32')));
    }
  }

  generatorVariables(): tf.Variable[] {
    return [...this.params()].filter(([k]) => !k.startsWith('discriminator.')).map(([, v]) => v);
  }

  discriminatorVariables(): tf.Variable[] {
    return [...this.params()].filter(([k]) => k.startsWith('discriminator.')).map(([, v]) => v);
  }

  /** [B, resolution, resolution, 3] → [B, internal, internal, 3] by average pooling (identity when equal). */
  toInternal(images: tf.Tensor4D): tf.Tensor4D {
    const f = this.config.resolution / this.config.internalResolution;
    if (
      images.shape[1] !== this.config.resolution ||
      images.shape[2] !== this.config.resolution ||
      images.shape[3] !== 3
    ) {
      throw new HyperlmError(
        'INPUT_BAD_RECORD',
        `vqgan: images must be [B, ${this.resolution}, ${this.resolution}, 3], got [${images.shape.join(', ')}]`,
      );
    }
    return f === 1 ? images : tf.avgPool(images, f, f, 'valid');
  }

  /** images [B, R, R, 3] in [-1,1] → codes [B, codesPerImage] int32 (row-major over the code grid). */
  encodeTensor(images: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(
      () =>
        quantize(this.quantizer, encoderForward(this.encoder, this.config, this.toInternal(images)), this.config.beta)
          .indices,
    );
  }

  /** codes [B, codesPerImage] int32 → images [B, R, R, 3] clipped to [-1,1] (bilinear upsampling if internal < R). */
  decodeTensor(codes: tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => {
      const y = decoderHead(
        this.decoder.toPixels,
        this.config,
        decoderTrunk(this.decoder, this.config, lookup(this.quantizer, codes)),
      );
      const up =
        this.config.internalResolution === this.resolution
          ? y
          : tf.image.resizeBilinear(y, [this.resolution, this.resolution], false, true);
      return up.clipByValue(-1, 1) as tf.Tensor4D;
    });
  }

  /** One generator step (and one discriminator step once step >= discStart) on the whole batch, in this
   *  thread (train-step.ts; step-workers.ts splits a batch over workers instead). batch: [B, R, R, 3] in [-1,1]. */
  trainStep(batch: tf.Tensor4D, step: number): TrainStepResult {
    const x = tf.tidy(() => this.toInternal(batch).clone()); // own copy: disposed at the end of the step
    let g: StepGradients;
    try {
      g = stepGradients(this, x, step);
    } finally {
      x.dispose();
    }
    try {
      const restarted = applyStep(this, g, step);
      return { step, ...g.parts, restarted, usage: codeUsage(g.indices, this.codebookSize) };
    } finally {
      disposeStepGradients(g);
    }
  }

  /** ImageTokenizer: uint8 HWC RGB images (resolution² × 3 each) → Uint16 codes (codesPerImage each). */
  async encode(rgb: Uint8Array[]): Promise<Uint16Array[]> {
    const n = this.resolution * this.resolution * 3;
    rgb.forEach((img, i) => {
      if (img.length !== n)
        throw new HyperlmError(
          'INPUT_BAD_RECORD',
          `vqgan.encode: image ${i} has ${img.length} bytes, expected ${this.resolution}×${this.resolution}×3 = ${n}`,
        );
    });
    const out: Uint16Array[] = [];
    for (let start = 0; start < rgb.length; start += 16) {
      const chunk = rgb.slice(start, start + 16);
      const flat = new Float32Array(chunk.length * n);
      chunk.forEach((img, i) => {
        for (let j = 0; j < n; j++) flat[i * n + j] = img[j] / 127.5 - 1;
      });
      const codes = tf.tidy(() =>
        this.encodeTensor(tf.tensor4d(flat, [chunk.length, this.resolution, this.resolution, 3])),
      );
      const data = (await codes.data()) as Int32Array;
      codes.dispose();
      for (let i = 0; i < chunk.length; i++)
        out.push(Uint16Array.from(data.subarray(i * this.codesPerImage, (i + 1) * this.codesPerImage)));
    }
    return out;
  }

  /** ImageTokenizer: Uint16 codes (codesPerImage each) → uint8 HWC RGB images. */
  async decode(codes: Uint16Array[]): Promise<Uint8Array[]> {
    const m = this.codesPerImage,
      n = this.resolution * this.resolution * 3;
    codes.forEach((cs, i) => {
      if (cs.length !== m)
        throw new HyperlmError('INPUT_BAD_RECORD', `vqgan.decode: image ${i} has ${cs.length} codes, expected ${m}`);
      const bad = cs.findIndex((v) => v >= this.codebookSize);
      if (bad >= 0)
        throw new HyperlmError(
          'INPUT_BAD_RECORD',
          `vqgan.decode: image ${i} code ${bad} is ${cs[bad]}, codebook has ${this.codebookSize}`,
        );
    });
    const out: Uint8Array[] = [];
    for (let start = 0; start < codes.length; start += 16) {
      const chunk = codes.slice(start, start + 16);
      const flat = new Int32Array(chunk.length * m);
      chunk.forEach((cs, i) => flat.set(cs, i * m));
      const pixels = tf.tidy(() =>
        this.decodeTensor(tf.tensor2d(flat, [chunk.length, m], 'int32'))
          .add(1)
          .mul(127.5)
          .round()
          .clipByValue(0, 255),
      );
      const data = (await pixels.data()) as Float32Array;
      pixels.dispose();
      for (let i = 0; i < chunk.length; i++) out.push(Uint8Array.from(data.subarray(i * n, (i + 1) * n)));
    }
    return out;
  }

  /** Both Adam states for checkpoints, named `generator/iter`, `generator/<param>/m|v`, `discriminator/…`.
   *  Tensors are the live slots (do not dispose them) except the `iter` scalars. tfjs pairs slots with
   *  variables by position, so names here are for humans and for the order check in setOptimizerState. */
  async getOptimizerState(): Promise<NamedTensor[]> {
    const byVarName = new Map([...this.params()].map(([k, v]) => [v.name, k]));
    const out: NamedTensor[] = [];
    for (const [prefix, opt] of [
      ['generator', this.generatorOptimizer],
      ['discriminator', this.discriminatorOptimizer],
    ] as const) {
      for (const w of await opt.getWeights()) {
        const slot = w.name.match(/^(.*)\/(m|v)$/);
        out.push({
          name: `${prefix}/${slot ? `${byVarName.get(slot[1]) ?? slot[1]}/${slot[2]}` : w.name}`,
          tensor: w.tensor,
        });
      }
    }
    return out;
  }

  /** Restores what getOptimizerState returned (from a model with the same config). */
  async setOptimizerState(state: NamedTensor[]): Promise<void> {
    const params = this.params();
    for (const [prefix, opt, vars] of [
      ['generator', this.generatorOptimizer, this.generatorVariables()],
      ['discriminator', this.discriminatorOptimizer, this.discriminatorVariables()],
    ] as const) {
      const mine = state
        .filter((w) => w.name.startsWith(`${prefix}/`))
        .map((w) => ({ name: w.name.slice(prefix.length + 1), tensor: w.tensor }));
      const slots = mine.filter((w) => w.name !== 'iter');
      const names = [...params].filter(([, v]) => vars.includes(v)).map(([k]) => k);
      const n = slots.length / 2;
      slots.forEach((w, i) => {
        const want = `${names[i % n]}/${i < n ? 'm' : 'v'}`;
        if (w.name !== want || n > names.length) {
          throw new HyperlmError(
            'CHECKPOINT_CORRUPT',
            `vqgan optimizer state: slot ${i} of ${prefix} is ${JSON.stringify(w.name)}, expected ${JSON.stringify(want)}`,
          );
        }
      });
      const byParam = new Map([...params].map(([k, v]) => [k, v.name]));
      await opt.setWeights(
        mine.map((w) => {
          const slot = w.name.match(/^(.*)\/(m|v)$/);
          return { name: slot ? `${byParam.get(slot[1])}/${slot[2]}` : w.name, tensor: w.tensor };
        }),
      );
    }
  }

  /** Frees every variable and optimizer slot. */
  dispose(): void {
    tf.dispose([...this.params().values()]);
    this.generatorOptimizer.dispose();
    this.discriminatorOptimizer.dispose();
  }
}
