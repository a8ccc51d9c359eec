// `npm run bench:preprocess [-- PATH]`: throughput of the preprocessing pipeline with 1 and 2 workers
// (each run repeated, interleaved, median reported), worker start-up time, time per stage, and two
// yardsticks on the same HTML bytes (a bare `cheerio.load` and a bare htmlparser2 streaming parse).
// Results go to BENCHMARKS.md, marked "busy machine" when the load average says other work shared the CPU.
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { cpus, loadavg, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as cheerio from 'cheerio';
import { Parser } from 'htmlparser2';
import {
  COMMON_FLAGS,
  type CommandSpec,
  markdownTable,
  numberFlag,
  parseCommandLine,
  runMain,
  writeBenchmarkSection,
} from '../src/cli/index.js';
import { createPool, DEFAULT_PREPROCESS, preprocess, type PreprocessConfig } from '../src/pipeline/index.js';
import { readSources, newSourceStats } from '../src/data/index.js';
import { HyperlmError } from '../src/errors.js';
import { crawlCase } from './bench-crawl-case.js';

const spec: CommandSpec = {
  usage:
    'npm run bench:preprocess -- [PATH] [--workers-max N] [--repeat N] [--tokenizer FILE] [--no-write] [--crawl MB]',
  summary:
    'Preprocessing throughput (pages/s, MB/s, tokens/s) with 1..N workers, per-stage time, and the\n' +
    'cheerio.load / htmlparser2 yardsticks on the same bytes. Default PATH: ../shared/corpus.',
  positionals: true,
  flags: {
    'workers-max': { type: 'string', arg: 'N', help: 'largest worker count measured', default: '2' },
    'vocab-size': { type: 'string', arg: 'N', help: 'tokenizer size trained once before the runs', default: '16000' },
    tokenizer: {
      type: 'string',
      arg: 'FILE',
      help: 'use this tokenizer.model instead of training one on PATH (for inputs that must not be trained on, e.g. ../shared/eval)',
    },
    repeat: {
      type: 'string',
      arg: 'N',
      help: 'runs per worker count, interleaved (1, 2, 1, 2, …); the median is reported',
      default: '5',
    },
    'no-write': COMMON_FLAGS.noWrite,
    crawl: {
      type: 'string',
      arg: 'MB',
      help: "crawl-scale case instead: a synthetic WARC.gz of MB megabytes from PATH's pages (500 for the issue's case); MB/s at 1 and 2 workers and the cost of each filter",
    },
  },
};

const REPO = fileURLToPath(new URL('../../', import.meta.url));

runMain(async () => {
  const { values, positionals } = parseCommandLine(spec);
  const loadBefore = loadavg()[0]; // before this process adds its own load
  const input = positionals[0] ?? join(REPO, '../shared/corpus');
  if (!(await stat(input).catch(() => undefined)))
    throw new HyperlmError('INPUT_NOT_FOUND', `${input}: no such folder (pass a PATH)`);
  const workersMax = numberFlag(values, 'workers-max', 2, { integer: true, min: 1 });
  const vocabSize = numberFlag(values, 'vocab-size', 16000, { integer: true, min: 1000 });
  const repeat = numberFlag(values, 'repeat', 5, { integer: true, min: 1 });
  if (values.crawl !== undefined) {
    const body = await crawlCase(input, numberFlag(values, 'crawl', 500, { min: 0.1 }), vocabSize);
    console.log(body);
    if (!values['no-write'])
      await writeBenchmarkSection(
        join(REPO, 'BENCHMARKS.md'),
        'preprocess-crawl',
        'Preprocessing at crawl scale',
        `npm run bench:preprocess -- ${positionals[0] ?? ''} --crawl ${String(values.crawl)}`.replace('  ', ' '),
        body,
      );
    return;
  }

  // The same bytes the pipeline reads, in memory, for the yardsticks.
  const pages: Buffer[] = [];
  let codeBytes = 0;
  for await (const doc of readSources([input], { stats: newSourceStats() })) {
    if (doc.kind === 'html') pages.push(Buffer.from(doc.bytes));
    else codeBytes += doc.bytes.length;
  }
  const htmlBytes = pages.reduce((a, p) => a + p.length, 0);
  console.error(
    `input: ${pages.length} pages (${(htmlBytes / 1e6).toFixed(1)} MB) and ${(codeBytes / 1e6).toFixed(1)} MB of code`,
  );
  const yard = (name: string, fn: (s: string) => void): { name: string; mbps: number } => {
    const texts = pages.map((p) => p.toString('utf8'));
    for (const t of texts.slice(0, 50)) fn(t); // warm up
    const t0 = performance.now();
    for (const t of texts) fn(t);
    return { name, mbps: htmlBytes / 1e6 / ((performance.now() - t0) / 1000) };
  };
  const yardsticks = [
    yard('bare `cheerio.load` (parse5, default)', (s) => {
      cheerio.load(s);
    }),
    yard('bare htmlparser2 streaming parse', (s) => {
      const p = new Parser({});
      p.write(s);
      p.end();
    }),
  ];

  const base = join(tmpdir(), `hyperlm-bench-${process.pid}`);
  const common = { ...DEFAULT_PREPROCESS, inputs: [input], vocabSize, validFraction: 0.01 };
  // Train the tokenizer once (timed), then measure pass 2 alone with it for each worker count.
  const t0 = performance.now();
  const given = values.tokenizer as string | undefined;
  if (given === undefined)
    await preprocess({ ...common, out: join(base, 'tok'), workers: workersMax } as PreprocessConfig, {
      log: (l) => console.error(l),
      progress: true,
    });
  const firstRun = (performance.now() - t0) / 1000;
  const tokenizer = given ?? join(base, 'tok', 'tokenizer.model');
  const workerCounts = Array.from({ length: workersMax }, (_, i) => i + 1);
  const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };

  // Worker start-up alone: pool created → every worker has built its context and answered an empty task.
  const startupMs = new Map<number, number[]>();
  for (let r = 0; r < repeat; r++) {
    for (const w of workerCounts) {
      const config = { ...common, out: join(base, 'tok'), workers: w, tokenizer } as PreprocessConfig;
      const t = performance.now();
      const pool = createPool({ config, tokenizerPath: tokenizer }, w, config.docTimeoutMs, config.workerHeapMb);
      await Promise.all(workerCounts.slice(0, w).map(() => pool.run({ docs: [], until: 'cm3' })));
      startupMs.set(w, [...(startupMs.get(w) ?? []), performance.now() - t]);
      await pool.close();
    }
  }

  type Run = {
    seconds: number;
    documents: number;
    bytes: number;
    tokens: number;
    cpu: number;
    stageMs: Record<string, number>;
  };
  const runs = new Map<number, Run[]>();
  let documentsIn = 0;
  for (let r = 0; r < repeat; r++) {
    for (const w of workerCounts) {
      const out = join(base, `w${w}`);
      await rm(out, { recursive: true, force: true });
      const cpu0 = process.cpuUsage();
      const m = await preprocess({ ...common, out, workers: w, tokenizer } as PreprocessConfig, {
        log: (l) => console.error(l),
        progress: true,
      });
      const cpu = process.cpuUsage(cpu0);
      const t = m.timing as Omit<Run, 'cpu'>;
      runs.set(w, [...(runs.get(w) ?? []), { ...t, cpu: (cpu.user + cpu.system) / 1e6 }]);
      documentsIn = m.documents.in;
    }
  }
  const loadAfter = loadavg()[0];
  await rm(base, { recursive: true, force: true });
  const mbps = (r: Run): number => r.bytes / 1e6 / r.seconds;
  const rows = workerCounts.map((w) => {
    const rs = runs.get(w)!;
    const seconds = median(rs.map((r) => r.seconds));
    const { documents, bytes, tokens } = rs[0];
    const range = rs.map(mbps);
    return [
      w,
      documentsIn,
      seconds.toFixed(2),
      (documents / seconds).toFixed(1),
      (bytes / 1e6 / seconds).toFixed(2),
      `${Math.min(...range).toFixed(2)}–${Math.max(...range).toFixed(2)}`,
      Math.round(tokens / seconds),
      median(rs.map((r) => r.cpu)).toFixed(2),
      Math.round(median(startupMs.get(w)!)),
    ];
  });
  const stageTotals: Record<string, number> = {};
  for (const r of runs.get(1)!)
    for (const [stage, ms] of Object.entries(r.stageMs)) stageTotals[stage] = (stageTotals[stage] ?? 0) + ms / repeat;
  const stageSum = Object.values(stageTotals).reduce((a, b) => a + b, 0);
  const stageRows = Object.entries(stageTotals).map(([stage, ms]) => [
    stage,
    (ms / 1000).toFixed(2),
    `${((100 * ms) / stageSum).toFixed(0)}%`,
  ]);
  const mbps1 = Number(rows[0][4]);
  // The VM's speed drifts between runs; a ratio within one interleaved repeat is less exposed to it than the ratio of medians.
  const ratios = runs.get(1)!.map((r, i) => r.seconds / runs.get(workersMax)![i].seconds);
  const pairs = `${median(ratios).toFixed(2)}× median, ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
  // 1-minute load average of other work: above half the cores, the runs shared the CPU and their times are not this code's alone.
  const busy = loadBefore > cpus().length / 2;
  const body = [
    ...(busy
      ? [
          `**Busy machine**: the 1-minute load average was ${loadBefore.toFixed(2)} before the runs on ${cpus().length} cores, so other work shared the CPU; these numbers understate the pipeline.`,
          '',
        ]
      : []),
    `1-minute load average ${loadBefore.toFixed(2)} before the runs, ${loadAfter.toFixed(2)} after (${cpus().length} cores; the runs themselves add up to ~${workersMax + 1}).`,
    '',
    `Input: \`${input}\` — ${pages.length} pages (${(htmlBytes / 1e6).toFixed(1)} MB HTML) and ${(codeBytes / 1e6).toFixed(1)} MB of code.`,
    '',
    `Median of ${repeat} runs per worker count, interleaved. Seconds: the document pass, from creating the worker pool to the manifest ` +
      '(worker start-up included). CPU s: all threads of the process over the whole call. Start-up ms: a separate pool, created until every ' +
      'worker has loaded its modules and tokenizer and answered an empty task.',
    '',
    markdownTable(
      ['workers', 'documents', 'seconds', 'docs/s', 'MB/s', 'MB/s range', 'tokens/s', 'CPU s', 'start-up ms'],
      rows,
    ),
    '',
    given === undefined
      ? `First run including tokenizer training (${vocabSize} pieces) with ${workersMax} workers: ${firstRun.toFixed(1)} s.`
      : `Tokenizer given (\`${given}\`), not trained on the input.`,
    rows.length > 1
      ? `Scaling, ${workersMax} workers vs 1: ${(Number(rows.at(-1)![4]) / mbps1).toFixed(2)}× (medians); ` +
        `run by run (each ${workersMax}-worker run against the 1-worker run just before it) ${pairs}.`
      : '',
    '',
    `Time per stage, summed over documents (1 worker, mean of ${repeat} runs):`,
    '',
    markdownTable(['stage', 'seconds', 'share'], stageRows),
    '',
    'Yardsticks on the same HTML bytes, one thread:',
    '',
    markdownTable(
      ['parser', 'MB/s', 'pipeline (1 worker) relative'],
      yardsticks.map((y) => [y.name, y.mbps.toFixed(1), `${(mbps1 / y.mbps).toFixed(2)}×`]),
    ),
  ].join('\n');
  console.log(body);
  // The command as run, so that the section can be reproduced (flags left at their defaults are omitted).
  const flags = [
    positionals[0] ?? '',
    ...(['workers-max', 'vocab-size', 'repeat', 'tokenizer'] as const)
      .filter((f) => values[f] !== undefined)
      .map((f) => `--${f} ${String(values[f])}`),
  ].filter(Boolean);
  if (!values['no-write'])
    await writeBenchmarkSection(
      join(REPO, 'BENCHMARKS.md'),
      'preprocess',
      'Preprocessing',
      `npm run bench:preprocess${flags.length ? ` -- ${flags.join(' ')}` : ''}`,
      body,
    );
});
