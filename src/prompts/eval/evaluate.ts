// One evaluation as a library call: choose the items (the first N rows, or a seeded sample of N — the task
// files are sorted by package, so `npm run eval` always samples), run every system on them with the task's
// metrics (runner.ts), draw progress, write the results JSONL and return the summary table. `npm run eval` (scripts/eval.ts) parses flags, loads the model and the n-gram, and calls
// this; tests call it directly. The results file holds one JSON object per item:
//   {"id", "task", "reference", "systems": {NAME: {"prediction", "metrics": {…}, "ms", "prompt"?, "extra"?}}}

import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Progress, writeFileAtomic } from '../../io/index.js';
import { Rng } from '../../rng.js';
import { metricSuite } from './metric-suites.js';
import { runTask, type EvalSystem, type ResultRecord, type SystemSummary } from './runner.js';
import { summaryTable, type SummaryTable } from './summary-table.js';
import type { EvalTask, TaskRows } from './task-files.js';

/** The target text of a row: what every system's prediction is scored against. */
export function referenceOf<T extends EvalTask>(task: T, row: TaskRows[T]): string {
  const r = row as unknown as Record<string, string>;
  switch (task) {
    case 'summarize':
      return r.title;
    case 'caption':
    case 'image_gen':
      return r.alt;
    default:
      return r.middle;
  }
}

/** The first `n` rows, or with a seed `n` rows drawn without replacement (kept in file order). */
export function selectRows<R>(rows: readonly R[], n: number | undefined, seed?: number): R[] {
  const k = Math.min(n ?? rows.length, rows.length);
  if (seed === undefined || k === rows.length) return rows.slice(0, k);
  const rng = Rng.fromParts('eval-items', seed);
  const idx = rows.map((_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(idx.length - i);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx
    .slice(0, k)
    .sort((a, b) => a - b)
    .map((i) => rows[i]);
}

export interface EvaluateOptions<T extends EvalTask> {
  task: T;
  rows: ReadonlyArray<TaskRows[T]>;
  systems: ReadonlyArray<EvalSystem<TaskRows[T]>>;
  /** Results JSONL path; none: nothing written. */
  out?: string;
  /** Draw a progress bar / log lines on stderr (off in tests). */
  progress?: boolean;
  maxPromptChars?: number;
}

export interface EvaluateResult {
  records: ResultRecord[];
  summary: SystemSummary[];
  table: SummaryTable;
  seconds: number;
}

export async function evaluate<T extends EvalTask>(opts: EvaluateOptions<T>): Promise<EvaluateResult> {
  const metrics = metricSuite(opts.task);
  if (opts.out !== undefined) await mkdir(dirname(opts.out), { recursive: true }); // fail now, not after the run
  const progress = opts.progress ? new Progress({ label: `eval ${opts.task}`, total: opts.rows.length }) : undefined;
  const first = metrics.names[0];
  const t0 = performance.now();
  const lines: string[] = [];
  const { records, summary } = await runTask({
    task: opts.task,
    rows: opts.rows,
    reference: (row) => referenceOf(opts.task, row),
    systems: opts.systems,
    metrics,
    maxPromptChars: opts.maxPromptChars,
    onProgress:
      progress &&
      ((done, running) => {
        const fields: Record<string, string> = { items: `${done}/${opts.rows.length}` };
        if (first) for (const s of running) fields[s.name] = (s.means[first] ?? 0).toFixed(3);
        progress.update(done, fields);
      }),
    onRecord: (record) => {
      lines.push(JSON.stringify(record));
    },
  });
  progress?.finish();
  if (opts.out !== undefined) await writeFileAtomic(opts.out, lines.length ? `${lines.join('\n')}\n` : '');
  return { records, summary, table: summaryTable(summary, metrics.names), seconds: (performance.now() - t0) / 1000 };
}
