// `npm run build-corpus`: parse flags, build the large training corpus from the pinned package list
// (data/corpus-packages.json) into --out (default /work/corpus-large, outside the repository), print one
// line per package when stdout is not a terminal (a bar when it is), and the totals. Rerunning the same
// command resumes: finished packages are loaded from OUT/state, cached downloads are reused.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { numberFlag, parseCommandLine, runMain, type CommandSpec } from '../src/cli/index.js';
import { Progress } from '../src/io/index.js';
import {
  DEFAULT_CORPUS_BUILD,
  buildCorpus,
  formatPinnedList,
  pinsWithLicenses,
  readPinnedList,
  staleFolders,
  type BuildEvent,
  type CorpusBuildConfig,
} from '../src/data/index.js';

const DEFAULT_PACKAGES = fileURLToPath(new URL('../../data/corpus-packages.json', import.meta.url));
const D = DEFAULT_CORPUS_BUILD;
const spec: CommandSpec = {
  usage: 'npm run build-corpus -- [--out DIR] [--cache DIR] [--packages FILE] [options]',
  summary:
    'Pinned npm packages (npm pack) and Debian documentation packages (apt-get download + dpkg-deb -x) →\n' +
    'filtered JS/TS files in OUT/code/<name>-<version>/ and HTML pages with their images in OUT/html/<package>/,\n' +
    'OUT/corpus-stats.json and OUT/SOURCES.md. Evaluation packages are refused. Rerunning resumes.',
  flags: {
    out: {
      type: 'string',
      arg: 'DIR',
      help: 'output folder (keep it outside the repository)',
      default: '/work/corpus-large',
    },
    cache: {
      type: 'string',
      arg: 'DIR',
      help: 'downloaded tarballs and .debs, extracted .deb trees',
      default: 'OUT/cache',
    },
    packages: { type: 'string', arg: 'FILE', help: 'pinned package list', default: 'data/corpus-packages.json' },
    limit: { type: 'string', arg: 'N', help: 'only the first N npm and N Debian packages (a quick run)' },
    'skip-debian': { type: 'boolean', help: 'npm packages only' },
    'max-file-bytes': {
      type: 'string',
      arg: 'N',
      help: 'larger code files are dropped',
      default: String(D.filter.maxFileBytes),
    },
    'max-avg-line': {
      type: 'string',
      arg: 'N',
      help: 'files with a longer average line are dropped as minified',
      default: String(D.filter.maxAvgLineLength),
    },
    'max-line': {
      type: 'string',
      arg: 'N',
      help: 'files with any longer line are dropped',
      default: String(D.filter.maxLineLength),
    },
    'max-page-bytes': {
      type: 'string',
      arg: 'N',
      help: 'larger HTML pages are dropped',
      default: String(D.maxPageBytes),
    },
    'max-html-mb': {
      type: 'string',
      arg: 'MB',
      help: 'HTML pages taken from one Debian package at most (fixed-seed cut)',
      default: String(D.maxPackageHtmlBytes / 1e6),
    },
    concurrency: { type: 'string', arg: 'N', help: 'parallel npm pack downloads', default: String(D.concurrency) },
    'update-pins': { type: 'boolean', help: 'afterwards, write the licences read from the packages into --packages' },
    quiet: { type: 'boolean', help: 'only the totals' },
  },
  epilog: 'Then: npm run preprocess -- --input OUT/code --input OUT/html --out DIR …  (see data/SOURCES.md).',
};

const mb = (b: number): string => `${(b / 1e6).toFixed(2)} MB`;

function describe(e: BuildEvent): string {
  const where = `[${e.kind} ${e.index + 1}/${e.total}]`;
  if (e.type === 'failure') return `${where} FAILED ${e.name}@${e.version}: ${e.error}`;
  const r = e.result;
  const what = r.refused
    ? `refused (${r.refused})`
    : `${r.files} ${r.kind === 'npm' ? 'files' : 'pages'}, ${mb(r.bytes)}` +
      (r.kind === 'debian' ? `, ${r.images} images ${mb(r.imageBytes)}` : '');
  return `${where} ${r.name}@${r.version} ${r.license}: ${what}${e.resumed ? ' (done before)' : ''}`;
}

runMain(async () => {
  const { values } = parseCommandLine(spec);
  const out = resolve((values.out as string | undefined) ?? '/work/corpus-large');
  const filter = {
    ...D.filter,
    maxFileBytes: numberFlag(values, 'max-file-bytes', D.filter.maxFileBytes, { integer: true, min: 1 }),
    maxAvgLineLength: numberFlag(values, 'max-avg-line', D.filter.maxAvgLineLength, { min: 1 }),
    maxLineLength: numberFlag(values, 'max-line', D.filter.maxLineLength, { integer: true, min: 1 }),
  };
  const config: CorpusBuildConfig = {
    ...D,
    packagesFile: resolve((values.packages as string | undefined) ?? DEFAULT_PACKAGES),
    out,
    cache: resolve((values.cache as string | undefined) ?? join(out, 'cache')),
    limit: numberFlag(values, 'limit', D.limit, { integer: true, min: 1 }),
    skipDebian: Boolean(values['skip-debian']),
    concurrency: numberFlag(values, 'concurrency', D.concurrency, { integer: true, min: 1, max: 16 }),
    filter,
    maxPageBytes: numberFlag(values, 'max-page-bytes', D.maxPageBytes, { integer: true, min: 1 }),
    maxPackageHtmlBytes: numberFlag(values, 'max-html-mb', D.maxPackageHtmlBytes / 1e6, { min: 0.001 }) * 1e6,
  };
  const quiet = Boolean(values.quiet);
  const tty = Boolean(process.stdout.isTTY) && !process.env.CI;
  const progress = new Progress({ label: 'build-corpus', stream: process.stdout });
  let done = 0;
  const onEvent = (e: BuildEvent): void => {
    if (e.type === 'failure') process.stderr.write(`error [CORPUS_FETCH_FAILED]: ${describe(e)}\n`);
    if (quiet) return;
    if (tty) progress.update(++done, { [e.kind]: `${e.index + 1}/${e.total}` });
    else if (e.type === 'package') process.stdout.write(`${new Date().toISOString()} ${describe(e)}\n`);
  };
  const command = `npm run build-corpus -- ${process.argv.slice(2).join(' ')}`.trim();
  const stats = await buildCorpus(config, onEvent, command);
  if (tty && !quiet) progress.finish();
  if (values['update-pins']) {
    writeFileSync(config.packagesFile, formatPinnedList(pinsWithLicenses(readPinnedList(config.packagesFile), stats)));
  }
  const stale = staleFolders(out, stats);
  if (stale.length)
    process.stderr.write(
      `warning: ${stale.length} output folders belong to no package of this list (e.g. ${stale.slice(0, 3).join(', ')})\n`,
    );
  const { npm, debian, estimatedTokens: t } = stats;
  console.log(
    `${out}: npm ${npm.ok} ok, ${npm.failed} failed, ${npm.refused} refused, ${npm.files} files, ${mb(npm.bytes)}; ` +
      `debian ${debian.ok} ok, ${debian.failed} failed, ${debian.pages} pages, ${mb(debian.bytes)}, ${debian.images} images ${mb(debian.imageBytes)}; ` +
      `≈ ${(t.total / 1e6).toFixed(1)}M tokens (code ${(t.code / 1e6).toFixed(1)}M, html ${(t.html / 1e6).toFixed(1)}M)`,
  );
  console.log(`code drops ${JSON.stringify(stats.drops.code)}`);
  console.log(`html drops ${JSON.stringify(stats.drops.html)}`);
  if (npm.failed + debian.failed > 0) process.exitCode = 1;
});
