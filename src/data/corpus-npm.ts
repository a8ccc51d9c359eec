// One npm package of the code corpus: `npm pack NAME@VERSION` into the cache (once; the tarball is kept
// for reruns), then its files through the filters of corpus-filter.ts into OUT/code/<folder>/<path inside
// the tarball>, with the package's licence file(s). The package is written to a `.partial-` folder (which
// preprocess's walk skips) and renamed when complete, so an interrupted run never leaves half a package.
// The Debian sibling is corpus-debian.ts; the order of packages and resumption live in corpus-build.ts.

import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { HyperlmError } from '../errors.js';
import { ContentDedup, VariantDedup, contentVerdict, pathVerdict, preferenceOrder, sha256, stripSourceMapComments, type CorpusFilterConfig } from './corpus-filter.js';
import type { PackageResult } from './corpus-report.js';
import { readTarGz, type TarEntry } from './tar-read.js';

const run = promisify(execFile);

export interface NpmPin {
  name: string;
  version: string;
  /** As read from the package's package.json when the list was pinned. */
  license?: string;
}

/** `@babel/core@8.1.2` → `babel__core-8.1.2` (one folder level, as DefinitelyTyped names scoped packages). */
export function npmFolder(pin: NpmPin): string {
  return `${pin.name.replace(/^@([^/]+)\//, '$1__')}-${pin.version}`;
}

/** The cached tarball, fetched with `npm pack` when missing. Throws CORPUS_FETCH_FAILED naming the package. */
export async function fetchNpmTarball(pin: NpmPin, cacheDir: string): Promise<string> {
  const target = join(cacheDir, 'npm', `${npmFolder(pin)}.tgz`);
  if (existsSync(target)) return target;
  const tmp = join(cacheDir, 'npm', `.tmp-${npmFolder(pin)}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    await run('npm', ['pack', `${pin.name}@${pin.version}`, '--pack-destination', tmp, '--ignore-scripts', '--loglevel=error'], { timeout: 10 * 60_000, maxBuffer: 64 * 2 ** 20 });
    const files = readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
    if (files.length !== 1) throw new Error(`expected one .tgz, found ${files.length}`);
    renameSync(join(tmp, files[0]), target);
    return target;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const detail = (e.stderr ?? '').split('\n').map((l) => l.trim()).filter((l) => /error/i.test(l) && !/^npm error (A complete log|$)/.test(l)).slice(0, 3).join(' / ') || e.message.split('\n')[0];
    throw new HyperlmError('CORPUS_FETCH_FAILED', `npm pack ${pin.name}@${pin.version} failed: ${detail}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** package.json `license` (SPDX string), the legacy `{ type }` object, or the `licenses: [...]` array. */
export function licenseOf(pkg: Record<string, unknown>): string {
  const one = (l: unknown): string => (typeof l === 'string' ? l : l && typeof l === 'object' && typeof (l as { type?: unknown }).type === 'string' ? (l as { type: string }).type : '');
  const direct = one(pkg.license);
  if (direct) return direct;
  return Array.isArray(pkg.licenses) ? pkg.licenses.map(one).filter(Boolean).join(' OR ') : '';
}

/** Why a licence string is refused (no licence, proprietary), or undefined when it is an open one. */
export function licenseRefusal(license: string): string | undefined {
  if (license.trim() === '') return 'no licence in package.json';
  // SPDX identifiers never contain a URL or the word "license": those are pointers to custom terms.
  if (/^unlicensed$/i.test(license.trim()) || /:\/\/|\blicen[cs]e\b|proprietary|commercial/i.test(license)) return `licence "${license}" is not an open one`;
  return undefined;
}

const LICENSE_FILE = /^(licen[cs]e|copying|notice|unlicense)([.-][\w.-]*)?$/i;

/** Strips the tarball's top folder (`package/` for npm, sometimes another name). */
function innerPath(entry: TarEntry): string | undefined {
  const slash = entry.path.indexOf('/');
  if (slash < 0) return undefined;
  const rel = entry.path.slice(slash + 1);
  return rel.split('/').some((p) => p === '..' || p === '') ? undefined : rel;
}

/** Context shared by every package of one build: the filters and the corpus-wide exact-dedup memory. */
export interface CodeContext {
  filter: CorpusFilterConfig;
  dedup: ContentDedup;
}

/** Filters one tarball into `codeRoot/<folder>/`. Throws CORPUS_BAD_PACKAGE when it is not the pinned package. */
export function extractNpmPackage(tarball: string, pin: NpmPin, codeRoot: string, ctx: CodeContext): PackageResult {
  const folder = npmFolder(pin);
  const files = new Map<string, Uint8Array>();
  for (const entry of readTarGz(tarball)) {
    const rel = innerPath(entry);
    if (entry.type === 'file' && rel !== undefined && !files.has(rel)) files.set(rel, entry.data);
  }
  const manifest = files.get('package.json');
  let pkg: Record<string, unknown>;
  try {
    pkg = JSON.parse(Buffer.from(manifest ?? []).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new HyperlmError('CORPUS_BAD_PACKAGE', `${pin.name}@${pin.version}: ${tarball} has no readable package.json`);
  }
  // npm normalises a version written `v1.2.3` in package.json to `1.2.3` in the registry.
  if (pkg.name !== pin.name || String(pkg.version).trim().replace(/^[v=]+/, '') !== pin.version) {
    throw new HyperlmError('CORPUS_BAD_PACKAGE', `${pin.name}@${pin.version}: ${tarball} holds ${String(pkg.name)}@${String(pkg.version)}`);
  }
  const license = licenseOf(pkg);
  const result: PackageResult = { kind: 'npm', name: pin.name, version: pin.version, folder, license, licenseFiles: [], files: 0, bytes: 0, images: 0, imageBytes: 0, drops: {}, hashes: [] };
  const refused = licenseRefusal(license);
  if (refused) return { ...result, refused };

  const partial = join(codeRoot, `.partial-${folder}`);
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const drop = (reason: string): void => { result.drops[reason] = (result.drops[reason] ?? 0) + 1; };
  const write = (rel: string, data: Uint8Array | string): void => {
    mkdirSync(dirname(join(partial, rel)), { recursive: true });
    writeFileSync(join(partial, rel), data);
  };
  const variants = new VariantDedup(ctx.filter.variantSizeRatio);
  for (const rel of [...files.keys()].sort(preferenceOrder)) {
    const bytes = files.get(rel)!;
    if (!rel.includes('/') && LICENSE_FILE.test(rel) && pathVerdict(rel) === 'not-code') {
      write(rel, bytes);
      result.licenseFiles.push(rel);
      continue;
    }
    const byPath = pathVerdict(rel);
    if (byPath) { drop(byPath); continue; }
    const text = stripSourceMapComments(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    const byContent = contentVerdict(bytes, text, ctx.filter);
    if (byContent) { drop(byContent); continue; }
    const hash = sha256(text);
    const size = Buffer.byteLength(text);
    if (ctx.dedup.has(hash)) { drop('duplicate'); continue; }
    if (variants.isVariant(rel, size)) { drop('build-variant'); continue; }
    ctx.dedup.add(hash, `${folder}/${rel}`);
    variants.add(rel, size);
    write(rel, text);
    result.files++;
    result.bytes += size;
    result.hashes.push(hash);
  }
  result.licenseFiles.sort();
  const final = join(codeRoot, folder);
  rmSync(final, { recursive: true, force: true });
  if (result.files > 0) renameSync(partial, final); else rmSync(partial, { recursive: true, force: true });
  return result;
}
