// Decode any web image into the fixed-size RGB square the VQGAN tokenizer eats (CM3 uses 256×256),
// with sharp/libvips. Steps: read the header (format, size) → refuse bombs and SVG → decode the
// first frame only → apply EXIF orientation → flatten alpha onto white → convert to 8-bit sRGB
// (CMYK, 16-bit, grayscale, palettes) → cover-resize and centre-crop to size×size.
// Every failure is a `{ drop, detail }` result, never a throw: one bad image must not kill a worker.
//
// SVG is dropped as 'unsupported': rendering it would need librsvg to follow `<image href>`,
// external fonts and entities — a network/file access path we do not want inside preprocessing.

import sharp, { type Metadata } from 'sharp';
import { HyperlmError } from '../errors.js';

export interface ImageLoadOptions {
  /** Output side in pixels; CM3's VQGAN takes 256×256. */
  size: number;
  /** Decompression-bomb limit on width×height, checked from the header before decoding (sharp's default). */
  maxPixels: number;
  /** Encoded-size limit: larger files are dropped before sharp sees them. */
  maxBytes: number;
}

export const defaultImageLoadOptions: ImageLoadOptions = {
  size: 256,
  maxPixels: 40e6,
  maxBytes: 16 * 2 ** 20,
};

export type ImageDrop = { drop: 'corrupt' | 'too-large' | 'unsupported'; detail: string };
export type LoadedImage = { rgb: Uint8Array; width: number; height: number; format: string };

let sharpConfigured = false;

/**
 * libvips keeps one process-wide thread pool and operation cache, shared by every worker thread.
 * With N piscina workers already running in parallel, vips' own per-image threads only
 * oversubscribe the cores, so concurrency is 1; the cache is off because each image is decoded once
 * (cache hits never happen) and cached decoded images would hold memory in every long-lived worker.
 */
export function configureSharpForWorkers(): void {
  if (sharpConfigured) return;
  sharp.concurrency(1);
  sharp.cache(false);
  sharpConfigured = true;
}

function validate(opts: ImageLoadOptions): void {
  for (const key of ['size', 'maxPixels', 'maxBytes'] as const) {
    if (!Number.isInteger(opts[key]) || opts[key] <= 0) {
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `imageLoadOptions.${key} must be a positive integer, got ${opts[key]}`,
      );
    }
  }
}

/** Decode `bytes` (from `source`, named in drop details) into a size×size×3 row-major RGB image. */
export async function loadImage(
  bytes: Uint8Array,
  options: Partial<ImageLoadOptions>,
  source: string,
): Promise<LoadedImage | ImageDrop> {
  const opts = { ...defaultImageLoadOptions, ...options };
  validate(opts);
  configureSharpForWorkers();
  if (bytes.byteLength === 0) return { drop: 'corrupt', detail: `${source}: zero bytes` };
  if (bytes.byteLength > opts.maxBytes)
    return { drop: 'too-large', detail: `${source}: ${bytes.byteLength} bytes > ${opts.maxBytes}` };
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // failOn 'warning': a truncated JPEG/PNG only warns in libvips and would decode half grey.
  const sharpOpts = { limitInputPixels: opts.maxPixels, failOn: 'warning' as const, pages: 1 };
  let meta: Metadata;
  try {
    // Header only: no pixel limit here, so a bomb is reported by our own check with its size.
    meta = await sharp(input, { ...sharpOpts, limitInputPixels: false }).metadata();
  } catch (err) {
    return { drop: 'corrupt', detail: `${source}: ${(err as Error).message}` };
  }
  const format = meta.format ?? 'unknown';
  if (format === 'svg')
    return { drop: 'unsupported', detail: `${source}: SVG is not rasterised (may reference external resources)` };
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width <= 0 || height <= 0) return { drop: 'corrupt', detail: `${source}: no dimensions in header` };
  if (width * height > opts.maxPixels)
    return { drop: 'too-large', detail: `${source}: ${width}×${height} > ${opts.maxPixels} pixels` };
  try {
    const { data, info } = await sharp(input, sharpOpts)
      .rotate()
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .resize(opts.size, opts.size, { fit: 'cover', position: 'centre' })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.byteLength !== opts.size * opts.size * 3) {
      return { drop: 'corrupt', detail: `${source}: decoded to ${info.width}×${info.height}×${info.channels}` };
    }
    return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height, format };
  } catch (err) {
    const message = (err as Error).message;
    if (/pixel limit/i.test(message)) return { drop: 'too-large', detail: `${source}: ${message}` };
    return { drop: 'corrupt', detail: `${source}: ${message}` };
  }
}

/** Write a size×size RGB image (as produced by loadImage or a VQGAN decode) to a PNG file. */
export async function saveRgbPng(rgb: Uint8Array, size: number, filePath: string): Promise<void> {
  if (rgb.byteLength !== size * size * 3) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `saveRgbPng: rgb has ${rgb.byteLength} bytes, expected ${size}×${size}×3 for ${filePath}`,
    );
  }
  await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), {
    raw: { width: size, height: size, channels: 3 },
  })
    .png()
    .toFile(filePath);
}
