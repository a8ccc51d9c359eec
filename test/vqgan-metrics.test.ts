// PSNR and SSIM: known values (identical images, a constant offset of known MSE) and SSIM against an
// independent numpy implementation of Wang et al. 2004 (skipped when python3/numpy is missing).

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { psnr, ssim } from '../src/vqgan/metrics.js';

function pseudoImage(w: number, h: number, seed: number): Uint8Array {
  const a = new Uint8Array(w * h * 3);
  let s = seed;
  for (let i = 0; i < a.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const y = Math.floor(i / 3 / w),
      x = (i / 3) % w;
    a[i] = Math.min(
      255,
      Math.max(0, Math.round(120 + 80 * Math.sin(x / 4 + (i % 3)) + 40 * Math.cos(y / 3) + (s % 41) - 20)),
    );
  }
  return a;
}

test('psnr: identical → Infinity; constant offset 5 → 10·log10(255²/25)', (t) => {
  const a = pseudoImage(16, 16, 1).map((v) => Math.min(v, 250));
  t.is(psnr(a, a), Infinity);
  const b = a.map((v) => v + 5);
  t.true(Math.abs(psnr(a, b) - 10 * Math.log10(65025 / 25)) < 1e-9);
});

test('ssim: identical → 1, worse with more noise, rejects tiny images', (t) => {
  const a = pseudoImage(24, 20, 2);
  t.true(Math.abs(ssim(a, a, 24, 20) - 1) < 1e-12);
  const noisy = (amp: number) => a.map((v, i) => Math.min(255, Math.max(0, v + ((i * 7919) % (2 * amp + 1)) - amp)));
  const s1 = ssim(a, noisy(10), 24, 20),
    s2 = ssim(a, noisy(60), 24, 20);
  t.true(s1 < 1 && s2 < s1, `${s1} ${s2}`);
  t.throws(() => ssim(a.subarray(0, 10 * 10 * 3), a.subarray(0, 10 * 10 * 3), 10, 10), { message: /at least 11×11/ });
});

const NUMPY_SSIM = `
import sys, json, numpy as np
d = json.load(sys.stdin); w, h = d['w'], d['h']
a = np.array(d['a'], float).reshape(h, w, 3); b = np.array(d['b'], float).reshape(h, w, 3)
g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5 ** 2)); win = np.outer(g, g); win /= win.sum()
def filt(p):
    out = np.zeros((h - 10, w - 10))
    for y in range(h - 10):
        for x in range(w - 10):
            out[y, x] = (p[y:y + 11, x:x + 11] * win).sum()
    return out
C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
vals = []
for c in range(3):
    x, y = a[:, :, c], b[:, :, c]
    mx, my = filt(x), filt(y)
    vx, vy, cxy = filt(x * x) - mx ** 2, filt(y * y) - my ** 2, filt(x * y) - mx * my
    vals.append((((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx ** 2 + my ** 2 + C1) * (vx + vy + C2))).mean())
print(repr(float(np.mean(vals))))
`;

test('ssim matches an independent numpy implementation (2-D window, no separability)', (t) => {
  const probe = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.log('python3 with numpy not available; skipped');
    t.pass();
    return;
  }
  const w = 23,
    h = 17;
  const a = pseudoImage(w, h, 3),
    b = pseudoImage(w, h, 4);
  const r = spawnSync('python3', ['-c', NUMPY_SSIM], {
    input: JSON.stringify({ w, h, a: Array.from(a), b: Array.from(b) }),
    encoding: 'utf8',
  });
  t.is(r.status, 0, r.stderr);
  const ref = Number(r.stdout.trim());
  const ours = ssim(a, b, w, h);
  t.true(ref > 0 && ref < 1, `reference ${ref}`);
  t.true(Math.abs(ours - ref) < 1e-9, `ours ${ours} vs numpy ${ref}`);
});
