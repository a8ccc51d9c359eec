// The summary of an evaluation run as a table: one row per system (model variants first, then the
// baselines), one column per metric (the mean over the items) plus items/s. Printed as aligned text on
// stdout and written as Markdown into BENCHMARKS.md (src/cli/benchmarks-md.ts). Metric values are shown
// as computed (F1 / EM / similarity in [0, 1], CIDEr-D in [0, 10], PSNR in dB), three decimals.

import { markdownTable } from '../../cli/benchmarks-md.js';
import type { SystemSummary } from './runner.js';

export interface SummaryTable {
  header: string[];
  rows: string[][];
}

function formatMetric(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(3);
}

/** Columns: the suite's metric names in order, then any metric a system added itself. */
export function summaryTable(summary: readonly SystemSummary[], metricNames: readonly string[]): SummaryTable {
  const extra = new Set<string>();
  for (const s of summary) for (const k of Object.keys(s.means)) if (!metricNames.includes(k)) extra.add(k);
  const columns = [...metricNames, ...[...extra].sort()];
  const ordered = [...summary.filter((s) => s.kind === 'model'), ...summary.filter((s) => s.kind === 'baseline')];
  const rows = ordered.map((s) => [
    s.name,
    s.kind,
    String(s.items),
    ...columns.map((c) => formatMetric(s.means[c])),
    s.seconds > 0 ? (s.items / s.seconds).toFixed(s.items / s.seconds >= 100 ? 0 : 2) : '–',
  ]);
  return { header: ['system', 'kind', 'n', ...columns, 'items/s'], rows };
}

/** Aligned plain text: the first three columns left-aligned, the numbers right-aligned. */
export function formatTextTable(table: SummaryTable): string {
  const all = [table.header, ...table.rows];
  const widths = table.header.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  const line = (r: string[]): string =>
    r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [line(table.header), widths.map((w) => '-'.repeat(w)).join('  '), ...table.rows.map(line)].join('\n');
}

export function formatMarkdownTable(table: SummaryTable): string {
  return markdownTable(table.header, table.rows);
}
