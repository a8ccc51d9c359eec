// The runner on the tiny eval sample with the baselines: predictions are what an independent reading of the
// pages gives, per-item metrics match values recomputed here from scratch (ROUGE n-gram overlap and LCS,
// brute-force Levenshtein, whitespace-token equality), corpus metrics replace means, the results JSONL has
// the documented schema, and `--n` / `--seed` choose the items. The CLI is run as a child process once.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HyperlmError } from '../src/errors.js';
import { bleuCorpus, ciderD, porterStem } from '../src/prompts/metrics/index.js';
import {
  evaluate,
  readTaskFile,
  runTask,
  selectRows,
  taskSystems,
  truncateMiddle,
  INFILL_METRICS,
  type ResultRecord,
} from '../src/prompts/eval/index.js';
import { REPO, tempDir } from './helpers/fixtures.js';

const ROOT = join(REPO, 'test/fixtures/eval-sample');
const close = (a: number, b: number) => Math.abs(a - b) < 1e-12;

/** rouge-score's tokenizer, written out again: lowercase, non-alphanumerics to spaces, stem words over 3 letters. */
const words = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
    .split(' ')
    .filter(Boolean)
    .map((w) => (w.length > 3 ? porterStem(w) : w));
const f1 = (match: number, p: number, r: number) =>
  match === 0 ? 0 : (2 * (match / p) * (match / r)) / (match / p + match / r);
function rougeN(pred: string[], ref: string[], n: number): number {
  const grams = (t: string[]) => t.slice(0, Math.max(0, t.length - n + 1)).map((_, i) => t.slice(i, i + n).join(' '));
  const p = grams(pred);
  const r = grams(ref);
  let match = 0;
  for (const g of new Set(p)) match += Math.min(p.filter((x) => x === g).length, r.filter((x) => x === g).length);
  return f1(match, p.length, r.length);
}
function lcs(a: string[], b: string[]): number {
  const memo = new Map<string, number>();
  const go = (i: number, j: number): number => {
    if (i === a.length || j === b.length) return 0;
    const key = `${i},${j}`;
    if (!memo.has(key)) memo.set(key, a[i] === b[j] ? 1 + go(i + 1, j + 1) : Math.max(go(i + 1, j), go(i, j + 1)));
    return memo.get(key)!;
  };
  return go(0, 0);
}
function levenshtein(a: string, b: string): number {
  const memo = new Map<string, number>();
  const go = (i: number, j: number): number => {
    if (i === 0) return j;
    if (j === 0) return i;
    const key = `${i},${j}`;
    if (!memo.has(key))
      memo.set(key, Math.min(go(i - 1, j) + 1, go(i, j - 1) + 1, go(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1)));
    return memo.get(key)!;
  };
  return go(a.length, b.length);
}
/** The first h1–h6 of a page by regular expression (tags stripped, entities of the sample decoded). */
function firstHeadingByRegex(html: string): string {
  const m = /<h([1-6])\b[^>]*>([\s\S]*?)<\/h\1>/i.exec(html.replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, ''));
  return (m?.[2] ?? '')
    .replace(/<[^>]*>/g, '')
    .replace(/&amp;/g, '&')
    .replace(/&#182;|&para;/g, '¶')
    .replace(/\s+/g, ' ')
    .trim();
}

test('summarize baselines on the sample: predictions and ROUGE recomputed independently', async (t) => {
  const rows = await readTaskFile('summarize', join(ROOT, 'tasks/summarize.jsonl'), ROOT);
  const { records, summary } = await evaluate({ task: 'summarize', rows, systems: taskSystems('summarize') });
  t.deepEqual(
    summary.map((s) => s.name),
    ['first-heading', 'lead-10'],
  );
  for (const [i, row] of rows.entries()) {
    const r = records[i];
    t.is(r.id, row.id);
    t.is(r.reference, row.title);
    t.is(r.systems['first-heading'].prediction, firstHeadingByRegex(readFileSync(row.file, 'utf8')), row.id);
    t.true(r.systems['lead-10'].prediction.split(' ').length <= 10);
    for (const name of ['first-heading', 'lead-10']) {
      const pred = words(r.systems[name].prediction);
      const ref = words(row.title);
      const m = r.systems[name].metrics;
      t.true(close(m.rouge1, rougeN(pred, ref, 1)), `${row.id} ${name} rouge1 ${m.rouge1}`);
      t.true(close(m.rouge2, rougeN(pred, ref, 2)), `${row.id} ${name} rouge2 ${m.rouge2}`);
      t.true(
        close(m.rougeL, pred.length && ref.length ? f1(lcs(pred, ref), pred.length, ref.length) : 0),
        `${row.id} ${name} rougeL`,
      );
    }
  }
  // a hand-checked item: sqlite3's release page repeats its title as the first heading
  t.is(records.find((r) => r.id === 'sum-0264')!.systems['first-heading'].metrics.rouge1, 1);
  for (const s of summary) {
    const mean = records.reduce((a, r) => a + r.systems[s.name].metrics.rougeL, 0) / records.length;
    t.true(close(s.means.rougeL, mean));
  }
});

test('infill baselines: repeat-line, exact match and edit similarity by brute force', async (t) => {
  const rows = await readTaskFile('infill_span', join(ROOT, 'tasks/infill_span.jsonl'), ROOT);
  const { records } = await evaluate({ task: 'infill_span', rows, systems: taskSystems('infill_span') });
  for (const [i, row] of rows.entries()) {
    const got = records[i].systems['repeat-line'];
    const lines = row.prefix.split('\n').filter((l) => l.trim() !== '');
    t.is(got.prediction, `${lines[lines.length - 1]}\n`);
    const a = got.prediction.trim();
    const b = row.middle.trim();
    t.true(close(got.metrics.editSim, 1 - levenshtein(a, b) / Math.max(a.length, b.length)), row.id);
    t.is(
      got.metrics.exactMatch,
      got.prediction.split(/\s+/).join(' ').trim() === row.middle.split(/\s+/).join(' ').trim() ? 1 : 0,
    );
  }
  // exact match ignores whitespace layout only
  t.is(INFILL_METRICS.item('  a  =  b;\n', 'a = b;').exactMatch, 1);
  t.is(INFILL_METRICS.item('a = b', 'a = c').exactMatch, 0);
});

test('caption baselines: corpus BLEU-4 and CIDEr-D replace the means; per-item CIDEr-D in the records', async (t) => {
  const rows = await readTaskFile('caption', join(ROOT, 'tasks/caption.jsonl'), ROOT);
  const { records, summary } = await evaluate({ task: 'caption', rows, systems: taskSystems('caption') });
  t.is(records[0].systems['heading-before'].prediction, '7.5.5. Reconciliation'); // the h4 just above the figure in cc-together1.html
  t.is(records[1].systems['file-name'].prediction, 'Trans Assoc Symbols');
  for (const s of summary) {
    const preds = records.map((r) => r.systems[s.name].prediction);
    const refs = rows.map((r) => r.alt);
    t.true(close(s.means.bleu4, bleuCorpus(preds, refs).bleu));
    const cider = ciderD(preds, refs);
    t.true(close(s.means.ciderD, cider.cider));
    t.deepEqual(
      records.map((r) => r.systems[s.name].metrics.ciderD),
      cider.perItem,
    );
  }
});

test('results JSONL: one line per item with the documented fields', async (t) => {
  const rows = await readTaskFile('infill_line', join(ROOT, 'tasks/infill_line.jsonl'), ROOT);
  const out = join(tempDir('eval-out'), 'results.jsonl');
  await evaluate({ task: 'infill_line', rows, systems: taskSystems('infill_line'), out });
  const lines = readFileSync(out, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as ResultRecord);
  t.deepEqual(
    lines.map((l) => l.id),
    rows.map((r) => r.id),
  );
  for (const l of lines) {
    t.deepEqual(Object.keys(l).sort(), ['id', 'reference', 'systems', 'task']);
    t.is(l.task, 'infill_line');
    for (const s of Object.values(l.systems)) {
      t.is(typeof s.prediction, 'string');
      t.is(typeof s.ms, 'number');
      t.deepEqual(Object.keys(s.metrics).sort(), ['editSim', 'exactMatch']);
      t.true(Object.values(s.metrics).every((v) => typeof v === 'number' && v >= 0 && v <= 1));
    }
  }
});

test('prompts are truncated in the middle; systems report their own metrics; duplicate names are refused', async (t) => {
  t.is(truncateMiddle('abcdefghijklmnopqrstuvwxyz', 15), 'abcde […] vwxyz');
  t.is(truncateMiddle('short', 15), 'short');
  const rows = [{ id: 'a' }, { id: 'b' }];
  const metrics = { names: ['len'], item: (p: string) => ({ len: p.length }) };
  const { records, summary } = await runTask({
    task: 't',
    rows,
    reference: () => 'ref',
    metrics,
    maxPromptChars: 15,
    systems: [
      {
        name: 'm',
        kind: 'model',
        predict: async (row) => ({
          prediction: row.id.repeat(3),
          prompt: 'x'.repeat(40),
          metrics: { own: row.id === 'a' ? 1 : 3 },
        }),
      },
    ],
  });
  t.is(records[0].systems.m.prompt!.length, 15);
  t.deepEqual(summary[0].means, { len: 3, own: 2 });
  const dup = { name: 'x', kind: 'baseline' as const, predict: async () => ({ prediction: '' }) };
  await t.throwsAsync(runTask({ task: 't', rows, reference: () => '', metrics, systems: [dup, dup] }), {
    instanceOf: HyperlmError,
    message: /two systems are named x/,
  });
});

test('--n takes the first N rows; --seed draws N rows reproducibly, in file order', (t) => {
  const rows = Array.from({ length: 50 }, (_, i) => i);
  t.deepEqual(selectRows(rows, 3), [0, 1, 2]);
  t.deepEqual(selectRows(rows, undefined), rows);
  t.deepEqual(selectRows(rows, 99), rows);
  const a = selectRows(rows, 5, 7);
  t.deepEqual(a, selectRows(rows, 5, 7));
  t.notDeepEqual(a, selectRows(rows, 5, 8));
  t.is(new Set(a).size, 5);
  t.deepEqual(
    a,
    [...a].sort((x, y) => x - y),
  );
});

test('npm run eval --baselines-only: --n limits the items, the table is printed, BENCHMARKS.md gets the command', (t) => {
  const dir = tempDir('eval-cli');
  const out = join(dir, 'r.jsonl');
  const bench = join(dir, 'BENCHMARKS.md');
  const args = [
    '--task',
    'summarize',
    '--root',
    ROOT,
    '--baselines-only',
    '--n',
    '2',
    '--out',
    out,
    '--benchmarks',
    bench,
    '--quiet',
  ];
  const stdout = execFileSync(process.execPath, [join(REPO, 'dist/scripts/eval.js'), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.regex(stdout, /^system\s+kind\s+n\s+rouge1\s+rouge2\s+rougeL\s+items\/s/m);
  t.regex(stdout, /^first-heading\s+baseline\s+2\s/m);
  t.regex(stdout, /^lead-10\s+baseline\s+2\s/m);
  t.is(readFileSync(out, 'utf8').trimEnd().split('\n').length, 2);
  const md = readFileSync(bench, 'utf8');
  t.true(md.includes(`Command: \`npm run eval -- ${args.join(' ')}\``));
  t.regex(md, /\| first-heading \| baseline \| 2 \|/);
  const bad = t.throws(() =>
    execFileSync(process.execPath, [join(REPO, 'dist/scripts/eval.js'), '--task', 'summary'], {
      encoding: 'utf8',
      stdio: 'pipe',
    }),
  );
  t.regex(
    String((bad as { stderr?: string }).stderr),
    /--task must be one of summarize\|caption\|infill_line\|infill_span\|image_gen/,
  );
});
