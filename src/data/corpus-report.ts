// The record of a corpus build: one PackageResult per npm or Debian package (also saved alone as the
// package's resume state), the totals and drop counters of OUT/corpus-stats.json, and the Markdown
// written to OUT/SOURCES.md (the table pasted into data/SOURCES.md). Token counts are estimates:
// bytes × 0.21, the rate the project's SentencePiece tokenizer measures on such text (~0.206 tokens/byte).

/** Estimated tokens per byte of source or HTML (measured ~0.206 with the project's tokenizer). */
export const TOKENS_PER_BYTE = 0.21;

export interface PackageResult {
  kind: 'npm' | 'debian';
  name: string;
  version: string;
  /** Folder under OUT/code or OUT/html. */
  folder: string;
  /** As read from the package (package.json `license`, or the Debian copyright's `Files: *` licence). */
  license: string;
  licenseFiles: string[];
  /** Code files or HTML pages kept, and their bytes. */
  files: number;
  bytes: number;
  /** Images kept (Debian pages' `<img>` targets) and their bytes. */
  images: number;
  imageBytes: number;
  /** Files not kept, by reason. */
  drops: Record<string, number>;
  /** Content hashes of the kept files, in order (rebuilds the cross-package dedup on resume). */
  hashes: string[];
  /** Set when the package was refused as a whole (licence), with the reason. */
  refused?: string;
}

export interface CorpusStats {
  out: string;
  packagesFile: string;
  filter: Record<string, number>;
  npm: { ok: number; failed: number; refused: number; files: number; bytes: number };
  debian: { ok: number; failed: number; refused: number; pages: number; bytes: number; images: number; imageBytes: number };
  drops: { code: Record<string, number>; html: Record<string, number> };
  estimatedTokens: { code: number; html: number; total: number; tokensPerByte: number };
  failures: { kind: 'npm' | 'debian'; name: string; version: string; error: string }[];
  packages: Omit<PackageResult, 'hashes'>[];
}

export function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Totals over the package results, in list order. */
export function summarize(results: PackageResult[], failures: CorpusStats['failures'], base: Pick<CorpusStats, 'out' | 'packagesFile' | 'filter'>): CorpusStats {
  const npm = { ok: 0, failed: 0, refused: 0, files: 0, bytes: 0 };
  const debian = { ok: 0, failed: 0, refused: 0, pages: 0, bytes: 0, images: 0, imageBytes: 0 };
  const drops = { code: {} as Record<string, number>, html: {} as Record<string, number> };
  for (const r of results) {
    if (r.kind === 'npm') {
      if (r.refused) npm.refused++; else npm.ok++;
      npm.files += r.files;
      npm.bytes += r.bytes;
      addCounts(drops.code, r.drops);
    } else {
      if (r.refused) debian.refused++; else debian.ok++;
      debian.pages += r.files;
      debian.bytes += r.bytes;
      debian.images += r.images;
      debian.imageBytes += r.imageBytes;
      addCounts(drops.html, r.drops);
    }
  }
  npm.failed = failures.filter((f) => f.kind === 'npm').length;
  debian.failed = failures.filter((f) => f.kind === 'debian').length;
  const code = Math.round(npm.bytes * TOKENS_PER_BYTE);
  const html = Math.round(debian.bytes * TOKENS_PER_BYTE);
  const packages = results.map(({ hashes: _hashes, ...rest }) => rest);
  return { ...base, npm, debian, drops, estimatedTokens: { code, html, total: code + html, tokensPerByte: TOKENS_PER_BYTE }, failures, packages };
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(2);
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** OUT/SOURCES.md: totals, drop counters and one table row per package. */
export function sourcesMarkdown(stats: CorpusStats, command: string): string {
  const { npm, debian, estimatedTokens: t } = stats;
  const drops = (d: Record<string, number>): string =>
    Object.entries(d).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  const lines = [
    `Built with \`${command}\`.`,
    '',
    `- npm: ${npm.ok} packages ok, ${npm.failed} failed, ${npm.refused} refused (licence); ${npm.files} JS/TS files kept, ` +
      `${mb(npm.bytes)} MB, ≈ ${(t.code / 1e6).toFixed(1)}M tokens (bytes × ${t.tokensPerByte}).`,
    `- Debian: ${debian.ok} packages ok, ${debian.failed} failed; ${debian.pages} HTML pages, ${mb(debian.bytes)} MB, ` +
      `≈ ${(t.html / 1e6).toFixed(1)}M tokens; ${debian.images} images, ${mb(debian.imageBytes)} MB.`,
    `- Code files dropped: ${drops(stats.drops.code)}.`,
    `- HTML files dropped: ${drops(stats.drops.html)}.`,
    ...(stats.failures.length ? ['- Failed: ' + stats.failures.map((f) => `${f.name}@${f.version} (${cell(f.error).slice(0, 120)})`).join('; ') + '.'] : []),
    '',
    '| folder | package | version | licence | files kept | MB | images |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...stats.packages.map((p) => `| ${p.kind === 'npm' ? 'code' : 'html'}/${p.folder} | ${p.kind} ${cell(p.name)} | ${cell(p.version)} | ` +
      `${cell(p.license)}${p.refused ? ` (refused: ${cell(p.refused)})` : ''} | ${p.files} | ${mb(p.bytes)} | ${p.kind === 'debian' ? p.images : ''} |`),
  ];
  return lines.join('\n') + '\n';
}
