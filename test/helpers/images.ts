// Small synthetic images for the VQGAN tests: smooth colour gradients, different for every index.
import sharp from 'sharp';

/** A w×h PNG (or JPEG) of a colour gradient that depends on `i`. */
export async function gradientImage(w: number, h: number, i: number, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      raw[o] = (x * (i + 3) * 5) & 255;
      raw[o + 1] = (y * (i + 1) * 7) & 255;
      raw[o + 2] = ((x + y) * 11 + i * 40) & 255;
    }
  const img = sharp(raw, { raw: { width: w, height: h, channels: 3 } });
  return (format === 'jpeg' ? img.jpeg() : img.png()).toBuffer();
}
