// Reconstruction quality of an image tokenizer on a list of image files: mean PSNR and SSIM (metrics.ts)
// of decode(encode(x)) against x, and codebook usage over all codes produced; plus the yardstick the
// issue asks for, measured the same way: a naive "same budget" baseline that shrinks each image to
// 16×16 pixels and enlarges it back with sharp (Lanczos-3 both ways), i.e. 256 RGB pixels per image
// against the tokenizer's 256 codes. Per-image PSNR is capped at PSNR_CAP dB before averaging: a flat
// image (common among web icons) is reconstructed exactly by both and would make the mean infinite.

import sharp from 'sharp';
import { readImageBytes, type ImageFile } from './image-files.js';
import type { ImageTokenizer } from './image-tokenizer.js';
import { loadImage } from './images.js';
import { psnr, ssim } from './metrics.js';
import { codeUsage, type CodeUsage } from './quantizer.js';

/** Cap on one image's PSNR in the means (an exact copy has infinite PSNR). */
export const PSNR_CAP = 60;
const cappedPsnr = (a: Uint8Array, b: Uint8Array): number => Math.min(PSNR_CAP, psnr(a, b));

export interface ReconstructionReport {
  /** Images measured (those that loaded). */
  images: number;
  /** Mean over images of PSNR (dB) and SSIM. */
  psnr: number;
  ssim: number;
  /** Over all codes of all images. */
  usage: CodeUsage;
  /** Images that could not be loaded, by drop reason. */
  dropped: Record<string, number>;
}

export interface BaselineReport {
  images: number;
  psnr: number;
  ssim: number;
}

/** The images as the tokenizer sees them (centre cover-crop at `size`), skipping those that fail. */
export async function loadEvalImages(
  files: ImageFile[],
  size: number,
  maxImagePixels = 40_000_000,
): Promise<{ rgb: Uint8Array[]; files: ImageFile[]; dropped: Record<string, number> }> {
  const rgb: Uint8Array[] = [],
    kept: ImageFile[] = [],
    dropped: Record<string, number> = {};
  for (const f of files) {
    const bytes = await readImageBytes(f);
    const r = bytes
      ? await loadImage(bytes, { size, maxPixels: maxImagePixels }, f.relPath)
      : { drop: 'unreadable' as const };
    if ('drop' in r) {
      dropped[r.drop] = (dropped[r.drop] ?? 0) + 1;
      continue;
    }
    rgb.push(r.rgb);
    kept.push(f);
  }
  return { rgb, files: kept, dropped };
}

/** PSNR/SSIM/usage of decode(encode(x)) over `files`, encoded `batch` images at a time. */
export async function reconstructionMetrics(
  tok: ImageTokenizer,
  files: ImageFile[],
  opts: { maxImagePixels?: number; batch?: number } = {},
): Promise<ReconstructionReport> {
  const { rgb, dropped } = await loadEvalImages(files, tok.resolution, opts.maxImagePixels);
  const all = new Uint16Array(rgb.length * tok.codesPerImage);
  let p = 0,
    s = 0;
  const batch = opts.batch ?? 8;
  for (let i = 0; i < rgb.length; i += batch) {
    const codes = await tok.encode(rgb.slice(i, i + batch));
    const recon = await tok.decode(codes);
    codes.forEach((c, j) => all.set(c, (i + j) * tok.codesPerImage));
    recon.forEach((y, j) => {
      p += cappedPsnr(rgb[i + j], y);
      s += ssim(rgb[i + j], y, tok.resolution, tok.resolution);
    });
  }
  const n = rgb.length;
  return { images: n, psnr: n ? p / n : NaN, ssim: n ? s / n : NaN, usage: codeUsage(all, tok.codebookSize), dropped };
}

/** x shrunk to side×side and enlarged back to its size (sharp, Lanczos-3). */
export async function shrinkAndEnlarge(rgb: Uint8Array, size: number, side = 16): Promise<Uint8Array> {
  const raw = { raw: { width: size, height: size, channels: 3 as const } };
  const small = await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), raw)
    .resize(side, side, { fit: 'fill' })
    .raw()
    .toBuffer();
  const big = await sharp(small, { raw: { width: side, height: side, channels: 3 } })
    .resize(size, size, { fit: 'fill' })
    .raw()
    .toBuffer();
  return new Uint8Array(big.buffer, big.byteOffset, big.byteLength);
}

/** The 16×16 baseline's mean PSNR/SSIM on the same images. */
export async function baselineMetrics(rgb: Uint8Array[], size: number, side = 16): Promise<BaselineReport> {
  let p = 0,
    s = 0;
  for (const x of rgb) {
    const y = await shrinkAndEnlarge(x, size, side);
    p += cappedPsnr(x, y);
    s += ssim(x, y, size, size);
  }
  return { images: rgb.length, psnr: rgb.length ? p / rgb.length : NaN, ssim: rgb.length ? s / rgb.length : NaN };
}
