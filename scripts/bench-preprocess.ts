// `npm run bench:preprocess [-- PATH]`: throughput of the preprocessing pipeline with 1 and 2 workers,
// time per stage, and two yardsticks on the same HTML bytes (a bare `cheerio.load` and a bare
// htmlparser2 streaming parse). Results go to BENCHMARKS.md.
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { loadavg, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as cheerio from 'cheerio';
import { Parser } from 'htmlparser2';
import { parseCommandLine, numberFlag, runMain, type CommandSpec } from '../src/cli/args.js';
import { markdownTable, writeBenchmarkSection } from '../src/cli/benchmarks-md.js';
import { DEFAULT_PREPROCESS, type PreprocessConfig } from '../src/pipeline/config.js';
import { preprocess } from '../src/pipeline/preprocess.js';
import { readSources, newSourceStats } from '../src/data/sources.js';
import { HyperlmError } from '../src/errors.js';

const spec: CommandSpec = {
  usage: 'npm run bench:preprocess -- [PATH] [--workers-max N] [--no-write]',
  summary: 'Preprocessing throughput (pages/s, MB/s, tokens/s) with 1..N workers, per-stage time, and the\n' +
    'cheerio.load / htmlparser2 yardsticks on the same bytes. Default PATH: ../shared/corpus.',
  positionals: true,
  flags: {
    'workers-max': { type: 'string', arg: 'N', help: 'largest worker count measured', default: '2' },
    'vocab-size': { type: 'string', arg: 'N', help: 'tokenizer size trained once before the runs', default: '16000' },
    'no-write': { type: 'boolean', help: 'print only; leave BENCHMARKS.md alone' },
  },
};

const REPO = fileURLToPath(new URL('../../', import.meta.url));

runMain(async () => {
  const { values, positionals } = parseCommandLine(spec);
  const input = positionals[0] ?? join(REPO, '../shared/corpus');
  if (!(await stat(input).catch(() => undefined))) throw new HyperlmError('INPUT_NOT_FOUND', `${input}: no such folder (pass a PATH)`);
  const workersMax = numberFlag(values, 'workers-max', 2, { integer: true, min: 1 });
  const vocabSize = numberFlag(values, 'vocab-size', 16000, { integer: true, min: 1000 });

  // The same bytes the pipeline reads, in memory, for the yardsticks.
  const pages: Buffer[] = [];
  let codeBytes = 0;
  for await (const doc of readSources([input], { stats: newSourceStats() })) {
    if (doc.kind === 'html') pages.push(Buffer.from(doc.bytes)); else codeBytes += doc.bytes.length;
  }
  const htmlBytes = pages.reduce((a, p) => a + p.length, 0);
  console.error(`input: ${pages.length} pages (${(htmlBytes / 1e6).toFixed(1)} MB) and ${(codeBytes / 1e6).toFixed(1)} MB of code`);
  const yard = (name: string, fn: (s: string) => void): { name: string; mbps: number } => {
    const texts = pages.map((p) => p.toString('utf8'));
    for (const t of texts.slice(0, 50)) fn(t); // warm up
    const t0 = performance.now();
    for (const t of texts) fn(t);
    return { name, mbps: htmlBytes / 1e6 / ((performance.now() - t0) / 1000) };
  };
  const yardsticks = [
    yard('bare `cheerio.load` (parse5, default)', (s) => { cheerio.load(s); }),
    yard('bare htmlparser2 streaming parse', (s) => { const p = new Parser({}); p.write(s); p.end(); }),
  ];

  const loadBefore = loadavg()[0];
  const base = join(tmpdir(), `hyperlm-bench-${process.pid}`);
  const common = { ...DEFAULT_PREPROCESS, inputs: [input], vocabSize, validFraction: 0.01 };
  // Train the tokenizer once (timed), then measure pass 2 alone with it for each worker count.
  const t0 = performance.now();
  await preprocess({ ...common, out: join(base, 'tok'), workers: workersMax } as PreprocessConfig, { log: (l) => console.error(l), progress: true });
  const firstRun = (performance.now() - t0) / 1000;
  const tokenizer = join(base, 'tok', 'tokenizer.model');
  const rows: Array<Array<string | number>> = [];
  const stageRows: Array<Array<string | number>> = [];
  for (let w = 1; w <= workersMax; w++) {
    const m = await preprocess({ ...common, out: join(base, `w${w}`), workers: w, tokenizer } as PreprocessConfig, { log: (l) => console.error(l), progress: true });
    const t = m.timing as { seconds: number; documents: number; bytes: number; tokens: number; stageMs: Record<string, number> };
    rows.push([w, m.documents.in, t.seconds.toFixed(1), (t.documents / t.seconds).toFixed(1), (t.bytes / 1e6 / t.seconds).toFixed(2), Math.round(t.tokens / t.seconds)]);
    const total = Object.values(t.stageMs).reduce((a, b) => a + b, 0);
    if (w === 1) for (const [stage, ms] of Object.entries(t.stageMs)) stageRows.push([stage, (ms / 1000).toFixed(2), `${((100 * ms) / total).toFixed(0)}%`]);
  }
  await rm(base, { recursive: true, force: true });
  const mbps1 = Number(rows[0][4]);
  const body = [
    `1-minute load average ${loadBefore.toFixed(2)} before the runs, ${loadavg()[0].toFixed(2)} after (2 cores: above ~1 means other work shared the CPU).`,
    '',
    `Input: \`${input}\` — ${pages.length} pages (${(htmlBytes / 1e6).toFixed(1)} MB HTML) and ${(codeBytes / 1e6).toFixed(1)} MB of code.`,
    '',
    markdownTable(['workers', 'documents', 'seconds', 'docs/s', 'MB/s', 'tokens/s'], rows),
    '',
    `First run including tokenizer training (${vocabSize} pieces) with ${workersMax} workers: ${firstRun.toFixed(1)} s.`,
    rows.length > 1 ? `Scaling, ${workersMax} workers vs 1: ${(Number(rows.at(-1)![4]) / mbps1).toFixed(2)}×.` : '',
    '',
    'Time per stage, summed over documents (1 worker):',
    '',
    markdownTable(['stage', 'seconds', 'share'], stageRows),
    '',
    'Yardsticks on the same HTML bytes, one thread:',
    '',
    markdownTable(['parser', 'MB/s', 'pipeline (1 worker) relative'], yardsticks.map((y) => [y.name, y.mbps.toFixed(1), `${(mbps1 / y.mbps).toFixed(2)}×`])),
  ].join('\n');
  console.log(body);
  if (!values['no-write']) await writeBenchmarkSection(join(REPO, 'BENCHMARKS.md'), 'preprocess', 'Preprocessing', `npm run bench:preprocess${positionals[0] ? ` -- ${positionals[0]}` : ''}`, body);
});
