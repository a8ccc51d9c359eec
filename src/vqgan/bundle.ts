// A trained tokenizer as a small, inference-only bundle (what data/vqgan/ holds): the generator's
// weights (encoder, quantizer, decoder — no discriminator, no optimizer state) in float16 safetensors,
// half the size of the F32 checkpoint, plus the run's config.json.
//
//   BUNDLE/model.safetensors   F16 tensors by Vqgan.params() name; __metadata__.config = model config JSON,
//                              __metadata__.step = training steps, __metadata__.format = "hyperlm-vqgan-f16"
//   BUNDLE/config.json         the run config (preset, model, train: heldOut etc.)
//
// src/model/safetensors.ts reads and writes F32/I32 only, so the F16 header and the IEEE 754 binary16
// conversion (round to nearest even) live here; the layout is the same standard safetensors file.

import { mkdir, readFile } from 'node:fs/promises';
import { HyperlmError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { decodeSafetensors, type SafeTensor } from '../model/safetensors.js';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → binary16 bits, round to nearest even; overflow → ±Inf, tiny values → subnormals/±0. */
export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift, rest = mant & ((1 << shift) - 1), mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && (half & 1)) ? 1 : 0));
  }
  const rest = mant & 0x1fff;
  mant >>>= 13;
  if (rest > 0x1000 || (rest === 0x1000 && (mant & 1))) {
    mant++;
    if (mant === 0x400) { mant = 0; e++; if (e >= 0x1f) return sign | 0x7c00; }
  }
  return sign | (e << 10) | mant;
}

/** binary16 bits → number. */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, e = (h >>> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** F16 safetensors bytes of F32 tensors (names sorted, header padded to 8 bytes). */
export function encodeHalfSafetensors(tensors: Map<string, SafeTensor>, metadata: Record<string, string>): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const n = tensors.get(name)!.data.length;
    header[name] = { dtype: 'F16', shape: tensors.get(name)!.shape, data_offsets: [offset, offset + 2 * n] };
    offset += 2 * n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const hb = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + hb.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let pos = 8 + hb.length;
  for (const name of names) for (const v of tensors.get(name)!.data) { view.setUint16(pos, toHalf(v), true); pos += 2; }
  return out;
}

/** Reads F16, F32 or I32 safetensors; F16 tensors come back as F32. */
export function decodeAnySafetensors(bytes: Uint8Array, source: string): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 8) throw new HyperlmError('CHECKPOINT_CORRUPT', `${source}: shorter than the 8-byte header length`);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.length) throw new HyperlmError('CHECKPOINT_CORRUPT', `${source}: header length ${n} runs past the end of the file`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString('utf8'));
  } catch (err) {
    throw new HyperlmError('CHECKPOINT_CORRUPT', `${source}: header is not JSON (${(err as Error).message})`);
  }
  const entries = Object.entries(header).filter(([k]) => k !== '__metadata__');
  if (!entries.some(([, h]) => h.dtype === 'F16')) return decodeSafetensors(bytes, source);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, h] of entries) {
    if (h.dtype !== 'F16') throw new HyperlmError('CHECKPOINT_CORRUPT', `${source}: ${name} is ${h.dtype}; a VQGAN bundle is all F16`);
    const count = h.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = h.data_offsets;
    if (end - begin !== 2 * count || 8 + n + end > bytes.length) throw new HyperlmError('CHECKPOINT_CORRUPT', `${source}: ${name} data_offsets [${begin}, ${end}] do not fit shape [${h.shape}]`);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = fromHalf(view.getUint16(8 + n + begin + 2 * i, true));
    tensors.set(name, { dtype: 'F32', shape: h.shape, data });
  }
  return { tensors, metadata: (header.__metadata__ ?? {}) as unknown as Record<string, string> };
}

/** Writes BUNDLE/model.safetensors (F16, no discriminator) and BUNDLE/config.json from a checkpoint folder. */
export async function exportBundle(checkpointDir: string, runConfig: unknown, outDir: string): Promise<{ bytes: number; tensors: number }> {
  await mkdir(outDir, { recursive: true });
  const src = `${checkpointDir}/model.safetensors`;
  const { tensors, metadata } = decodeSafetensors(await readFile(src), src);
  const keep = new Map([...tensors].filter(([k]) => !k.startsWith('discriminator.')));
  const bytes = encodeHalfSafetensors(keep, { config: metadata.config, step: metadata.step ?? '', format: 'hyperlm-vqgan-f16' });
  await writeFileAtomic(`${outDir}/model.safetensors`, bytes);
  await writeFileAtomic(`${outDir}/config.json`, JSON.stringify(runConfig, null, 2) + '\n');
  return { bytes: bytes.length, tensors: keep.size };
}
