// One Debian documentation package of the corpus: `apt-get download NAME=VERSION` into the cache,
// `dpkg-deb -x` (nothing installed) with its companion packages (those holding the images its pages
// link to), then every HTML page that passes the page filters and every local image an `<img src|srcset>`
// points at, into OUT/html/<package>/ at their paths below the package's doc root, so that the references
// still resolve on disk (the CM3 HTML+image layout). The licence is the copyright file's `Files: *` licence.
// The npm sibling is corpus-npm.ts; the order of packages and resumption live in corpus-build.ts.

import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { HyperlmError } from '../errors.js';
import { ContentDedup, sha256 } from './corpus-filter.js';
import type { PackageResult } from './corpus-report.js';

const run = promisify(execFile);

export interface DebianPin {
  name: string;
  version: string;
  license?: string;
  /** Packages extracted into the same tree because the pages' images or symlinks point into them. */
  companions?: { name: string; version: string }[];
  /** Folder inside the package whose pages are taken (default: the common folder of all pages and images). */
  root?: string;
}

export interface HtmlContext {
  /** Larger pages are dropped: generated indexes and API dumps, not prose. */
  maxPageBytes: number;
  /** Larger images are not copied (the image loader would drop them anyway). */
  maxImageBytes: number;
  /** Pages of one package past this many bytes are cut (a fixed-seed choice), so no manual dominates. */
  maxPackageBytes: number;
  dedup: ContentDedup;
}

/**
 * Debian's archive keeps only the newest point release of a package, so a pin goes stale after a
 * security update: name the version apt would take now, for the user to pin instead.
 */
async function candidateHint(name: string): Promise<string> {
  try {
    const { stdout } = await run('apt-cache', ['policy', name], { timeout: 60_000 });
    const candidate = /Candidate:\s*(\S+)/.exec(stdout)?.[1];
    if (!candidate || candidate === '(none)') return '';
    return ` (the archive now has ${candidate}: pin that version in data/corpus-packages.json, or pass --packages with it)`;
  } catch {
    return '';
  }
}

/** The cached `.deb`, fetched with apt-get download when missing. Throws CORPUS_FETCH_FAILED naming it. */
export async function fetchDeb(name: string, version: string, cacheDir: string): Promise<string> {
  const dir = join(cacheDir, 'debian');
  mkdirSync(dir, { recursive: true });
  const prefix = `${name}_${version.replace(/:/g, '%3a')}_`;
  const cached = readdirSync(dir).find((f) => f.startsWith(prefix) && f.endsWith('.deb'));
  if (cached) return join(dir, cached);
  const tmp = join(dir, `.tmp-${name}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    await run('apt-get', ['download', `${name}=${version}`], { cwd: tmp, timeout: 10 * 60_000 });
    const files = readdirSync(tmp).filter((f) => f.endsWith('.deb'));
    if (files.length !== 1) throw new Error(`expected one .deb, found ${files.length}`);
    renameSync(join(tmp, files[0]), join(dir, files[0]));
    return join(dir, files[0]);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const detail = (e.stderr ?? '').split('\n').filter((l) => /^E:|error/i.test(l)).slice(0, 2).join(' / ') || e.message.split('\n')[0];
    const hint = /not found/i.test(detail) ? await candidateHint(name) : '';
    throw new HyperlmError('CORPUS_FETCH_FAILED', `apt-get download ${name}=${version} failed: ${detail}${hint}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Extracts the package and its companions into one tree (once: a marker file records completion). */
export async function extractDebs(debs: { name: string; version: string; file: string }[], tree: string): Promise<void> {
  // The marker names the packages extracted, so adding a companion to the list re-extracts the tree.
  const marker = join(tree, '.extracted');
  const wanted = debs.map((d) => `${d.name}=${d.version}`).join('\n');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === wanted) return;
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  for (const d of debs) {
    const { stdout } = await run('dpkg-deb', ['-f', d.file, 'Package', 'Version']);
    const got = Object.fromEntries(stdout.trim().split('\n').map((l) => l.split(': ', 2) as [string, string]));
    if (got.Package !== d.name || got.Version !== d.version) {
      throw new HyperlmError('CORPUS_BAD_PACKAGE', `${d.file} holds ${got.Package}=${got.Version}, not the pinned ${d.name}=${d.version}`);
    }
    await run('dpkg-deb', ['-x', d.file, tree], { timeout: 10 * 60_000 });
  }
  writeFileSync(marker, wanted);
}

/** The licence of a DEP-5 copyright file's `Files: *` stanza (else its first `License:`), or a pointer. */
export function copyrightLicense(text: string): string {
  const stanzas = text.split(/\n\s*\n/);
  const star = stanzas.find((s) => /^Files:\s*\*\s*$/m.test(s)) ?? stanzas.find((s) => /^License:/m.test(s));
  const m = star?.match(/^License:[ \t]*(\S.*)$/m);
  return m ? m[1].trim() : 'see copyright file';
}

/**
 * The real file at `rel` inside the extracted tree, following symlinks component by component; an absolute
 * target means the same path inside the tree (never the host's file system). Undefined when missing.
 */
export function resolveInTree(tree: string, rel: string): string | undefined {
  let todo = rel.split('/');
  let done: string[] = [];
  let hops = 0;
  while (todo.length > 0) {
    const name = todo.shift()!;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      if (done.length === 0) return undefined;
      done.pop();
      continue;
    }
    const abs = join(tree, ...done, name);
    let st;
    try { st = lstatSync(abs); } catch { return undefined; }
    if (st.isSymbolicLink()) {
      if (++hops > 32) return undefined;
      const target = readlinkSync(abs);
      if (target.startsWith('/')) done = [];
      todo = [...target.split('/'), ...todo];
      continue;
    }
    done.push(name);
    if (todo.length === 0) return st.isFile() ? abs : undefined;
    if (!st.isDirectory()) return undefined;
  }
  return undefined;
}

/** `src` and `srcset` URLs of every `<img>` in a page (entities `&amp;` decoded). */
export function imageRefs(html: string): string[] {
  const out: string[] = [];
  for (const tag of html.match(/<img\b[^>]*>/gi) ?? []) {
    for (const m of tag.matchAll(/\b(src|srcset)\s*=\s*("([^"]*)"|'([^']*)'|([^\s>]+))/gi)) {
      const value = (m[3] ?? m[4] ?? m[5] ?? '').replace(/&amp;/g, '&');
      if (m[1].toLowerCase() === 'src') out.push(value);
      else out.push(...value.split(',').map((c) => c.trim().split(/\s+/)[0]).filter(Boolean));
    }
  }
  return out;
}

/** A page-relative image URL → path inside the tree, or undefined (remote, data:, site-root, outside). */
function imagePath(pageRel: string, url: string): string | undefined {
  if (url === '' || /^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('/') || url.startsWith('#')) return undefined;
  let clean = url.replace(/[?#].*$/, '');
  try { clean = decodeURIComponent(clean); } catch { return undefined; }
  const rel = posix.normalize(posix.join(posix.dirname(pageRel), clean));
  return rel.startsWith('..') || rel === '.' ? undefined : rel;
}

function listFiles(tree: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(tree, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(tree, r));
    else if (e.isFile() || e.isSymbolicLink()) out.push(r);
  }
  return out.sort();
}

const PAGE = /\.(html?|xhtml)$/i;
const INDEX_PAGE = /(^|\/)(genindex(-[^/]*)?|search|py-modindex|modindex|np-modindex)\.html$/i;
const ASSET_DIR = /(^|\/)(_sources|_static|_downloads)\//;

function commonDir(paths: string[]): string {
  if (paths.length === 0) return '';
  let parts = posix.dirname(paths[0]).split('/');
  for (const p of paths) {
    const q = posix.dirname(p).split('/');
    let i = 0;
    while (i < parts.length && i < q.length && parts[i] === q[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.filter((s) => s !== '.').join('/');
}

/** Selects the pages and images of an extracted tree into `htmlRoot/<name>/`; the copyright into `licensesRoot`. */
export function collectDebianPages(tree: string, pin: DebianPin, htmlRoot: string, licensesRoot: string, ctx: HtmlContext): PackageResult {
  const result: PackageResult = { kind: 'debian', name: pin.name, version: pin.version, folder: pin.name, license: '', licenseFiles: [], files: 0, bytes: 0, images: 0, imageBytes: 0, drops: {}, hashes: [] };
  const drop = (reason: string): void => { result.drops[reason] = (result.drops[reason] ?? 0) + 1; };
  const copyrightFile = resolveInTree(tree, `usr/share/doc/${pin.name}/copyright`);
  if (copyrightFile) {
    result.license = copyrightLicense(readFileSync(copyrightFile, 'utf8'));
    mkdirSync(licensesRoot, { recursive: true });
    copyFileSync(copyrightFile, join(licensesRoot, `${pin.name}.copyright`));
    result.licenseFiles.push(`licenses/debian/${pin.name}.copyright`);
  }
  // Not every copyright file is machine-readable (DEP-5): then the licence pinned by hand is used.
  if (!result.license || result.license === 'see copyright file') result.license = pin.license ?? (copyrightFile ? 'see copyright file' : 'no copyright file');

  // Candidates: pages that pass the filters, each with the images it points at (resolved or not).
  type Candidate = { rel: string; size: number; hash: string; refs: { ref: string; real?: string; size: number }[] };
  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  for (const rel of listFiles(tree)) {
    if (!PAGE.test(rel)) continue;
    if (pin.root && !rel.startsWith(`${pin.root}/`)) { drop('outside-root'); continue; }
    if (lstatSync(join(tree, rel)).isSymbolicLink()) { drop('symlink'); continue; }
    if (ASSET_DIR.test(rel)) { drop('asset-dir'); continue; }
    if (INDEX_PAGE.test(rel)) { drop('index-page'); continue; }
    const size = statSync(join(tree, rel)).size;
    if (size > ctx.maxPageBytes) { drop('too-large'); continue; }
    const bytes = readFileSync(join(tree, rel));
    if (bytes.includes(0)) { drop('binary'); continue; }
    const hash = sha256(bytes.toString('latin1'));
    if (ctx.dedup.has(hash) || seen.has(hash)) { drop('duplicate'); continue; }
    seen.add(hash);
    const refs = [...new Set(imageRefs(bytes.toString('latin1')).map((u) => imagePath(rel, u)).filter((r): r is string => r !== undefined))]
      .map((ref) => { const real = resolveInTree(tree, ref); return { ref, real, size: real ? statSync(real).size : 0 }; });
    candidates.push({ rel, size, hash, refs });
  }
  // Over the budget, pages with a usable image go first (the CM3 image+text case), each group in a fixed
  // pseudo-random order (hash of the path), so the cut is reproducible and not biased to early chapters.
  const usable = (c: Candidate): boolean => c.refs.some((r) => r.real && r.size <= ctx.maxImageBytes);
  const total = candidates.reduce((n, c) => n + c.size, 0);
  let chosen = candidates;
  if (total > ctx.maxPackageBytes) {
    const order = [...candidates].sort((x, y) => Number(usable(y)) - Number(usable(x)) || (sha256(x.rel) < sha256(y.rel) ? -1 : 1));
    const keep = new Set<Candidate>();
    let used = 0;
    for (const c of order) {
      if (used + c.size > ctx.maxPackageBytes) { drop('over-budget'); continue; }
      keep.add(c);
      used += c.size;
    }
    chosen = candidates.filter((c) => keep.has(c));
  }
  const pages: { rel: string; size: number }[] = [];
  const images = new Map<string, string>(); // path the page refers to → real file in the tree
  const badRefs = new Set<string>();
  for (const c of chosen) {
    ctx.dedup.add(c.hash, `${pin.name}/${c.rel}`);
    pages.push(c);
    result.hashes.push(c.hash);
    for (const r of c.refs) {
      if (images.has(r.ref) || badRefs.has(r.ref)) continue;
      if (!r.real || r.size > ctx.maxImageBytes) { badRefs.add(r.ref); drop(r.real ? 'image-too-large' : 'image-missing'); continue; }
      images.set(r.ref, r.real);
    }
  }
  const root = pin.root ?? commonDir([...pages.map((p) => p.rel), ...images.keys()]);
  const strip = (rel: string): string => (root ? rel.slice(root.length + 1) : rel);
  const partial = join(htmlRoot, `.partial-${pin.name}`);
  rmSync(partial, { recursive: true, force: true });
  const place = (from: string, rel: string): void => {
    mkdirSync(dirname(join(partial, rel)), { recursive: true });
    copyFileSync(from, join(partial, rel));
  };
  for (const p of pages) {
    place(join(tree, p.rel), strip(p.rel));
    result.files++;
    result.bytes += p.size;
  }
  for (const [ref, real] of images) {
    if (root && !ref.startsWith(`${root}/`)) { drop('image-outside-root'); continue; }
    place(real, strip(ref));
    result.images++;
    result.imageBytes += statSync(real).size;
  }
  const final = join(htmlRoot, pin.name);
  rmSync(final, { recursive: true, force: true });
  if (result.files > 0) renameSync(partial, final);
  if (result.files === 0 && existsSync(partial)) rmSync(partial, { recursive: true, force: true });
  if (result.files === 0) throw new HyperlmError('CORPUS_BAD_PACKAGE', `Debian ${pin.name}=${pin.version}: no HTML page passed the filters${pin.root ? ` under ${pin.root}` : ''}`);
  return result;
}
