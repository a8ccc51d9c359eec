// Finds training images for the VQGAN: image files under folders (recursively, in the walk's
// deterministic byte order) or given directly, and splits them into train / held-out by a hash of the
// path relative to the root it was found under — so the split is stable across machines and checkouts,
// and an image added later never moves another image between splits. The held-out images are never
// trained on; `vqgan:eval` measures on them.

import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { walkFolder } from '../data/walk.js';
import { HyperlmError } from '../errors.js';
import { seedFrom } from '../rng.js';

/** Extensions sharp decodes (SVG is left out on purpose: images.ts drops it as unsupported). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.png', '.jpg', '.jpeg', '.gif', '.webp', '.avif', '.tif', '.tiff']);

export interface ImageFile {
  filePath: string;
  /** Path relative to the input it was found under (the file name for a file given directly); hashed for the split. */
  relPath: string;
}

export function isImagePath(p: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(p).toLowerCase());
}

/** Every image file under `inputs` (folders or files), in input order then walk order. */
export async function listImageFiles(inputs: string[]): Promise<ImageFile[]> {
  const out: ImageFile[] = [];
  for (const input of inputs) {
    const st = await stat(input).catch(() => undefined);
    if (!st) throw new HyperlmError('INPUT_NOT_FOUND', `--images ${input}: no such file or folder`);
    if (st.isFile()) {
      out.push({ filePath: path.resolve(input), relPath: path.basename(input) });
      continue;
    }
    for await (const e of walkFolder(input, () => undefined)) {
      if (isImagePath(e.relPath)) out.push({ filePath: path.resolve(e.filePath), relPath: e.relPath });
    }
  }
  return out;
}

/** True when `relPath` belongs to the held-out split (a fraction `heldOut` of all paths, by FNV hash). */
export function isHeldOut(relPath: string, heldOut: number): boolean {
  return (seedFrom('vqgan-held-out', relPath) % 10_000) < heldOut * 10_000;
}

export function splitImageFiles(files: ImageFile[], heldOut: number): { train: ImageFile[]; heldOut: ImageFile[] } {
  const train: ImageFile[] = [], held: ImageFile[] = [];
  for (const f of files) (isHeldOut(f.relPath, heldOut) ? held : train).push(f);
  return { train, heldOut: held };
}
