// Training batches for the VQGAN: images in a seeded per-epoch shuffle, each loaded once (images.ts:
// EXIF, alpha, colour space, cover-crop) at round(resolution × cropScale) and kept in memory, then a
// random resolution² crop and a random horizontal flip per use. The data position (epoch, cursor) and
// the crop/flip generator are the whole state, so a checkpoint restores the exact batch sequence.
// Images that fail to load are skipped (counted in `dropped`), deterministically on every run.

import { HyperlmError } from '../errors.js';
import { Rng, type RngState } from '../rng.js';
import { readImageBytes, type ImageFile } from './image-files.js';
import { loadImage } from './images.js';

export interface BatcherState {
  /** Passes over the image list completed. */
  epoch: number;
  /** Position inside this epoch's shuffled order. */
  cursor: number;
  /** Crop/flip generator. */
  rng: RngState;
}

export interface BatcherOptions {
  /** Output side (the VQGAN's resolution). */
  size: number;
  cropScale: number;
  flipProbability: number;
  seed: number;
  maxImagePixels: number;
}

export class ImageBatcher {
  private readonly loadSize: number;
  private readonly cache = new Map<number, Uint8Array | null>();
  private order: number[] = [];
  private orderEpoch = -1;
  private epoch = 0;
  private cursor = 0;
  private rng: Rng;
  /** Drop reason → count, over images tried so far. */
  readonly dropped: Record<string, number> = {};

  constructor(
    private readonly files: ImageFile[],
    private readonly opts: BatcherOptions,
  ) {
    if (files.length === 0)
      throw new HyperlmError('INPUT_NOT_FOUND', 'vqgan training: no training images (after the held-out split)');
    this.loadSize = Math.round(opts.size * opts.cropScale);
    this.rng = Rng.fromParts(opts.seed, 'vqgan-crops');
  }

  getState(): BatcherState {
    return { epoch: this.epoch, cursor: this.cursor, rng: this.rng.getState() };
  }

  setState(s: BatcherState): void {
    if (!Number.isInteger(s?.epoch) || !Number.isInteger(s?.cursor) || s.cursor < 0 || s.cursor > this.files.length) {
      throw new HyperlmError(
        'CHECKPOINT_CORRUPT',
        `vqgan data position ${JSON.stringify(s)} does not fit ${this.files.length} training images`,
      );
    }
    this.epoch = s.epoch;
    this.cursor = s.cursor;
    this.rng = Rng.fromState(s.rng);
  }

  private shuffled(epoch: number): number[] {
    if (this.orderEpoch !== epoch) {
      const r = Rng.fromParts(this.opts.seed, 'vqgan-order', epoch);
      const a = this.files.map((_, i) => i);
      r.shuffle(a);
      this.order = a;
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  private async load(i: number): Promise<Uint8Array | null> {
    if (this.cache.has(i)) return this.cache.get(i)!;
    const f = this.files[i];
    let rgb: Uint8Array | null = null;
    const bytes = await readImageBytes(f);
    if (!bytes) this.dropped.unreadable = (this.dropped.unreadable ?? 0) + 1;
    else {
      const r = await loadImage(bytes, { size: this.loadSize, maxPixels: this.opts.maxImagePixels }, f.relPath);
      if ('drop' in r) this.dropped[r.drop] = (this.dropped[r.drop] ?? 0) + 1;
      else rgb = r.rgb;
    }
    this.cache.set(i, rgb);
    return rgb;
  }

  /** Next `batch` images as [batch, size, size, 3] floats in [-1, 1] (row-major NHWC). */
  async next(batch: number): Promise<Float32Array> {
    const R = this.opts.size,
      S = this.loadSize;
    const out = new Float32Array(batch * R * R * 3);
    let filled = 0,
      misses = 0;
    while (filled < batch) {
      if (this.cursor >= this.files.length) {
        this.epoch++;
        this.cursor = 0;
      }
      const img = await this.load(this.shuffled(this.epoch)[this.cursor++]);
      if (!img) {
        if (++misses > this.files.length)
          throw new HyperlmError(
            'INPUT_NOT_FOUND',
            `vqgan training: none of the ${this.files.length} training images could be loaded (${JSON.stringify(this.dropped)})`,
          );
        continue;
      }
      const ox = this.rng.int(S - R + 1),
        oy = this.rng.int(S - R + 1);
      const flip = this.rng.uniform() < this.opts.flipProbability;
      const base = filled * R * R * 3;
      for (let y = 0; y < R; y++) {
        for (let x = 0; x < R; x++) {
          const sx = flip ? ox + R - 1 - x : ox + x;
          const src = ((oy + y) * S + sx) * 3,
            dst = base + (y * R + x) * 3;
          out[dst] = img[src] / 127.5 - 1;
          out[dst + 1] = img[src + 1] / 127.5 - 1;
          out[dst + 2] = img[src + 2] / 127.5 - 1;
        }
      }
      filled++;
    }
    return out;
  }
}
