// The crawl-scale case of `npm run bench:preprocess -- --crawl MB`: a synthetic WARC.gz (synthetic-crawl.ts)
// preprocessed once per configuration — no filter, exact dedup, near dedup, near dedup + `--languages en` —
// with 2 workers (the cost of each filter is the difference in seconds and the filter stage's time), and
// the full configuration with 1 worker too (scaling). One run each: at 500 MB a run is long (BENCHMARKS.md, measurements table).
import { loadavg, cpus, tmpdir } from 'node:os';
import { rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { markdownTable } from '../src/cli/index.js';
import { DEFAULT_PREPROCESS, ensureTokenizer, preprocess, type PreprocessConfig } from '../src/pipeline/index.js';
import { readSources, newSourceStats } from '../src/data/index.js';
import { writeSyntheticCrawl } from './synthetic-crawl.js';

export async function crawlCase(input: string, mb: number, vocabSize: number): Promise<string> {
  const loadBefore = loadavg()[0];
  const base = join(tmpdir(), `hyperlm-bench-crawl-${process.pid}`);
  await mkdir(base, { recursive: true });
  const pages: Buffer[] = [];
  for await (const doc of readSources([input], { stats: newSourceStats(), includeCode: false }))
    pages.push(Buffer.from(doc.bytes));
  console.error(`writing a synthetic crawl of ${mb} MB to ${base}`);
  const crawl = await writeSyntheticCrawl(pages, join(base, 'crawl.warc.gz'), mb);
  console.error(
    `synthetic crawl: ${crawl.records} records, ${(crawl.bytes / 1e6).toFixed(0)} MB gzipped (${crawl.exact} exact repeats, ${crawl.near} near copies)`,
  );
  const common = {
    ...DEFAULT_PREPROCESS,
    inputs: [crawl.file],
    vocabSize,
    validFraction: 0.01,
    images: 'none' as const,
    tokenizerSampleMb: 64,
  };
  console.error('training the tokenizer once on the crawl (not timed)');
  // Pass 1 alone (minimize a 64 MB sample, train): a whole preprocess run here would cost one more full pass.
  const tokenizer = join(base, 'tokenizer.model');
  await ensureTokenizer({ ...common, out: base, workers: 2 } as PreprocessConfig, tokenizer, { progress: true });
  const cases: Array<[string, Partial<PreprocessConfig>, number]> = [
    ['no filter', { dedup: 'none' }, 2],
    ['exact dedup', { dedup: 'exact' }, 2],
    ['near dedup', { dedup: 'near' }, 2],
    ['near dedup + --languages en', { dedup: 'near', languages: ['en'] }, 2],
    ['near dedup + --languages en', { dedup: 'near', languages: ['en'] }, 1],
  ];
  const rows: Array<Array<string | number>> = [];
  let baseline = 0;
  const seconds: number[] = [];
  for (const [c, [name, over, workers]] of cases.entries()) {
    console.error(`case ${c + 1}/${cases.length}: ${name}, ${workers} worker${workers > 1 ? 's' : ''}`);
    const out = join(base, 'run');
    await rm(out, { recursive: true, force: true });
    const cpu0 = process.cpuUsage();
    const m = await preprocess({ ...common, ...over, out, workers, tokenizer } as PreprocessConfig, { progress: true });
    const cpu = process.cpuUsage(cpu0);
    const t = m.timing as { seconds: number; bytes: number; stageMs: Record<string, number> };
    if (rows.length === 0) baseline = t.seconds;
    const removed =
      Object.entries(m.filters)
        .map(([k, f]) => `${k} ${f.documents}`)
        .join(', ') || '—';
    seconds.push(t.seconds);
    rows.push([
      name,
      workers,
      t.seconds.toFixed(1),
      (t.bytes / 1e6 / t.seconds).toFixed(2),
      ((cpu.user + cpu.system) / 1e6).toFixed(1),
      ((t.stageMs.filter ?? 0) / 1000).toFixed(1),
      workers === 2 ? (t.seconds - baseline).toFixed(1) : '',
      removed,
    ]);
  }
  await rm(base, { recursive: true, force: true });
  return [
    `1-minute load average ${loadBefore.toFixed(2)} before the runs, ${loadavg()[0].toFixed(2)} after (${cpus().length} cores).`,
    '',
    `Input: a synthetic WARC.gz of ${(crawl.bytes / 1e6).toFixed(0)} MB, ${crawl.records} records built from the pages of \`${input}\` ` +
      `(words shuffled within sentences; ${crawl.exact} exact repeats and ${crawl.near} near copies under other templates). MB/s counts uncompressed page bytes.`,
    '',
    markdownTable(
      ['filters', 'workers', 'seconds', 'MB/s', 'CPU s', 'filter stage s', 'cost vs no filter s', 'documents removed'],
      rows,
    ),
    '',
    `CPU s: all threads of the process. Scaling, 2 workers vs 1 on the full configuration: ${(seconds[4] / seconds[3]).toFixed(2)}×.`,
  ].join('\n');
}
