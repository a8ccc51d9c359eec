// loadImage on real encoded images made with sharp: every bad input gives its documented drop
// reason, every odd-but-valid input gives a correct 8-bit RGB square (pixels checked, not just shape).

import test from 'ava';
import sharp, { type Sharp, type Color } from 'sharp';
import { crc32 } from 'node:zlib';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadImage, saveRgbPng, type LoadedImage, type ImageDrop } from '../src/vqgan/images.js';

const size = 16;

/** A w×h RGB image of deterministic noise (noise makes truncation actually lose data). */
function noise(w: number, h: number, seed = 1): Sharp {
  const raw = Buffer.alloc(w * h * 3);
  let s = seed;
  for (let i = 0; i < raw.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    raw[i] = s >>> 24;
  }
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } });
}

function solid(w: number, h: number, channels: 3 | 4, background: Color): Sharp {
  return sharp({ create: { width: w, height: h, channels, background } });
}

function pixel(img: LoadedImage, row: number, col: number): number[] {
  const o = (row * size + col) * 3;
  return [img.rgb[o], img.rgb[o + 1], img.rgb[o + 2]];
}

function ok(t: { fail(m: string): void }, r: LoadedImage | ImageDrop): LoadedImage {
  if ('drop' in r) {
    t.fail(`dropped: ${r.drop} ${r.detail}`);
    throw new Error(r.detail);
  }
  return r;
}

function near(
  t: { true(v: boolean, m?: string): void },
  got: number[],
  want: number[],
  tol: number,
  what: string,
): void {
  t.true(
    got.every((g, i) => Math.abs(g - want[i]) <= tol),
    `${what}: got ${got}, want ${want} ±${tol}`,
  );
}

test('a plain PNG and JPEG decode to size×size×3 with the right colour', async (t) => {
  for (const fmt of ['png', 'jpeg'] as const) {
    const bytes = await solid(40, 30, 3, { r: 200, g: 40, b: 10 }).toFormat(fmt).toBuffer();
    const img = ok(t, await loadImage(bytes, { size }, `solid.${fmt}`));
    t.is(img.rgb.length, size * size * 3);
    t.is(img.width, 40);
    t.is(img.height, 30);
    t.is(img.format, fmt);
    near(t, pixel(img, 8, 8), [200, 40, 10], fmt === 'png' ? 0 : 6, fmt);
  }
});

test('zero-byte, truncated PNG/JPEG and random bytes drop as corrupt', async (t) => {
  const png = await noise(64, 64).png().toBuffer();
  const jpeg = await noise(64, 64).jpeg().toBuffer();
  const random = Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 7919) % 251));
  const cases: Array<[string, Uint8Array]> = [
    ['empty.png', new Uint8Array(0)],
    ['truncated.png', png.subarray(0, png.length >> 1)],
    ['truncated.jpg', jpeg.subarray(0, jpeg.length >> 1)],
    ['random.png', random],
  ];
  for (const [name, bytes] of cases) {
    const r = await loadImage(bytes, { size }, name);
    t.true('drop' in r && r.drop === 'corrupt', `${name}: ${JSON.stringify('drop' in r ? r : 'decoded')}`);
  }
});

/** A PNG whose IHDR declares width×height over a tiny real image: a bomb's header, built in ms. */
async function bombPng(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await solid(8, 8, 3, '#000').png().toBuffer());
  // Signature (8) | length (4) | "IHDR" (4) | width (4) | height (4) | ... | CRC over type+data.
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

test('a decompression bomb (header says 30000×30000) drops as too-large before decoding', async (t) => {
  const bomb = await bombPng(30000, 30000);
  const meta = await sharp(bomb, { limitInputPixels: false }).metadata();
  t.is(meta.width, 30000, 'the patched header is what sharp reads');
  const r = await loadImage(bomb, { size }, 'bomb.png');
  t.true('drop' in r && r.drop === 'too-large' && r.detail.includes('30000×30000'), JSON.stringify(r));
  // A real (fully encoded) image over a lowered limit, and the encoded-bytes limit.
  const small = await loadImage(
    await solid(100, 100, 3, '#000').png().toBuffer(),
    { size, maxPixels: 9999 },
    'limit.png',
  );
  t.true('drop' in small && small.drop === 'too-large');
  const big = await loadImage(await solid(10, 10, 3, '#000').png().toBuffer(), { size, maxBytes: 10 }, 'bytes.png');
  t.true('drop' in big && big.drop === 'too-large');
});

test('an animated GIF yields its first frame', async (t) => {
  const red = await solid(20, 20, 3, '#ff0000').png().toBuffer();
  const blue = await solid(20, 20, 3, '#0000ff').png().toBuffer();
  const gif = await sharp([red, blue], { join: { animated: true } })
    .gif()
    .toBuffer();
  const meta = await sharp(gif).metadata();
  t.is(meta.pages, 2);
  const img = ok(t, await loadImage(gif, { size }, 'anim.gif'));
  t.is(img.format, 'gif');
  t.is(img.height, 20, 'height is one frame, not the strip');
  near(t, pixel(img, 5, 5), [255, 0, 0], 8, 'first frame is red');
});

test('CMYK JPEG, 16-bit PNG and grayscale PNG become 8-bit sRGB', async (t) => {
  // An in-gamut colour survives the sRGB → CMYK → sRGB profile round trip; a CMYK file read as
  // RGB (or inverted) would be far off.
  const cmyk = await solid(32, 32, 3, { r: 180, g: 120, b: 80 })
    .toColourspace('cmyk')
    .jpeg({ quality: 100 })
    .toBuffer();
  t.is((await sharp(cmyk).metadata()).space, 'cmyk');
  near(t, pixel(ok(t, await loadImage(cmyk, { size }, 'cmyk.jpg')), 8, 8), [180, 120, 80], 15, 'cmyk brown');

  const deep = await solid(32, 32, 3, { r: 255, g: 128, b: 0 }).toColourspace('rgb16').png().toBuffer();
  t.is((await sharp(deep).metadata()).depth, 'ushort');
  near(t, pixel(ok(t, await loadImage(deep, { size }, 'deep.png')), 8, 8), [255, 128, 0], 2, '16-bit orange');

  const grey = await solid(32, 32, 3, { r: 90, g: 90, b: 90 }).toColourspace('b-w').png().toBuffer();
  t.is((await sharp(grey).metadata()).channels, 1);
  const g = pixel(ok(t, await loadImage(grey, { size }, 'grey.png')), 8, 8);
  near(t, g, [90, 90, 90], 3, 'grey');
});

test('alpha is flattened onto white', async (t) => {
  const clear = await solid(32, 32, 4, { r: 0, g: 0, b: 0, alpha: 0 }).png().toBuffer();
  near(t, pixel(ok(t, await loadImage(clear, { size }, 'clear.png')), 4, 4), [255, 255, 255], 0, 'transparent → white');
  const half = await solid(32, 32, 4, { r: 0, g: 0, b: 0, alpha: 0.5 }).png().toBuffer();
  near(t, pixel(ok(t, await loadImage(half, { size }, 'half.png')), 4, 4), [128, 128, 128], 3, 'half black → grey');
});

test('EXIF orientation 6 is applied (image rotated 90° clockwise)', async (t) => {
  // Stored 64×32: left half red, right half blue. Displayed (rotated CW) 32×64: top red, bottom blue.
  const raw = Buffer.alloc(64 * 32 * 3);
  for (let y = 0; y < 32; y++)
    for (let x = 0; x < 64; x++) raw.set(x < 32 ? [255, 0, 0] : [0, 0, 255], (y * 64 + x) * 3);
  const jpeg = await sharp(raw, { raw: { width: 64, height: 32, channels: 3 } })
    .jpeg({ quality: 95 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  t.is((await sharp(jpeg).metadata()).orientation, 6);
  const img = ok(t, await loadImage(jpeg, { size }, 'exif6.jpg'));
  near(t, pixel(img, 2, 13), [255, 0, 0], 40, 'top-right is red (unrotated it would be blue)');
  near(t, pixel(img, 13, 2), [0, 0, 255], 40, 'bottom-left is blue (unrotated it would be red)');
});

test('cover resize keeps the centre of a wide image', async (t) => {
  // 48×16: green | red | green thirds; cover-cropping to a square keeps only the red middle.
  const raw = Buffer.alloc(48 * 16 * 3);
  for (let y = 0; y < 16; y++)
    for (let x = 0; x < 48; x++) raw.set(x >= 16 && x < 32 ? [255, 0, 0] : [0, 255, 0], (y * 48 + x) * 3);
  const png = await sharp(raw, { raw: { width: 48, height: 16, channels: 3 } })
    .png()
    .toBuffer();
  const img = ok(t, await loadImage(png, { size }, 'wide.png'));
  for (const col of [1, 8, 14]) near(t, pixel(img, 8, col), [255, 0, 0], 10, `col ${col}`);
});

test('SVG is dropped as unsupported', async (t) => {
  const svg = Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="file:///etc/passwd"/><rect width="10" height="10" fill="red"/></svg>',
  );
  const r = await loadImage(svg, { size }, 'x.svg');
  t.true('drop' in r && r.drop === 'unsupported', JSON.stringify(r));
});

test('saveRgbPng round-trips through loadImage', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hyperlm-img-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const rgb = new Uint8Array(size * size * 3).map((_, i) => (i * 37) % 256);
  const file = path.join(dir, 'out.png');
  await saveRgbPng(rgb, size, file);
  const back = ok(t, await loadImage(await sharp(file).toBuffer(), { size }, file));
  t.deepEqual(Array.from(back.rgb), Array.from(rgb));
  await t.throwsAsync(saveRgbPng(rgb.subarray(1), size, file), { message: /expected 16×16×3/ });
});
