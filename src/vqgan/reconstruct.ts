// Side-by-side reconstructions for eyeballing a tokenizer: for each image file, original | decode(encode)
// as one (2·resolution)×resolution PNG, plus the PSNR of each pair.

import { mkdir } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { ImageFile } from './image-files.js';
import type { ImageTokenizer } from './image-tokenizer.js';
import { loadEvalImages } from './evaluate.js';
import { psnr, ssim } from './metrics.js';
import sharp from 'sharp';

/** [a | b] as one RGB image of width 2·size (rows concatenated). */
export function sideBySide(a: Uint8Array, b: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(2 * size * size * 3);
  const row = size * 3;
  for (let y = 0; y < size; y++) {
    out.set(a.subarray(y * row, (y + 1) * row), y * 2 * row);
    out.set(b.subarray(y * row, (y + 1) * row), y * 2 * row + row);
  }
  return out;
}

export interface ReconstructionFile {
  source: string;
  png: string;
  psnr: number;
  ssim: number;
}

/** Writes OUT/NAME.recon.png for each loadable image; returns what was written. */
export async function writeReconstructions(
  tok: ImageTokenizer,
  files: ImageFile[],
  outDir: string,
): Promise<{ written: ReconstructionFile[]; dropped: Record<string, number> }> {
  await mkdir(outDir, { recursive: true });
  const { rgb, files: kept, dropped } = await loadEvalImages(files, tok.resolution);
  const R = tok.resolution;
  const written: ReconstructionFile[] = [];
  for (let i = 0; i < rgb.length; i++) {
    const [recon] = await tok.decode(await tok.encode([rgb[i]]));
    const name = `${String(i).padStart(3, '0')}-${basename(kept[i].relPath, extname(kept[i].relPath)).replace(/[^\w.-]+/g, '_')}.recon.png`;
    const png = join(outDir, name);
    await sharp(Buffer.from(sideBySide(rgb[i], recon, R)), { raw: { width: 2 * R, height: R, channels: 3 } })
      .png()
      .toFile(png);
    written.push({ source: kept[i].filePath, png, psnr: psnr(rgb[i], recon), ssim: ssim(rgb[i], recon, R, R) });
  }
  return { written, dropped };
}
