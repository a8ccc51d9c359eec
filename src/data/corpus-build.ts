// Builds the large training corpus from a pinned package list (data/corpus-packages.json): npm tarballs
// through the code filters into OUT/code, Debian documentation packages into OUT/html, then
// OUT/corpus-stats.json and OUT/SOURCES.md. Downloads run a few at a time (network-bound); packages are
// filtered one by one in list order, so the cross-package exact dedup ("the first keeps it") is
// deterministic. Each finished package leaves OUT/state/<kind>/<folder>.json; a rerun loads those
// (rebuilding the dedup memory from their hashes) and only does the rest, so an interrupted build resumes.

import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import { checkPinnedList } from './corpus-exclusions.js';
import { ContentDedup, DEFAULT_CORPUS_FILTER, FILTER_VERSION, type CorpusFilterConfig } from './corpus-filter.js';
import { extractNpmPackage, fetchNpmTarball, npmFolder, type NpmPin } from './corpus-npm.js';
import { collectDebianPages, extractDebs, fetchDeb, type DebianPin } from './corpus-debian.js';
import { sourcesMarkdown, summarize, type CorpusStats, type PackageResult } from './corpus-report.js';

export interface PinnedList {
  npm: NpmPin[];
  debian: DebianPin[];
}

export interface CorpusBuildConfig {
  packagesFile: string;
  /** Output root: code/, html/, licenses/, state/, corpus-stats.json, SOURCES.md. Outside the repository. */
  out: string;
  /** Tarballs and .debs (kept, so a rerun downloads nothing) and extracted .deb trees. */
  cache: string;
  /** Only the first N npm packages and N Debian packages (a quick run). */
  limit: number;
  skipDebian: boolean;
  /** Parallel `npm pack` downloads. */
  concurrency: number;
  filter: CorpusFilterConfig;
  maxPageBytes: number;
  maxImageBytes: number;
  /** HTML bytes taken from one Debian package at most (pages past it are cut with a fixed seed). */
  maxPackageHtmlBytes: number;
}

export const DEFAULT_CORPUS_BUILD: Omit<CorpusBuildConfig, 'packagesFile' | 'out' | 'cache'> = {
  limit: Infinity,
  skipDebian: false,
  // npm pack is network-bound and the machine is shared: four keep the link busy without crowding it.
  concurrency: 4,
  filter: DEFAULT_CORPUS_FILTER,
  // Pages past 2 MB are generated indexes or API dumps; the developer corpus used the same cut.
  maxPageBytes: 2 * 2 ** 20,
  // The image tokenizer downsamples to 256×256; a 2 MB image is a photo or a poster, rare in manuals.
  maxImageBytes: 2 * 2 ** 20,
  // 6 MB of pages per manual: the big API references (pandas, scipy, erlang: 100–250 MB of rendered tables)
  // would otherwise be most of the HTML (1.1 GB uncut); cut, ~40 manuals give ~170 MB, below the code.
  maxPackageHtmlBytes: 6e6,
};

export type BuildEvent =
  | { type: 'package'; kind: 'npm' | 'debian'; index: number; total: number; result: PackageResult; resumed: boolean }
  | { type: 'failure'; kind: 'npm' | 'debian'; index: number; total: number; name: string; version: string; error: string };

function isPin(p: unknown): p is { name: string; version: string } {
  return !!p && typeof (p as { name?: unknown }).name === 'string' && typeof (p as { version?: unknown }).version === 'string';
}

/** Reads and validates the pinned list; throws CORPUS_EXCLUDED_PACKAGE for an excluded package. */
export function readPinnedList(file: string): PinnedList {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new HyperlmError('INPUT_UNREADABLE', `${file}: ${(err as Error).message}`);
  }
  const list = raw as Partial<PinnedList>;
  for (const kind of ['npm', 'debian'] as const) {
    if (!Array.isArray(list[kind])) throw new HyperlmError('CONFIG_BAD_VALUE', `${file}: "${kind}" must be an array of {name, version}`);
    list[kind]!.forEach((p, i) => {
      if (!isPin(p)) throw new HyperlmError('CONFIG_BAD_VALUE', `${file}: ${kind}[${i}] must have string "name" and "version", got ${JSON.stringify(p)}`);
    });
  }
  const seen = new Set<string>();
  for (const p of list.npm!) {
    if (seen.has(p.name)) throw new HyperlmError('CONFIG_BAD_VALUE', `${file}: npm package "${p.name}" is listed twice`);
    seen.add(p.name);
  }
  checkPinnedList(list as PinnedList, file);
  return list as PinnedList;
}

/** Runs `fn` over `items` with at most `n` at a time, starting them in order. */
function limited<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R>[] {
  let active = 0;
  const waiting: (() => void)[] = [];
  const acquire = (): Promise<void> => (active < n ? (active++, Promise.resolve()) : new Promise((r) => waiting.push(r)));
  const release = (): void => { const next = waiting.shift(); if (next) next(); else active--; };
  return items.map((item) => {
    const p = acquire().then(() => fn(item)).finally(release);
    p.catch(() => undefined); // awaited later, in order; keep Node from calling it unhandled meanwhile
    return p;
  });
}

/** Resume state: the package's result, valid only when written under the same filter settings. */
function loadState(file: string, settings: string): PackageResult | undefined {
  if (!existsSync(file)) return undefined;
  const state = JSON.parse(readFileSync(file, 'utf8')) as { settings: string; result: PackageResult };
  return state.settings === settings ? state.result : undefined;
}

export async function buildCorpus(cfg: CorpusBuildConfig, onEvent: (e: BuildEvent) => void = () => undefined, command = 'npm run build-corpus'): Promise<CorpusStats> {
  const list = readPinnedList(cfg.packagesFile);
  const npm = list.npm.slice(0, cfg.limit);
  const debian = cfg.skipDebian ? [] : list.debian.slice(0, cfg.limit);
  const codeRoot = join(cfg.out, 'code');
  const htmlRoot = join(cfg.out, 'html');
  for (const d of [codeRoot, htmlRoot, join(cfg.out, 'state/npm'), join(cfg.out, 'state/debian'), join(cfg.cache, 'npm')]) mkdirSync(d, { recursive: true });
  const codeSettings = JSON.stringify({ version: FILTER_VERSION, ...cfg.filter });
  const htmlSettings = JSON.stringify({ version: FILTER_VERSION, maxPageBytes: cfg.maxPageBytes, maxImageBytes: cfg.maxImageBytes, maxPackageHtmlBytes: cfg.maxPackageHtmlBytes });
  const results: PackageResult[] = [];
  const failures: CorpusStats['failures'] = [];

  const codeDedup = new ContentDedup();
  const npmStates = npm.map((pin) => join(cfg.out, 'state/npm', `${npmFolder(pin)}.json`));
  const npmDone = npm.map((_, i) => loadState(npmStates[i], codeSettings));
  const fetches = limited(npm.map((pin, i) => ({ pin, i })), cfg.concurrency, ({ pin, i }) => (npmDone[i] ? Promise.resolve('') : fetchNpmTarball(pin, cfg.cache)));
  for (let i = 0; i < npm.length; i++) {
    const pin = npm[i];
    const done = npmDone[i];
    if (done) {
      for (const h of done.hashes) codeDedup.add(h, done.folder);
      results.push(done);
      onEvent({ type: 'package', kind: 'npm', index: i, total: npm.length, result: done, resumed: true });
      continue;
    }
    try {
      const tarball = await fetches[i];
      const result = extractNpmPackage(tarball, pin, codeRoot, { filter: cfg.filter, dedup: codeDedup });
      writeFileSync(npmStates[i], JSON.stringify({ settings: codeSettings, result }));
      results.push(result);
      onEvent({ type: 'package', kind: 'npm', index: i, total: npm.length, result, resumed: false });
    } catch (err) {
      if (!(err instanceof HyperlmError)) throw err;
      failures.push({ kind: 'npm', name: pin.name, version: pin.version, error: err.message });
      onEvent({ type: 'failure', kind: 'npm', index: i, total: npm.length, name: pin.name, version: pin.version, error: err.message });
    }
  }

  const htmlDedup = new ContentDedup();
  for (let i = 0; i < debian.length; i++) {
    const pin = debian[i];
    const stateFile = join(cfg.out, 'state/debian', `${pin.name}.json`);
    const done = loadState(stateFile, htmlSettings);
    if (done) {
      for (const h of done.hashes) htmlDedup.add(h, done.folder);
      results.push(done);
      onEvent({ type: 'package', kind: 'debian', index: i, total: debian.length, result: done, resumed: true });
      continue;
    }
    try {
      const debs = [];
      for (const p of [{ name: pin.name, version: pin.version }, ...(pin.companions ?? [])]) debs.push({ ...p, file: await fetchDeb(p.name, p.version, cfg.cache) });
      const tree = join(cfg.cache, 'debian-x', pin.name);
      await extractDebs(debs, tree);
      const result = collectDebianPages(tree, pin, htmlRoot, join(cfg.out, 'licenses/debian'), { maxPageBytes: cfg.maxPageBytes, maxImageBytes: cfg.maxImageBytes, maxPackageBytes: cfg.maxPackageHtmlBytes, dedup: htmlDedup });
      writeFileSync(stateFile, JSON.stringify({ settings: htmlSettings, result }));
      results.push(result);
      onEvent({ type: 'package', kind: 'debian', index: i, total: debian.length, result, resumed: false });
    } catch (err) {
      if (!(err instanceof HyperlmError)) throw err;
      failures.push({ kind: 'debian', name: pin.name, version: pin.version, error: err.message });
      onEvent({ type: 'failure', kind: 'debian', index: i, total: debian.length, name: pin.name, version: pin.version, error: err.message });
    }
  }

  const stats = summarize(results, failures, { out: cfg.out, packagesFile: cfg.packagesFile, filter: { ...cfg.filter } });
  writeFileSync(join(cfg.out, 'corpus-stats.json'), JSON.stringify(stats, null, 1) + '\n');
  writeFileSync(join(cfg.out, 'SOURCES.md'), sourcesMarkdown(stats, command));
  return stats;
}

/** Output folders that no package of this build wrote (e.g. packages since removed from the list). */
export function staleFolders(out: string, stats: CorpusStats): string[] {
  const known = new Set(stats.packages.map((p) => `${p.kind === 'npm' ? 'code' : 'html'}/${p.folder}`));
  return ['code', 'html'].flatMap((k) => (existsSync(join(out, k)) ? readdirSync(join(out, k)).map((f) => `${k}/${f}`) : []))
    .filter((f) => !known.has(f) && !f.split('/')[1].startsWith('.'));
}

/** The list with each npm entry's `license` set to what its package.json says (for pinning). */
export function pinsWithLicenses(list: PinnedList, stats: CorpusStats): PinnedList {
  const read = new Map(stats.packages.map((p) => [`${p.kind}:${p.name}@${p.version}`, p.license]));
  const fill = <T extends { name: string; version: string; license?: string }>(kind: string, pins: T[]): T[] =>
    pins.map((p) => ({ ...p, license: read.get(`${kind}:${p.name}@${p.version}`) ?? p.license }));
  return { npm: fill('npm', list.npm), debian: fill('debian', list.debian) };
}

/** The list as JSON with one package per line, so that diffs of the pinned list stay readable. */
export function formatPinnedList(list: PinnedList): string {
  const rows = (pins: object[]): string => pins.map((p) => `  ${JSON.stringify(p)}`).join(',\n');
  return `{\n "npm": [\n${rows(list.npm)}\n ],\n "debian": [\n${rows(list.debian)}\n ]\n}\n`;
}
