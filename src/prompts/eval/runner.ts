// The evaluation loop: every system (model variants and baselines alike) predicts every item, in turn, and
// each prediction is scored against the item's reference by the task's metric suite. A system is just a
// `Predictor` — an async function from a task row to a prediction — so baselines and model prompts go
// through the same code, on the same items, in the same run (the issue: "a model result is only
// interesting next to these"). Per-item metrics are scored as items finish (progress shows their running
// mean); corpus metrics (BLEU's summed statistics, CIDEr-D's document frequencies) are computed once all
// predictions are in, then the records go to the caller. The summary is, per system, the corpus value of
// a corpus metric and the mean over items of every other metric (summary-table.ts prints it).

import { HyperlmError } from '../../errors.js';

/** What a system returns for one item. */
export interface Prediction {
  prediction: string;
  /** The prompt the system sent (model systems); truncated in the records. */
  prompt?: string;
  /** Metrics the system computes itself (a model's own score, PSNR/SSIM of an image); merged with the suite's. */
  metrics?: Record<string, number>;
  /** Anything else worth keeping per item (token counts, which variant won a rerank…). */
  extra?: Record<string, unknown>;
}

export type Predictor<Row> = (row: Row, index: number) => Promise<Prediction>;

export interface EvalSystem<Row> {
  /** Table row label, e.g. `model`, `model:ltr`, `lead-10`, `ngram-4`. */
  name: string;
  kind: 'model' | 'baseline';
  predict: Predictor<Row>;
}

export interface CorpusScores {
  /** Per-item values of corpus metrics (CIDEr-D per caption), written into each record. */
  perItem?: Record<string, number[]>;
  /** The corpus value of each corpus metric; it replaces the mean in the summary. */
  corpus: Record<string, number>;
}

/** A task's metrics: the column names in table order, a per-item scorer and an optional whole-set one. */
export interface MetricSuite {
  names: readonly string[];
  item(prediction: string, reference: string): Record<string, number>;
  corpus?(predictions: readonly string[], references: readonly string[]): CorpusScores;
}

export interface SystemResult {
  prediction: string;
  metrics: Record<string, number>;
  prompt?: string;
  /** Wall-clock milliseconds of the predictor for this item. */
  ms: number;
  extra?: Record<string, unknown>;
}

/** One line of the results JSONL. */
export interface ResultRecord {
  id: string;
  task: string;
  reference: string;
  systems: Record<string, SystemResult>;
}

export interface RunTaskOptions<Row extends { id: string }> {
  task: string;
  rows: readonly Row[];
  reference: (row: Row) => string;
  systems: ReadonlyArray<EvalSystem<Row>>;
  metrics: MetricSuite;
  /** Called after each item is predicted and scored per item, with the running means (progress). */
  onProgress?: (done: number, running: SystemSummary[]) => void;
  /** Called with each finished record, in order, once the corpus metrics are in (write it out). */
  onRecord?: (record: ResultRecord) => void | Promise<void>;
  /** Longest prompt kept in a record, in characters (the head and tail are kept around an ellipsis). */
  maxPromptChars?: number;
}

export interface SystemSummary {
  name: string;
  kind: 'model' | 'baseline';
  items: number;
  /** Mean of each metric over the items. */
  means: Record<string, number>;
  /** Total predictor seconds. */
  seconds: number;
}

export interface RunTaskResult {
  records: ResultRecord[];
  summary: SystemSummary[];
}

/** Keeps the first and last `max / 2` characters of a long prompt (both ends matter: the start holds the header). */
export function truncateMiddle(text: string, max: number): string {
  if (text.length <= max) return text;
  const half = Math.floor((max - 5) / 2);
  return `${text.slice(0, half)} […] ${text.slice(text.length - half)}`;
}

export async function runTask<Row extends { id: string }>(opts: RunTaskOptions<Row>): Promise<RunTaskResult> {
  if (opts.systems.length === 0)
    throw new HyperlmError('CONFIG_BAD_VALUE', `eval ${opts.task}: no systems to evaluate`);
  const names = new Set<string>();
  for (const s of opts.systems) {
    if (names.has(s.name))
      throw new HyperlmError('CONFIG_BAD_VALUE', `eval ${opts.task}: two systems are named ${s.name}`);
    names.add(s.name);
  }
  const references = opts.rows.map(opts.reference);
  const maxPrompt = opts.maxPromptChars ?? 2000;
  const totals = opts.systems.map(() => ({
    sums: {} as Record<string, number>,
    counts: {} as Record<string, number>,
    ms: 0,
  }));
  const add = (s: number, metrics: Record<string, number>): void => {
    const t = totals[s];
    for (const [k, v] of Object.entries(metrics)) {
      if (!Number.isFinite(v)) continue;
      t.sums[k] = (t.sums[k] ?? 0) + v;
      t.counts[k] = (t.counts[k] ?? 0) + 1;
    }
  };
  const summarize = (items: number): SystemSummary[] =>
    opts.systems.map((system, s) => {
      const t = totals[s];
      const means: Record<string, number> = {};
      for (const k of Object.keys(t.sums)) means[k] = t.sums[k] / t.counts[k];
      return { name: system.name, kind: system.kind, items, means, seconds: t.ms / 1000 };
    });
  const records: ResultRecord[] = [];
  for (let i = 0; i < opts.rows.length; i++) {
    const row = opts.rows[i];
    const record: ResultRecord = { id: row.id, task: opts.task, reference: references[i], systems: {} };
    for (let s = 0; s < opts.systems.length; s++) {
      const system = opts.systems[s];
      const t0 = performance.now();
      const p = await system.predict(row, i);
      const ms = performance.now() - t0;
      const metrics = { ...opts.metrics.item(p.prediction, references[i]), ...p.metrics };
      const result: SystemResult = { prediction: p.prediction, metrics, ms: Math.round(ms * 10) / 10 };
      if (p.prompt !== undefined) result.prompt = truncateMiddle(p.prompt, maxPrompt);
      if (p.extra !== undefined) result.extra = p.extra;
      record.systems[system.name] = result;
      totals[s].ms += ms;
      add(s, metrics);
    }
    records.push(record);
    opts.onProgress?.(i + 1, summarize(i + 1));
  }
  const summary = summarize(records.length);
  if (opts.metrics.corpus && records.length > 0) {
    opts.systems.forEach((system, s) => {
      const scores = opts.metrics.corpus!(
        records.map((r) => r.systems[system.name].prediction),
        references,
      );
      for (const [k, values] of Object.entries(scores.perItem ?? {})) {
        records.forEach((r, i) => {
          r.systems[system.name].metrics[k] = values[i];
        });
      }
      Object.assign(summary[s].means, scores.corpus);
    });
  }
  for (const r of records) await opts.onRecord?.(r);
  return { records, summary };
}

/** Wraps a model predictor so a HyperlmError on one item is recorded, not thrown. */
export function tolerant<Row>(
  predict: (row: Row, index: number) => Promise<Prediction>,
): (row: Row, index: number) => Promise<Prediction> {
  return async (row, index) => {
    try {
      const p = await predict(row, index);
      return { ...p, metrics: { ...p.metrics, failed: 0 } };
    } catch (err) {
      if (!(err instanceof HyperlmError)) throw err;
      return { prediction: '', metrics: { failed: 1 }, extra: { error: `${err.code}: ${err.message}` } };
    }
  };
}
