// Image reconstruction metrics on uint8 HWC images, in plain TypeScript (no tensors, so they are cheap to
// call from evaluation loops and independent of the model code they judge).
// PSNR = 10·log10(255² / MSE). SSIM follows Wang et al. 2004 (IEEE TIP 13(4)): 11×11 Gaussian window with
// σ = 1.5, K1 = 0.01, K2 = 0.03, L = 255, computed per channel over the 'valid' window positions (as in the
// authors' MATLAB ssim.m) and averaged over positions and channels.

import { HyperlmError } from '../errors.js';

function checkPair(a: Uint8Array, b: Uint8Array, what: string): void {
  if (a.length !== b.length || a.length === 0) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `${what}: images must be non-empty and equal in length, got ${a.length} and ${b.length}`,
    );
  }
}

/** Peak signal-to-noise ratio in dB; Infinity for identical images. */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  checkPair(a, b, 'psnr');
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** Normalized 1-D Gaussian taps; the 2-D window is their outer product (separable). */
function gaussianTaps(size: number, sigma: number): Float64Array {
  const taps = new Float64Array(size);
  const mid = (size - 1) / 2;
  let sum = 0;
  for (let i = 0; i < size; i++) sum += taps[i] = Math.exp(-((i - mid) ** 2) / (2 * sigma * sigma));
  return taps.map((t) => t / sum);
}

/** 'valid' separable filtering of a [h, w] plane → [h − k + 1, w − k + 1]. */
function filterValid(plane: Float64Array, h: number, w: number, taps: Float64Array): Float64Array {
  const k = taps.length,
    ow = w - k + 1,
    oh = h - k + 1;
  const rows = new Float64Array(h * ow);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += taps[t] * plane[y * w + x + t];
      rows[y * ow + x] = s;
    }
  }
  const out = new Float64Array(oh * ow);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += taps[t] * rows[(y + t) * ow + x];
      out[y * ow + x] = s;
    }
  }
  return out;
}

/** Mean SSIM of two HWC uint8 images of size width×height×channels (1 for identical images). */
export function ssim(a: Uint8Array, b: Uint8Array, width: number, height: number, channels = 3): number {
  checkPair(a, b, 'ssim');
  const win = 11;
  if (a.length !== width * height * channels) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `ssim: expected ${width}×${height}×${channels} = ${width * height * channels} values, got ${a.length}`,
    );
  }
  if (width < win || height < win)
    throw new HyperlmError('CONFIG_BAD_VALUE', `ssim: images must be at least ${win}×${win}, got ${width}×${height}`);
  const taps = gaussianTaps(win, 1.5);
  const C1 = (0.01 * 255) ** 2,
    C2 = (0.03 * 255) ** 2;
  const n = width * height;
  let total = 0;
  for (let c = 0; c < channels; c++) {
    const x = new Float64Array(n),
      y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = a[i * channels + c];
      y[i] = b[i * channels + c];
    }
    const [mx, my, xx, yy, xy] = [x, y, x.map((v) => v * v), y.map((v) => v * v), x.map((v, i) => v * y[i])].map((p) =>
      filterValid(p, height, width, taps),
    );
    let sum = 0;
    for (let i = 0; i < mx.length; i++) {
      const vx = xx[i] - mx[i] * mx[i],
        vy = yy[i] - my[i] * my[i],
        cxy = xy[i] - mx[i] * my[i];
      sum += ((2 * mx[i] * my[i] + C1) * (2 * cxy + C2)) / ((mx[i] ** 2 + my[i] ** 2 + C1) * (vx + vy + C2));
    }
    total += sum / mx.length;
  }
  return total / channels;
}
