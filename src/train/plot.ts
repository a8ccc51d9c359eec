// The loss curve of a run as a PNG (RUN/loss.png): an SVG line chart drawn here — training loss as a
// line, validation loss as dots, "nice" axis ticks — rasterised by sharp (librsvg). No plotting library.

import sharp from 'sharp';
import { writeFileAtomic } from '../io/atomic-file.js';

export interface CurvePoint {
  step: number;
  loss?: number;
  valLoss?: number;
}

const W = 800,
  H = 480;
const M = { left: 64, right: 24, top: 40, bottom: 48 };

/** Round step sizes (1, 2, 5 × 10^k) giving about `count` ticks over [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The chart as SVG text (exported for tests and for callers that want a vector image). */
export function lossCurveSvg(points: CurvePoint[], title = 'loss'): string {
  const train = points.filter((p) => Number.isFinite(p.loss)).map((p) => [p.step, p.loss!] as const);
  const val = points.filter((p) => Number.isFinite(p.valLoss)).map((p) => [p.step, p.valLoss!] as const);
  const all = [...train, ...val];
  const xs = all.map(([x]) => x),
    ys = all.map(([, y]) => y);
  const x0 = Math.min(0, ...xs),
    x1 = Math.max(1, ...xs);
  let y0 = all.length ? Math.min(...ys) : 0,
    y1 = all.length ? Math.max(...ys) : 1;
  if (y1 - y0 < 1e-6) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const px = (x: number): number => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y: number): number => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" font-family="sans-serif" font-size="16" text-anchor="middle">${esc(title)}</text>`,
  ];
  for (const t of niceTicks(y0, y1)) {
    parts.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#e5e5e5"/>`,
    );
    parts.push(
      `<text x="${M.left - 6}" y="${(py(t) + 4).toFixed(1)}" font-family="sans-serif" font-size="12" text-anchor="end">${t}</text>`,
    );
  }
  for (const t of niceTicks(x0, x1)) {
    parts.push(
      `<line x1="${px(t).toFixed(1)}" x2="${px(t).toFixed(1)}" y1="${H - M.bottom}" y2="${H - M.bottom + 5}" stroke="black"/>`,
    );
    parts.push(
      `<text x="${px(t).toFixed(1)}" y="${H - M.bottom + 18}" font-family="sans-serif" font-size="12" text-anchor="middle">${t}</text>`,
    );
  }
  parts.push(
    `<rect x="${M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="black"/>`,
  );
  parts.push(
    `<text x="${W / 2}" y="${H - 10}" font-family="sans-serif" font-size="13" text-anchor="middle">step</text>`,
  );
  if (train.length > 0) {
    const d = train.map(([x, y], i) => `${i ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>`);
  }
  for (const [x, y] of val)
    parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="4" fill="#d62728"/>`);
  parts.push(
    `<text x="${W - M.right - 8}" y="${M.top + 18}" font-family="sans-serif" font-size="12" text-anchor="end" fill="#1f77b4">train loss</text>`,
  );
  if (val.length > 0)
    parts.push(
      `<text x="${W - M.right - 8}" y="${M.top + 34}" font-family="sans-serif" font-size="12" text-anchor="end" fill="#d62728">validation loss</text>`,
    );
  parts.push('</svg>');
  return parts.join('\n');
}

/** Render the curve and write it atomically as a PNG. */
export async function plotLossCurve(path: string, points: CurvePoint[], title = 'loss'): Promise<void> {
  const png = await sharp(Buffer.from(lossCurveSvg(points, title)))
    .png()
    .toBuffer();
  await writeFileAtomic(path, png);
}
