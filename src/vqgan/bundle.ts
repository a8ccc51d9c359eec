// A trained tokenizer as a small, inference-only bundle (what data/vqgan/ holds): the generator's
// weights (encoder, quantizer, decoder — no discriminator, no optimizer state) in float16 safetensors,
// half the size of the F32 checkpoint (checkpoint.ts), plus the run's config.json. The F16 encoding
// (IEEE 754 binary16, round to nearest even) is src/train/safetensors.ts's; this file only chooses it for
// the bundle and insists that a bundle is all F16.

import { mkdir, readFile } from 'node:fs/promises';
import { HyperlmError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from '../train/safetensors.js';

/** F16 safetensors bytes of F32 tensors (names sorted, header padded to 8 bytes). */
export function encodeHalfSafetensors(tensors: Map<string, SafeTensor>, metadata: Record<string, string>): Uint8Array {
  return encodeSafetensors(new Map([...tensors].map(([name, t]) => [name, { ...t, dtype: 'F16' as const }])), metadata);
}

/** Reads F16, F32 or I32 safetensors; F16 tensors come back as F32. A file with any F16 tensor must be all F16. */
export function decodeAnySafetensors(
  bytes: Uint8Array,
  source: string,
): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  const all = [...tensors];
  if (!all.some(([, t]) => t.dtype === 'F16')) return { tensors, metadata };
  for (const [name, t] of all) {
    if (t.dtype !== 'F16')
      throw new HyperlmError('CHECKPOINT_CORRUPT', `${source}: ${name} is ${t.dtype}; a VQGAN bundle is all F16`);
    t.dtype = 'F32';
  }
  return { tensors, metadata };
}

/**
 * Writes BUNDLE/model.safetensors (F16, no discriminator) and BUNDLE/config.json from a checkpoint folder:
 *
 *   BUNDLE/model.safetensors   F16 tensors by Vqgan.params() name; __metadata__.config = model config JSON,
 *                              __metadata__.step = training steps, __metadata__.format = "hyperlm-vqgan-f16"
 *   BUNDLE/config.json         the run config (preset, model, train: heldOut etc.)
 */
export async function exportBundle(
  checkpointDir: string,
  runConfig: unknown,
  outDir: string,
): Promise<{ bytes: number; tensors: number }> {
  await mkdir(outDir, { recursive: true });
  const src = `${checkpointDir}/model.safetensors`;
  const { tensors, metadata } = decodeSafetensors(await readFile(src), src);
  const keep = new Map([...tensors].filter(([k]) => !k.startsWith('discriminator.')));
  const bytes = encodeHalfSafetensors(keep, {
    config: metadata.config,
    step: metadata.step ?? '',
    format: 'hyperlm-vqgan-f16',
  });
  await writeFileAtomic(`${outDir}/model.safetensors`, bytes);
  await writeFileAtomic(`${outDir}/config.json`, JSON.stringify(runConfig, null, 2) + '\n');
  return { bytes: bytes.length, tensors: keep.size };
}
