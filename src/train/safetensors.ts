// Reads and writes the safetensors format (huggingface/safetensors), so checkpoints open in Python.
// On disk: 8-byte little-endian u64 N, then N bytes of UTF-8 JSON (padded with spaces to a multiple of 8),
// then the raw little-endian tensor bytes. The JSON maps each tensor name to
// { "dtype": "F32" | "I32" | "F16", "shape": [...], "data_offsets": [begin, end] } (offsets relative to the data
// section, contiguous, in name order here) plus an optional "__metadata__": { string: string }.
// F16 entries hold their values in a Float32Array in memory and are written as IEEE 754 binary16 (round to
// nearest even) — the bundles use them to halve their size.

import { readFile, writeFile } from 'node:fs/promises';
import type * as tf from '@tensorflow/tfjs';
import { HyperlmError } from '../errors.js';

export interface SafeTensor {
  dtype: 'F32' | 'I32' | 'F16';
  shape: number[];
  data: Float32Array | Int32Array;
}

const BYTES: Record<SafeTensor['dtype'], number> = { F32: 4, I32: 4, F16: 2 };

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
    const half = mant >>> shift,
      rest = mant & ((1 << shift) - 1),
      mid = 1 << (shift - 1);
    return sign | (half + (rest > mid || (rest === mid && half & 1) ? 1 : 0));
  }
  const rest = mant & 0x1fff;
  mant >>>= 13;
  if (rest > 0x1000 || (rest === 0x1000 && mant & 1)) {
    mant++;
    if (mant === 0x400) {
      mant = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | mant;
}

/** binary16 bits → number. */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1,
    e = (h >>> 10) & 0x1f,
    m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

export function encodeSafetensors(tensors: Map<string, SafeTensor>, metadata: Record<string, string> = {}): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length)
      throw new HyperlmError(
        'CHECKPOINT_CORRUPT',
        `safetensors: ${name} has ${t.data.length} values for shape [${t.shape}]`,
      );
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + BYTES[t.dtype] * n] };
    offset += BYTES[t.dtype] * n;
  }
  let json = JSON.stringify(header);
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonBytes % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors.get(name)!;
    for (let i = 0; i < t.data.length; i++, pos += BYTES[t.dtype]) {
      if (t.dtype === 'F32') view.setFloat32(pos, t.data[i], true);
      else if (t.dtype === 'F16') view.setUint16(pos, toHalf(t.data[i]), true);
      else view.setInt32(pos, t.data[i], true);
    }
  }
  return out;
}

export function decodeSafetensors(
  bytes: Uint8Array,
  source = 'safetensors buffer',
): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const bad = (why: string): never => {
    throw new HyperlmError('CHECKPOINT_CORRUPT', `${source}: ${why}`);
  };
  if (bytes.length < 8) bad('shorter than the 8-byte header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (8 + n > bytes.length) bad(`header length ${n} runs past the end of the file (${bytes.length} bytes)`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, n).toString('utf8'));
  } catch (err) {
    return bad(`header is not JSON (${(err as Error).message})`);
  }
  const dataStart = 8 + n;
  const metadata = (header.__metadata__ ?? {}) as unknown as Record<string, string>;
  const tensors = new Map<string, SafeTensor>();
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (h.dtype !== 'F32' && h.dtype !== 'I32' && h.dtype !== 'F16')
      bad(`${name} has unsupported dtype ${JSON.stringify(h.dtype)} (F32, I32, F16 only)`);
    const size = BYTES[h.dtype as SafeTensor['dtype']];
    const [begin, end] = h.data_offsets;
    const count = h.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== size * count || dataStart + end > bytes.length)
      bad(`${name} data_offsets [${begin}, ${end}] do not fit shape [${h.shape}] in the file`);
    const data = h.dtype === 'I32' ? new Int32Array(count) : new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const at = dataStart + begin + size * i;
      data[i] =
        h.dtype === 'F32'
          ? view.getFloat32(at, true)
          : h.dtype === 'F16'
            ? fromHalf(view.getUint16(at, true))
            : view.getInt32(at, true);
    }
    tensors.set(name, { dtype: h.dtype as SafeTensor['dtype'], shape: h.shape, data });
  }
  return { tensors, metadata };
}

export async function writeSafetensors(
  path: string,
  tensors: Map<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Promise<void> {
  await writeFile(path, encodeSafetensors(tensors, metadata));
}

export async function readSafetensors(
  path: string,
): Promise<{ tensors: Map<string, SafeTensor>; metadata: Record<string, string> }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new HyperlmError('INPUT_NOT_FOUND', `cannot read checkpoint ${path}`, { cause: err });
  }
  return decodeSafetensors(bytes, path);
}

/** Copy variables off the device as F32 safetensors entries. */
export function variablesToSafeTensors(vars: Map<string, tf.Variable>): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const [name, v] of vars)
    out.set(name, { dtype: 'F32', shape: v.shape, data: Float32Array.from(v.dataSync() as Float32Array) });
  return out;
}
