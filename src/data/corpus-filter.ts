// File filters for the large code corpus (scripts/build-corpus.ts): which files of an npm tarball are
// human-written JS/TS worth training on. Heuristics after the Codex / The Stack / StarCoder data cards:
// drop files whose average line is over 150 characters or with any line over 5000 (minified), files with a
// "generated" / "do not edit" banner, bundler output (webpack, browserify, esbuild), stubs that are only a
// source-map comment, files over a size limit, build folders (`dist*/`, `umd/`, `bundles/` …), `*.min.js`;
// then exact duplicates (content hash, first kept) and build variants of one source (`src/a.ts`, `lib/a.js`,
// `esm/a.js`: the first by preference is kept). The sibling corpus-exclusions.ts guards evaluation packages.

import { createHash } from 'node:crypto';
import { vendoredCopy } from './corpus-exclusions.js';

export interface CorpusFilterConfig {
  /** Larger files are dropped: real hand-written modules are rarely past 200 KB; bundles and data tables are. */
  maxFileBytes: number;
  /** Average bytes per line above this means minified or machine-packed (Codex/The Stack use 100–150). */
  maxAvgLineLength: number;
  /** One line longer than this means minified code, an inlined data table or an inline source map. */
  maxLineLength: number;
  /** The banner test looks at this many leading characters: generators write their notice at the top. */
  bannerChars: number;
  /** A build variant is the same source only when the sizes are within this factor (a 100-byte shim is not). */
  variantSizeRatio: number;
}

/** Bumped whenever a heuristic below changes, so that a resumed build refilters packages done before. */
export const FILTER_VERSION = 3;

export const DEFAULT_CORPUS_FILTER: CorpusFilterConfig = {
  maxFileBytes: 200 * 1024,
  maxAvgLineLength: 150,
  maxLineLength: 5000,
  bannerChars: 1500,
  variantSizeRatio: 3,
};

/** Why a file was not kept; each reason is a counter in corpus-stats.json. */
export type DropReason =
  | 'not-code' | 'declaration' | 'build-dir' | 'min-name' | 'vendored-excluded' | 'too-large' | 'binary'
  | 'source-map-only' | 'generated' | 'bundle' | 'long-line' | 'minified' | 'duplicate' | 'build-variant';

export const CODE_EXTENSIONS: readonly string[] = ['.js', '.mjs', '.cjs', '.jsx', '.ts', '.mts', '.cts', '.tsx'];

/** Folders whose files are build output or not the package's own code. `dist*` is matched as a prefix. */
const BUILD_DIRS = new Set(['umd', 'bundles', 'bundle', 'min', 'node_modules', 'coverage', 'fesm2015', 'fesm2020', 'fesm2022', 'fesm5']);

/** Leading folders that hold one variant of the same sources (`lib/esm/a.js` ≈ `src/a.ts`). */
const VARIANT_DIRS = new Set([
  'src', 'source', 'ts_src', 'lib', 'es', 'esm', 'esm5', 'esm2015', 'esm2017', 'esm2020', 'esm2022', 'es5', 'es6',
  'es2015', 'es2017', 'es2018', 'es2019', 'es2020', 'esnext', 'cjs', 'commonjs', 'mjs', 'module', 'legacy', 'modern',
  'build', 'out', 'compiled', 'lib-commonjs', 'lib-amd', 'lib-esm', '_cjs', '_esm', '_mjs', '_lib',
]);

function extensionOf(relPath: string): string {
  const name = relPath.slice(relPath.lastIndexOf('/') + 1).toLowerCase();
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot);
}

/** The drop reason decided from the path alone (cheap: no read), or undefined to look at the content. */
export function pathVerdict(relPath: string): DropReason | undefined {
  const lower = relPath.toLowerCase();
  if (!CODE_EXTENSIONS.includes(extensionOf(lower))) return 'not-code';
  // Declarations are tsc output in nearly every package (signatures of the .js beside them), not sources.
  if (/\.d\.[cm]?ts$/.test(lower)) return 'declaration';
  const dirs = lower.split('/').slice(0, -1);
  if (dirs.some((d) => d.startsWith('dist') || d.startsWith('.') || BUILD_DIRS.has(d))) return 'build-dir';
  if (/[.-]min\.[cm]?js$|\.(bundle|prod|production)\.[cm]?js$|(^|\/)bundle\.[cm]?js$/.test(lower)) return 'min-name';
  if (hashedChunk(relPath)) return 'bundle';
  if (vendoredCopy(lower)) return 'vendored-excluded';
  return undefined;
}

/**
 * Bundler chunks are named `<name>-<hash>.js` (rollup/vite: 8 base64url characters with an upper-case
 * letter and a digit, `abap-BxE6jMvt.js`) or `<name>.<hex hash>.js` (webpack `[contenthash]`).
 */
function hashedChunk(relPath: string): boolean {
  const name = relPath.slice(relPath.lastIndexOf('/') + 1);
  const rollup = /-([A-Za-z0-9_-]{8})\.[cm]?js$/.exec(name);
  if (rollup && /[A-Z]/.test(rollup[1]) && /[0-9]/.test(rollup[1])) return true;
  const webpack = /[.-]([0-9a-f]{8,20})\.[cm]?js$/.exec(name);
  return !!webpack && /[0-9]/.test(webpack[1]) && /[a-f]/.test(webpack[1]);
}

/** A `//# sourceMappingURL=…` (or `/*# … *\/`) line: a pointer to a .map file that is not in the corpus. */
const SOURCE_MAP_LINE = /^[ \t]*(\/\/[#@] sourceMappingURL=.*|\/\*[#@] sourceMappingURL=[^*]*\*\/)[ \t]*\r?$/gm;

/** Removes source-map comment lines; returns the text unchanged when there are none. */
export function stripSourceMapComments(text: string): string {
  return text.includes('sourceMappingURL=') ? text.replace(SOURCE_MAP_LINE, '').replace(/\n+$/, '\n') : text;
}

/** What tsc/babel emit for a module with no runtime code: with the map comment gone, nothing is left. */
const STUB_STATEMENTS = /("use strict"|'use strict'|export\s*\{\s*\}|Object\.defineProperty\(exports,\s*["']__esModule["'],\s*\{\s*value:\s*true\s*\}\))\s*;?/g;

const BANNER = /@generated\b|\bauto-?generated\b|\bautomatically generated\b|\bgenerated (by|from)\b|\bcode generated\b|\bthis file (is|was) generated\b|\bdo not (edit|modify)\b|\bdon'?t (edit|modify) this file\b/i;

/**
 * The comments (and directives such as `"use strict";`) before the first statement, at most `max`
 * characters: where generators put their notice. Prose further down ("content generated by rendering")
 * is not a banner.
 */
export function leadingComments(text: string, max: number): string {
  const head = text.slice(0, max);
  const lead = /^(?:\s+|#![^\n]*|\/\/[^\n]*|\/\*[\s\S]*?(?:\*\/|$)|(["'])use [a-z ]+\1;?)*/.exec(head);
  return lead ? lead[0] : '';
}

/** Marks of bundler output: webpack's runtime, browserify's prelude, esbuild's and rollup's interop helpers. */
const BUNDLE_MARKS = [
  /__webpack_require__/,
  /^\/\*{6}\/ /m,
  /^\(function\(\)\{function r\(e,n,t\)/m,
  /^require=\(function/m,
  /\bvar __toESM = /,
  /\bvar __commonJS = /,
];

/** The drop reason decided from the content, or undefined to keep. `text` has its map comments stripped. */
export function contentVerdict(bytes: Uint8Array, text: string, cfg: CorpusFilterConfig = DEFAULT_CORPUS_FILTER): DropReason | undefined {
  if (bytes.byteLength > cfg.maxFileBytes) return 'too-large';
  if (bytes.includes(0) || text.includes('\uFFFD')) return 'binary';
  if (text.replace(STUB_STATEMENTS, '').trim() === '') return 'source-map-only';
  if (BANNER.test(leadingComments(text, cfg.bannerChars))) return 'generated';
  if (BUNDLE_MARKS.some((re) => re.test(text))) return 'bundle';
  // Lines are newline-terminated (a final newline starts no new line); the average excludes the newlines.
  let lines = 0;
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl;
    if (end - start > cfg.maxLineLength) return 'long-line';
    lines++;
    start = end + 1;
  }
  if (lines > 0 && (text.length - (lines - (text.endsWith('\n') ? 0 : 1))) / lines > cfg.maxAvgLineLength) return 'minified';
  return undefined;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `lib/esm/foo/a.js` and `src/foo/a.ts` → `foo/a`: leading variant folders and the extension removed. */
export function variantKey(relPath: string): string {
  const parts = relPath.split('/');
  while (parts.length > 1 && VARIANT_DIRS.has(parts[0].toLowerCase())) parts.shift();
  const joined = parts.join('/');
  const ext = extensionOf(joined);
  return ext ? joined.slice(0, -ext.length) : joined;
}

/**
 * The order a package's files are considered in, so that the copy kept of a build variant is the one
 * nearest the source: TypeScript, then JavaScript in a `src/`-like folder, then ES modules (`esm/`, `es/`,
 * `.mjs`), then the rest, CommonJS output (`cjs/`, `commonjs/`, `.cjs`) last; ties by path.
 */
export function preferenceOrder(a: string, b: string): number {
  const rank = (p: string): number => {
    if (/\.[cm]?tsx?$/.test(p)) return 0;
    if (/^(src|source|ts_src)\//i.test(p)) return 1;
    if (/^(lib\/|build\/)?(_?esm[0-9]*|es|es20[0-9]{2}|esnext|module|_?mjs)\//i.test(p) || p.endsWith('.mjs')) return 2;
    if (/^(lib\/|build\/)?(_?cjs|commonjs|lib-commonjs)\//i.test(p) || p.endsWith('.cjs')) return 4;
    return 3;
  };
  return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Exact-duplicate memory across the whole corpus: the first owner of a content hash keeps it. */
export class ContentDedup {
  private readonly seen = new Map<string, string>();

  has(hash: string): boolean {
    return this.seen.has(hash);
  }

  /** Remembers a kept file's hash (the first owner stays). */
  add(hash: string, owner: string): void {
    if (!this.seen.has(hash)) this.seen.set(hash, owner);
  }

  ownerOf(hash: string): string | undefined {
    return this.seen.get(hash);
  }

  get size(): number {
    return this.seen.size;
  }
}

/** Build-variant memory inside one package: variant key → size of the copy kept. */
export class VariantDedup {
  private readonly kept = new Map<string, number>();

  constructor(private readonly sizeRatio = DEFAULT_CORPUS_FILTER.variantSizeRatio) {}

  /** True when a kept file of a similar size has the same variant key. */
  isVariant(relPath: string, bytes: number): boolean {
    const prev = this.kept.get(variantKey(relPath));
    return prev !== undefined && Math.max(prev, bytes) <= this.sizeRatio * Math.max(1, Math.min(prev, bytes));
  }

  /** Remembers a kept file (the first kept copy of a key stays the reference). */
  add(relPath: string, bytes: number): void {
    const key = variantKey(relPath);
    if (!this.kept.has(key)) this.kept.set(key, bytes);
  }
}
