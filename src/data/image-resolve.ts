// Resolve an `<img src>` to image bytes without ever touching the network or leaving the input root.
// URLs are resolved with the WHATWG URL parser (the browser's rules: `<base href>`, `..`, `\`,
// percent-encoding). A local page is given a virtual origin `http://root.hyperlm.invalid/<relPath>`,
// so `..` can never climb above the root and `/img/a.png` means `<root>/img/a.png` (site-root
// relative, as in a mirrored site; `/etc/passwd` thus becomes `<root>/etc/passwd`, normally missing).
// `file:` URLs always drop as outside-root. After percent-decoding (which can reintroduce `..` or
// `/` via `%2F`), the path is checked lexically, then by realpath so symlinks cannot escape.
// http(s) URLs are looked up in the page's carried `images` (WARC/JSONL); otherwise 'remote'.

import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export interface ImagePage {
  /** Absolute page URL (WARC/JSONL pages). */
  url?: string;
  /** Local page path and the input root it must stay inside. */
  filePath?: string;
  root?: string;
  /** The page's `<base href>` as written, if any. */
  baseHref?: string;
  /** Images carried with the page, by absolute URL. */
  images?: Record<string, Uint8Array>;
}

export type ImageDropReason = 'outside-root' | 'remote' | 'missing' | 'bad-data-uri' | 'unsupported-scheme' | 'too-large';

/** `filePath`: for an image read from the input folder, its real path (symlinks resolved) inside the root. */
export type ResolvedImage = { bytes: Uint8Array; filePath?: string } | { drop: ImageDropReason; detail: string };

/** Local image files above this are not read (the loader's own byte limit is usually lower). */
const defaultMaxBytes = 64 * 2 ** 20;

const virtualHost = 'root.hyperlm.invalid';

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** Decode a `data:` URI body (RFC 2397): percent-decoding first, then base64 when flagged. */
export function decodeDataUri(uri: string): ResolvedImage {
  const comma = uri.indexOf(',');
  if (comma < 0) return { drop: 'bad-data-uri', detail: 'data: URI without a comma' };
  const meta = uri.slice(5, comma).toLowerCase();
  let body: Buffer;
  try {
    body = Buffer.from(decodeURIComponent(uri.slice(comma + 1)), 'latin1');
  } catch {
    return { drop: 'bad-data-uri', detail: 'bad percent-encoding in data: URI' };
  }
  if (meta.split(';').map((s) => s.trim()).includes('base64')) {
    const text = body.toString('latin1').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/\-_]*={0,2}$/.test(text)) return { drop: 'bad-data-uri', detail: 'invalid base64 in data: URI' };
    body = Buffer.from(text, 'base64');
  }
  if (body.byteLength === 0) return { drop: 'bad-data-uri', detail: 'empty data: URI' };
  return { bytes: body };
}

/** The URL every relative src is resolved against: base href over page URL (real or virtual). */
function baseUrl(page: ImagePage): URL | undefined {
  let pageUrl: URL | undefined;
  if (page.url !== undefined) {
    try { pageUrl = new URL(page.url); } catch { pageUrl = undefined; }
  } else if (page.filePath !== undefined && page.root !== undefined) {
    const rel = path.relative(page.root, page.filePath).split(path.sep).map(encodeURIComponent).join('/');
    pageUrl = new URL(`http://${virtualHost}/${rel}`);
  }
  if (page.baseHref !== undefined && page.baseHref.trim() !== '') {
    try { return new URL(page.baseHref.trim(), pageUrl); } catch { /* bad base href is ignored, as browsers do */ }
  }
  return pageUrl;
}

async function readLocal(root: string, urlPath: string, maxBytes: number): Promise<ResolvedImage> {
  let decoded: string;
  try { decoded = decodeURIComponent(urlPath); } catch { return { drop: 'missing', detail: `bad percent-encoding in ${urlPath}` }; }
  if (decoded.includes('\0')) return { drop: 'missing', detail: 'NUL in path' };
  const absRoot = path.resolve(root);
  const candidate = path.resolve(absRoot, `.${path.sep}${decoded}`);
  if (!isInside(absRoot, candidate)) return { drop: 'outside-root', detail: `${decoded} leaves the input root` };
  let real: string;
  try { real = await fs.realpath(candidate); } catch { return { drop: 'missing', detail: `${candidate} does not exist` }; }
  const realRoot = await fs.realpath(absRoot);
  if (!isInside(realRoot, real)) return { drop: 'outside-root', detail: `${candidate} links to ${real} outside the input root` };
  const stat = await fs.stat(real);
  if (!stat.isFile()) return { drop: 'missing', detail: `${candidate} is not a regular file` };
  if (stat.size > maxBytes) return { drop: 'too-large', detail: `${candidate} is ${stat.size} bytes (limit ${maxBytes})` };
  return { bytes: await fs.readFile(real), filePath: real };
}

/** Resolve one `src` for `page`; never throws for a bad src, never fetches. */
export async function resolveImageSource(src: string, page: ImagePage, opts: { maxBytes?: number } = {}): Promise<ResolvedImage> {
  const maxBytes = opts.maxBytes ?? defaultMaxBytes;
  const trimmed = src.trim();
  if (trimmed === '') return { drop: 'missing', detail: 'empty src' };
  if (/^data:/i.test(trimmed)) return decodeDataUri(trimmed);
  let url: URL;
  try {
    url = new URL(trimmed, baseUrl(page));
  } catch {
    return { drop: 'missing', detail: `cannot resolve ${JSON.stringify(src)} without a page URL` };
  }
  if (url.protocol === 'file:') return { drop: 'outside-root', detail: `file: URL ${url.href} is never read` };
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { drop: 'unsupported-scheme', detail: `${url.protocol} in ${src}` };
  if (url.hostname === virtualHost) {
    if (page.root === undefined) return { drop: 'missing', detail: `no input root for ${src}` };
    return readLocal(page.root, url.pathname, maxBytes);
  }
  url.hash = '';
  const carried = page.images?.[url.href] ?? page.images?.[trimmed];
  if (carried !== undefined) return { bytes: carried };
  return { drop: 'remote', detail: url.href };
}
