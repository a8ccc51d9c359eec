// VQGAN configuration: one typed interface, a "why" per field, three presets in an explicit map,
// and `resolveVqganConfig` which rejects unknown keys and bad values naming the key (minGPT style).
// The architecture these fields describe is a ViT-VQGAN (Yu et al. 2022); see vqgan.ts for why.

import { HyperlmError } from '../errors.js';

export interface VqganConfig {
  /** Side of the square RGB images callers hand us and get back (CM3: 256). */
  resolution: number;
  /** Side the network actually runs at: inputs are average-pooled down to it and decoded images
   *  bilinearly upsampled back. Lets the CPU preset keep CM3's 256×256 / 16×16 interface at 1/4 the cost. */
  internalResolution: number;
  /** Pixels per side of one patch = one code; grid = internalResolution / patchSize (CM3: 16). */
  patchSize: number;
  /** Transformer width; matmul cost grows with its square. */
  width: number;
  /** Transformer blocks in the encoder; ViT-VQGAN uses equal depth on both sides. */
  encoderLayers: number;
  /** Transformer blocks in the decoder; the decoder does the harder job (synthesis), so it may be deeper. */
  decoderLayers: number;
  /** Attention heads; width must divide by it. */
  heads: number;
  /** MLP hidden size = mlpRatio × width (ViT: 4). */
  mlpRatio: number;
  /** Number of discrete codes = image-token vocabulary seen by the language model (CM3: 8192). */
  codebookSize: number;
  /** Dimension of the factorized, l2-normalized lookup space (ViT-VQGAN: 32); low-dim keeps usage high. */
  codeDim: number;
  /** Commitment weight β in L_vq = ‖sg[z]−e‖² + β‖z−sg[e]‖² (van den Oord et al. 2017: 0.25). */
  beta: number;
  /** A code unused for this many consecutive training steps is re-initialised from a random encoder
   *  output of the current batch (dead-code restart); 0 disables. */
  deadCodeSteps: number;
  /** Weight of the mean absolute pixel error (in [-1,1] units); sharp edges. */
  l1Weight: number;
  /** Weight of the mean squared pixel error; ViT-VQGAN's main reconstruction term, matches PSNR. */
  l2Weight: number;
  /** Multiplier on the adaptive-weighted adversarial term (taming's disc_factor); 0 disables the GAN. */
  ganWeight: number;
  /** Step at which the discriminator and adversarial loss switch on (warm-up: a GAN on garbage
   *  reconstructions only slows learning; taming uses disc_start). */
  discStart: number;
  /** Channels of the first PatchGAN conv; doubles per downsampling layer. */
  discChannels: number;
  /** Stride-2 conv layers in the PatchGAN discriminator (receptive field grows with it). */
  discLayers: number;
  /** Upper clamp of the adaptive weight λ (taming clamps to 1e4) so a vanishing GAN gradient cannot explode it. */
  maxAdaptiveWeight: number;
  /** Adam learning rate of encoder, quantizer and decoder. */
  learningRate: number;
  /** Adam learning rate of the discriminator. */
  discLearningRate: number;
  /** Adam β1 (ViT-VQGAN: 0.9); 0.5 is the usual GAN choice but slows plain reconstruction. */
  adamBeta1: number;
  /** Adam β2 (ViT-VQGAN: 0.99). */
  adamBeta2: number;
}

/** Test preset: 32×32 images run at 16×16 (exercises the resampling path), 4×4 codes of 4×4 patches,
 *  64 codes; small enough that tests can take steps on the pure-JS `cpu` backend. */
const tiny: VqganConfig = {
  resolution: 32,
  internalResolution: 16,
  patchSize: 4,
  width: 32,
  encoderLayers: 1,
  decoderLayers: 1,
  heads: 2,
  mlpRatio: 2,
  codebookSize: 64,
  codeDim: 8,
  beta: 0.25,
  deadCodeSteps: 20,
  l1Weight: 1,
  l2Weight: 1,
  ganWeight: 0.1,
  discStart: 1_000_000,
  discChannels: 8,
  discLayers: 2,
  maxAdaptiveWeight: 1e4,
  learningRate: 3e-3,
  discLearningRate: 1e-3,
  adamBeta1: 0.9,
  adamBeta2: 0.99,
};

/** CPU preset (a run short enough for 2 WASM threads; BENCHMARKS.md, measurements table): CM3's 256×256 in, 16×16 codes out, but the net runs at 128×128
 *  with 8×8 patches (a 2× average-pool; CM3's 256-code budget cannot carry detail finer than that anyway).
 *  Width 128, 4+4 blocks: ~1.1 GFLOP per image forward, 2.1 M parameters; our kernels (selectBackend) make
 *  a step much cheaper than the shipped WASM ones, and width 256 cost clearly more per image (step and
 *  encode times: BENCHMARKS.md, `npm run bench:vqgan`). Codebook kept at 8192 so the language model's
 *  vocabulary matches the GPU model's; l2-normalized 32-d codes plus restarts keep it in use (drop to 1024
 *  via overrides if usage stays low). Restarts matter: without them usage collapsed to a small fraction of
 *  the codes within a few steps on synthetic images; with deadCodeSteps 10 far more stayed in use and L2 was
 *  lower (BENCHMARKS.md, "Measurements behind design choices"). */
const cpuSmall: VqganConfig = {
  resolution: 256,
  internalResolution: 128,
  patchSize: 8,
  width: 128,
  encoderLayers: 4,
  decoderLayers: 4,
  heads: 4,
  mlpRatio: 4,
  codebookSize: 8192,
  codeDim: 32,
  beta: 0.25,
  deadCodeSteps: 20,
  l1Weight: 0.5,
  l2Weight: 1,
  ganWeight: 0.1,
  discStart: 300,
  discChannels: 32,
  discLayers: 3,
  maxAdaptiveWeight: 1e4,
  learningRate: 3e-4,
  discLearningRate: 2e-4,
  adamBeta1: 0.9,
  adamBeta2: 0.99,
};
// learningRate 3e-4, not 1e-3: on the web-image corpus (../shared/corpus/html, batch 4, codebook 1024) 1e-3
// left held-out PSNR flat at ~14.7 dB from step 100 to 388 (reconstructions a uniform grey); 3e-4 (with the
// decoder's fan-in code projection, decoder.ts) reached 17.1 dB at step 40 where 1e-3 had 16.1 and 1e-4 12.9.

/** GPU preset: full CM3 setting, 256×256 at full resolution, 16×16 patches → 16×16 codes, 8192 codes
 *  (ViT-VQGAN "small" width 512, 8 blocks each side). */
const gpuDefault: VqganConfig = {
  resolution: 256,
  internalResolution: 256,
  patchSize: 16,
  width: 512,
  encoderLayers: 8,
  decoderLayers: 8,
  heads: 8,
  mlpRatio: 4,
  codebookSize: 8192,
  codeDim: 32,
  beta: 0.25,
  deadCodeSteps: 200,
  l1Weight: 0,
  l2Weight: 1,
  ganWeight: 0.1,
  discStart: 20_000,
  discChannels: 64,
  discLayers: 3,
  maxAdaptiveWeight: 1e4,
  learningRate: 1e-4,
  discLearningRate: 1e-4,
  adamBeta1: 0.9,
  adamBeta2: 0.99,
};

export const VQGAN_PRESETS: Readonly<Record<'tiny' | 'cpu-small' | 'default', VqganConfig>> = {
  tiny,
  'cpu-small': cpuSmall,
  default: gpuDefault,
};
export type VqganPresetName = keyof typeof VQGAN_PRESETS;

const INTEGER_KEYS: ReadonlySet<keyof VqganConfig> = new Set<keyof VqganConfig>([
  'resolution',
  'internalResolution',
  'patchSize',
  'width',
  'encoderLayers',
  'decoderLayers',
  'heads',
  'mlpRatio',
  'codebookSize',
  'codeDim',
  'deadCodeSteps',
  'discStart',
  'discChannels',
  'discLayers',
]);

function bad(message: string): HyperlmError {
  return new HyperlmError('CONFIG_BAD_VALUE', `vqgan config: ${message}`);
}

/** Preset (default `cpu-small`) overlaid with `overrides`; every key and value is checked. */
export function resolveVqganConfig(preset: string = 'cpu-small', overrides: Record<string, unknown> = {}): VqganConfig {
  if (!Object.hasOwn(VQGAN_PRESETS, preset)) {
    throw bad(`preset must be one of ${Object.keys(VQGAN_PRESETS).join(', ')}, got ${JSON.stringify(preset)}`);
  }
  const base = VQGAN_PRESETS[preset as VqganPresetName];
  const out: VqganConfig = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (!Object.hasOwn(base, key)) {
      throw new HyperlmError('CONFIG_UNKNOWN_KEY', `vqgan config: unknown key ${JSON.stringify(key)}`);
    }
    const k = key as keyof VqganConfig;
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw bad(`${key} must be a finite number, got ${JSON.stringify(value)}`);
    if (INTEGER_KEYS.has(k) && !Number.isInteger(value)) throw bad(`${key} must be an integer, got ${value}`);
    if (value < 0) throw bad(`${key} must be >= 0, got ${value}`);
    out[k] = value;
  }
  return checkVqganConfig(out);
}

/** Cross-field checks; returns the config unchanged when valid. */
export function checkVqganConfig(c: VqganConfig): VqganConfig {
  for (const k of [
    'resolution',
    'internalResolution',
    'patchSize',
    'width',
    'heads',
    'mlpRatio',
    'codebookSize',
    'codeDim',
    'discChannels',
  ] as const) {
    if (!(c[k] > 0)) throw bad(`${k} must be > 0, got ${c[k]}`);
  }
  if (c.resolution % c.internalResolution !== 0) {
    throw bad(`resolution (${c.resolution}) must be a multiple of internalResolution (${c.internalResolution})`);
  }
  if (c.internalResolution % c.patchSize !== 0) {
    throw bad(`internalResolution (${c.internalResolution}) must be a multiple of patchSize (${c.patchSize})`);
  }
  if (c.width % c.heads !== 0) throw bad(`width (${c.width}) must be divisible by heads (${c.heads})`);
  if (c.codebookSize > 65536) throw bad(`codebookSize must be <= 65536 (codes are Uint16), got ${c.codebookSize}`);
  if (c.internalResolution % 2 ** c.discLayers !== 0) {
    throw bad(`internalResolution (${c.internalResolution}) must be divisible by 2^discLayers (${2 ** c.discLayers})`);
  }
  return c;
}

/** Codes per side and per image. */
export function codeGrid(c: VqganConfig): { side: number; perImage: number } {
  const side = c.internalResolution / c.patchSize;
  return { side, perImage: side * side };
}
