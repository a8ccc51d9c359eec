// Finds training images for the VQGAN in what `--images` names: image files (folders walked recursively
// in the walk's deterministic byte order, or files given directly) and preprocess inputs — HTML pages
// (each <img> as the minimizer picks it, resolved root-confined: nothing remote, nothing outside the input
// root), WARC/WARC.gz image records and the images JSONL records carry (src/data readers throughout).
// Unlike a random split, every image's train / held-out split is a hash of a stable key, so it holds across
// machines and checkouts; held-out images are never trained on, `vqgan:eval` measures on them.

import { createHash } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { Parser } from 'htmlparser2';
import {
  defaultWarcOptions,
  fileKindForPath,
  newSourceStats,
  readJsonl,
  readWarcImages,
  resolveImageSource,
  walkFolder,
  type SourceStats,
} from '../data/index.js';
import { HyperlmError } from '../errors.js';
import { seedFrom } from '../rng.js';
import { decodeHtmlBytes } from '../minimize/charset.js';
import { largestSrcsetCandidate } from '../minimize/minimize.js';

/** Extensions sharp decodes (SVG is left out on purpose: images.ts drops it as unsupported). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.png',
  '.jpg',
  '.jpeg',
  '.gif',
  '.webp',
  '.avif',
  '.tif',
  '.tiff',
]);

/** Pages larger than this are not parsed for <img> (readSources' file limit). */
const MAX_PAGE_BYTES = 32 * 2 ** 20;

export interface ImageFile {
  /** The image file; for a WARC/JSONL image or a data: URI, the file it came from. */
  filePath: string;
  /** The split key (the name dates from when every image was a file): path relative to the input root
   *  for files (the file name for a file given directly), absolute URL for WARC/JSONL images, `sha256:…` for data: URIs. */
  relPath: string;
  /** The encoded image, when it is not a file of its own. */
  bytes?: Uint8Array;
}

/** What listImageFiles found and left out. */
export interface ImageListStats {
  /** Image files listed by extension (or given directly). */
  files: number;
  /** HTML pages read for <img>, and the images they led to that no file listing had. */
  pages: number;
  fromPages: number;
  /** Images from WARC and JSONL records. */
  fromContainers: number;
  /** Page or container images whose key was already listed (an <img> of an image file, a repeated icon). */
  duplicates: number;
  /** <img> that gave no image (remote, missing, outside-root, bad-data-uri…), pages not read and
   *  WARC records over the caps, by reason. */
  dropped: Record<string, number>;
  /** Corrupt WARC/JSONL records and unreadable container files, counted. */
  errors: number;
}

export function newImageListStats(): ImageListStats {
  return { files: 0, pages: 0, fromPages: 0, fromContainers: 0, duplicates: 0, dropped: {}, errors: 0 };
}

/** One log line: `120 images (100 files, 15 via 40 pages' <img>, 5 from WARC/JSONL); not usable: remote 3`. */
export function describeImageList(s: ImageListStats): string {
  const total = s.files + s.fromPages + s.fromContainers;
  const via = [`${s.files} files`];
  if (s.pages > 0) via.push(`${s.fromPages} more via ${s.pages} pages' <img>`);
  if (s.fromContainers > 0) via.push(`${s.fromContainers} from WARC/JSONL`);
  const dropped = Object.entries(s.dropped)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`);
  return (
    `${total} images (${via.join(', ')})` +
    (dropped.length > 0 ? `; not used: ${dropped.join(', ')}` : '') +
    (s.errors > 0 ? `; ${s.errors} unreadable records` : '')
  );
}

export function isImagePath(p: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(p).toLowerCase());
}

/** The image references of a page: each <img>'s src (else data-src, else its largest srcset candidate,
 *  the minimizer's choice) in document order, and the first <base href>. */
export function pageImageSources(html: string): { srcs: string[]; baseHref?: string } {
  const srcs: string[] = [];
  let baseHref: string | undefined;
  const parser = new Parser({
    onopentag(tag, attribs) {
      if (tag === 'base' && baseHref === undefined && attribs.href !== undefined) baseHref = attribs.href.trim();
      if (tag !== 'img') return;
      const src =
        (attribs.src ?? attribs['data-src'] ?? '').trim() ||
        (attribs.srcset === undefined ? undefined : largestSrcsetCandidate(attribs.srcset));
      if (src !== undefined && src.length > 0) srcs.push(src);
    },
  });
  parser.write(html);
  parser.end();
  return baseHref === undefined ? { srcs } : { srcs, baseHref };
}

const count = (into: Record<string, number>, reason: string, n = 1): void => {
  into[reason] = (into[reason] ?? 0) + n;
};

/** Images a local page's <img> resolve to, keyed like the walk keys files (relative to `root`'s real path). */
async function imagesOfPage(page: string, root: string, realRoot: string, stats: ImageListStats): Promise<ImageFile[]> {
  const size = await stat(page)
    .then((s) => s.size)
    .catch(() => -1);
  if (size < 0 || size > MAX_PAGE_BYTES) {
    count(stats.dropped, size < 0 ? 'page-unreadable' : 'page-too-large');
    return [];
  }
  let html: string;
  try {
    html = decodeHtmlBytes(await readFile(page), page).text;
  } catch {
    count(stats.dropped, 'page-unreadable'); // empty or binary
    return [];
  }
  stats.pages++;
  const { srcs, baseHref } = pageImageSources(html);
  const out: ImageFile[] = [];
  for (const src of srcs) {
    const r = await resolveImageSource(src, { filePath: page, root, ...(baseHref === undefined ? {} : { baseHref }) });
    if ('drop' in r) count(stats.dropped, r.drop);
    else if (r.filePath !== undefined)
      out.push({ filePath: r.filePath, relPath: path.relative(realRoot, r.filePath).split(path.sep).join('/') });
    else
      out.push({
        filePath: page,
        relPath: `sha256:${createHash('sha256').update(r.bytes).digest('hex')}`,
        bytes: r.bytes,
      });
  }
  return out;
}

/** Images inside one WARC(.gz) or JSONL(.gz) file, keyed by URL. */
async function imagesOfContainer(file: string, kind: 'warc' | 'jsonl', sources: SourceStats): Promise<ImageFile[]> {
  const out: ImageFile[] = [];
  if (kind === 'warc') {
    for await (const img of readWarcImages(file, defaultWarcOptions, sources))
      out.push({ filePath: file, relPath: img.url, bytes: img.bytes });
  } else {
    for await (const page of readJsonl(file, sources)) {
      for (const [url, bytes] of Object.entries(page.images ?? {})) out.push({ filePath: file, relPath: url, bytes });
    }
  }
  return out;
}

/** Every image under `inputs` (folders or files: images, HTML pages, WARC, JSONL), in input order, then
 *  walk order, then page/container order; `stats` is filled with what was found and left out.
 *  Per input, its image files come in walk order, then the images reached through pages and containers
 *  (the first of a key wins), so a folder of plain images lists exactly as it always did. WARC/JSONL and
 *  data: images are held in memory (WARC: at most readWarc's per-file cap); files are read when used. */
export async function listImageFiles(
  inputs: string[],
  stats: ImageListStats = newImageListStats(),
): Promise<ImageFile[]> {
  const out: ImageFile[] = [];
  const seen = new Set<string>();
  const sources = newSourceStats();
  for (const input of inputs) {
    const st = await stat(input).catch(() => undefined);
    if (!st) throw new HyperlmError('INPUT_NOT_FOUND', `--images ${input}: no such file or folder`);
    const abs = path.resolve(input);
    const root = st.isFile() ? path.dirname(abs) : abs;
    const realRoot = await realpath(root);
    const later: Array<{ file: ImageFile; from: 'page' | 'container' }> = [];
    const visit = async (filePath: string, relPath: string, direct: boolean): Promise<void> => {
      const kind = fileKindForPath(filePath).kind;
      if (kind === 'html')
        for (const file of await imagesOfPage(filePath, root, realRoot, stats)) later.push({ file, from: 'page' });
      else if (kind === 'warc' || kind === 'jsonl')
        for (const file of await imagesOfContainer(filePath, kind, sources)) later.push({ file, from: 'container' });
      else if (direct || isImagePath(relPath)) {
        out.push({ filePath, relPath });
        seen.add(relPath);
        stats.files++;
      }
    };
    if (st.isFile()) await visit(abs, path.basename(abs), true);
    else
      for await (const e of walkFolder(abs, () => undefined)) await visit(path.resolve(e.filePath), e.relPath, false);
    for (const { file, from } of later) {
      if (seen.has(file.relPath)) {
        stats.duplicates++;
        continue;
      }
      seen.add(file.relPath);
      out.push(file);
      if (from === 'page') stats.fromPages++;
      else stats.fromContainers++;
    }
  }
  for (const [reason, n] of Object.entries(sources.skipped)) count(stats.dropped, reason, n);
  stats.errors += Object.values(sources.errorCounts).reduce((a, b) => a + (b ?? 0), 0);
  return out;
}

/** The encoded bytes of an image (undefined when its file cannot be read). */
export async function readImageBytes(f: ImageFile): Promise<Uint8Array | undefined> {
  return f.bytes ?? readFile(f.filePath).catch(() => undefined);
}

/**
 * True when `relPath` belongs to the held-out split (a fraction `heldOut` of all keys, by FNV hash).
 * The key is the path relative to its input root for a file (a page's local <img> resolves to the same key
 * as the file itself, so it is listed once and lands in the same split), the absolute URL for a WARC/JSONL
 * image, the content hash for a data: URI; an image added later never moves another between splits.
 */
export function isHeldOut(relPath: string, heldOut: number): boolean {
  return seedFrom('vqgan-held-out', relPath) % 10_000 < heldOut * 10_000;
}

export function splitImageFiles(files: ImageFile[], heldOut: number): { train: ImageFile[]; heldOut: ImageFile[] } {
  const train: ImageFile[] = [],
    held: ImageFile[] = [];
  for (const f of files) (isHeldOut(f.relPath, heldOut) ? held : train).push(f);
  return { train, heldOut: held };
}
