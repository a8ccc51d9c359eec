// WARC / WARC.gz page reader (Common Crawl layout: one gzip member per record) built on warcio's
// WARCParser. `response` records with an HTML content type become pages; image `response` records
// in the same file are kept by URL so that a page's `<img src>` can be satisfied offline. Unlike the
// folder and JSONL readers (sources.ts), a file may be read twice (images can follow their pages), and
// truncation is detected here because warcio does not raise on it. A corrupt or truncated file yields the
// records read so far and counts the error with its offset.

import { createReadStream, promises as fs } from 'node:fs';
import { WARCParser, type WARCRecord } from 'warcio';
import { countError, countSkip, type SourceStats } from './source-stats.js';
import { gzipMembers, GzipMemberError } from './gzip-members.js';

export interface WarcOptions {
  /** Total image bytes kept per WARC file: image records are held until the file ends. */
  maxImageBytesPerFile: number;
  /** A single image record larger than this is skipped unread (the loader would drop it anyway). */
  maxImageBytes: number;
  /** A gzip member inflating to more than this (a whole-file gzip, not one member per record) is streamed instead of held. */
  maxMemberBytes: number;
  /** Pages buffered during pass 1; above this a second pass streams them instead. */
  maxPageBufferBytes: number;
  /**
   * Give pages the images they mention (pass 1 collects them, see readWarc). Off (`--images none`):
   * image records are passed over and pages stream in one pass, whatever the file's size.
   */
  images: boolean;
}

export const defaultWarcOptions: WarcOptions = {
  maxImageBytesPerFile: 256 * 2 ** 20,
  maxImageBytes: 16 * 2 ** 20,
  maxMemberBytes: 64 * 2 ** 20,
  maxPageBufferBytes: 64 * 2 ** 20,
  images: true,
};

export interface WarcPage {
  url: string;
  bytes: Uint8Array;
  images?: Record<string, Uint8Array>;
  /** Byte offset of the record in the (compressed) file, for error messages. */
  offset: number;
}

type RecordClass = 'page' | 'image' | { skip: string };

function classify(record: WARCRecord): RecordClass {
  if (record.warcType !== 'response') return { skip: `warc-${record.warcType ?? 'untyped'}` };
  const http = record.httpHeaders;
  if (http === null || !record.warcTargetURI) return { skip: 'warc-not-http' };
  const status = Number(http.statusCode);
  if (!(status >= 200 && status < 300)) return { skip: 'warc-status-not-2xx' };
  const type = (http.headers.get('content-type') ?? '').toLowerCase();
  if (type.includes('text/html') || type.includes('application/xhtml+xml')) return 'page';
  if (type.startsWith('image/')) return 'image';
  return { skip: 'warc-not-html' };
}

/** Strings whose presence in a page suggests it references `url`. */
function needlesFor(url: string): string[] {
  const needles = [url];
  try {
    const u = new URL(url);
    const pathAndQuery = u.pathname + u.search;
    if (pathAndQuery.length > 1) needles.push(pathAndQuery);
    const name = u.pathname.slice(u.pathname.lastIndexOf('/') + 1);
    if (name.length > 0) needles.push(name);
  } catch {
    // not a parsable URL: the full string is the only needle
  }
  return needles;
}

function imagesFor(page: Uint8Array, images: Map<string, { bytes: Uint8Array; needles: string[] }>): Record<string, Uint8Array> | undefined {
  if (images.size === 0) return undefined;
  const text = Buffer.from(page.buffer, page.byteOffset, page.byteLength).toString('latin1');
  const out: Record<string, Uint8Array> = {};
  let any = false;
  for (const [url, image] of images) {
    if (image.needles.some((n) => text.includes(n))) {
      out[url] = image.bytes;
      any = true;
    }
  }
  return any ? out : undefined;
}

/**
 * Yield the records of one file with their offsets (of the gzip member holding the record, in a WARC.gz;
 * of the record, in a plain WARC); stops at the first parse error, which is counted (when `countErrors`)
 * with the file name and the offset of the record being read. A WARC.gz is inflated member by member
 * with native zlib (gzip-members.ts), a plain or whole-file-gzip WARC streamed through warcio.
 * warcio does not raise on truncation, so two checks detect it: a record body shorter than its
 * Content-Length (LimitReader's `limit` left over — an internal field) drops that record, and a
 * parser that stops before EOF counts the unparsable tail. Caveat: a well-formed gzip member
 * holding non-WARC text between records is skipped by warcio without any signal.
 */
async function* records(file: string, opts: WarcOptions, stats: SourceStats, countErrors: boolean): AsyncGenerator<{ record: WARCRecord; offset: number }> {
  const where = (offset: number): string => `${file}@${offset}`;
  const bad = (offset: number, message: string): void => {
    if (countErrors) countError(stats, { code: 'INPUT_BAD_RECORD', where: where(offset), message });
  };
  // Member starts: [offset in the inflated stream, offset in the file], for records to name their member.
  const starts: Array<[number, number]> = [];
  let stopped: GzipMemberError | undefined;
  async function* inflated(): AsyncGenerator<Buffer> {
    let at = 0;
    try {
      for await (const m of gzipMembers(file, opts.maxMemberBytes)) {
        starts.push([at, m.offset]);
        at += m.data.length;
        yield m.data;
      }
    } catch (err) {
      if (!(err instanceof GzipMemberError)) throw err;
      stopped = err;
    }
  }
  let offset = 0;
  try {
    const parser = new WARCParser(inflated());
    for await (const record of parser) {
      // members wholly behind this record are done with; the first left holds it
      while (starts.length > 1 && starts[1][0] <= parser.offset) starts.shift();
      offset = starts[0][1];
      yield { record, offset };
    }
  } catch (err) {
    bad(offset, `corrupt WARC, stopped after offset ${offset}: ${(err as Error).message}`);
    return;
  }
  if (stopped === undefined) return;
  if (stopped.reason === 'too-large' || stopped.offset === 0) {
    // A plain WARC, or one gzip member for many records: warcio streams it from there.
    yield* streamed(file, stopped.offset, bad);
    return;
  }
  const size = (await fs.stat(file)).size;
  bad(
    stopped.offset,
    stopped.reason === 'corrupt'
      ? `corrupt WARC, stopped after offset ${stopped.offset}: ${stopped.message}`
      : `WARC ends with ${size - stopped.offset} unparsable bytes (truncated?)`,
  );
}

/** Records of `file` from byte `start` through warcio (which inflates gzip itself), offsets as warcio reports them. */
async function* streamed(file: string, start: number, bad: (offset: number, message: string) => void): AsyncGenerator<{ record: WARCRecord; offset: number }> {
  const parser = new WARCParser(createReadStream(file, { start }));
  let offset = start;
  try {
    for await (const record of parser) {
      offset = start + parser.offset;
      yield { record, offset };
    }
    const size = (await fs.stat(file)).size;
    // warcio ends quietly when a gzip member is cut short: the next record's offset is before EOF.
    if (start + parser.offset < size) bad(start + parser.offset, `WARC ends with ${size - start - parser.offset} unparsable bytes (truncated?)`);
  } catch (err) {
    bad(offset, `corrupt WARC, stopped after offset ${offset}: ${(err as Error).message}`);
  }
}

/** The decoded HTTP payload, or undefined (counted) when the record body cannot be read. */
async function payload(record: WARCRecord, where: string, stats: SourceStats, countErrors: boolean): Promise<Uint8Array | undefined> {
  try {
    const bytes = await record.readFully(true);
    // A body cut short ends quietly too; warcio's LimitReader keeps the bytes still owed in `limit`.
    const owed = (record._reader as { limit?: unknown }).limit;
    if (typeof owed === 'number' && owed > 0) {
      if (countErrors) countError(stats, { code: 'INPUT_BAD_RECORD', where, message: `record truncated: ${owed} bytes of its Content-Length missing` });
      return undefined;
    }
    return bytes;
  } catch (err) {
    if (countErrors) countError(stats, { code: 'INPUT_BAD_RECORD', where, message: `unreadable record body: ${(err as Error).message}` });
    return undefined;
  }
}

export interface WarcImage {
  url: string;
  bytes: Uint8Array;
  /** Byte offset of the record in the (compressed) file. */
  offset: number;
}

/**
 * Stream the image records (2xx `response`, Content-Type image/*) of one WARC(.gz) file in record order,
 * whether or not a page mentions them: the image tokenizer's training images. The caps are readWarc's:
 * a record over `maxImageBytes`, or past `maxImageBytesPerFile` in this file, is skipped and counted.
 */
export async function* readWarcImages(file: string, opts: WarcOptions, stats: SourceStats): AsyncGenerator<WarcImage> {
  const budget = { bytes: 0 };
  for await (const { record, offset } of records(file, opts, stats, true)) {
    if (classify(record) !== 'image') continue;
    const bytes = await cappedImage(record, `${file}@${offset}`, opts, stats, budget);
    if (bytes !== undefined) yield { url: record.warcTargetURI as string, bytes, offset };
  }
}

/**
 * An image record's body within the caps — `maxImageBytes` per record, `maxImageBytesPerFile` summed in
 * `budget` over one file — or undefined: over a cap (counted as a skip) or unreadable (counted as an error).
 */
async function cappedImage(record: WARCRecord, where: string, opts: WarcOptions, stats: SourceStats, budget: { bytes: number }): Promise<Uint8Array | undefined> {
  if (record.warcContentLength > opts.maxImageBytes || budget.bytes >= opts.maxImageBytesPerFile) {
    countSkip(stats, 'warc-image-over-cap');
    return undefined;
  }
  const bytes = await payload(record, where, stats, true);
  if (bytes === undefined) return undefined;
  if (budget.bytes + bytes.byteLength > opts.maxImageBytesPerFile) {
    countSkip(stats, 'warc-image-over-cap');
    return undefined;
  }
  budget.bytes += bytes.byteLength;
  return bytes;
}

/**
 * Stream the HTML pages of one WARC(.gz) file in record order, each with the images it mentions.
 * Images may come after the pages that use them, so pass 1 reads the whole file once, keeping image
 * payloads (bounded by `maxImageBytesPerFile`, overflow counted) and buffering pages while they fit
 * in `maxPageBufferBytes`. If the pages fit, they are yielded from the buffer; if not, the buffer is
 * dropped and pass 2 re-reads the file yielding pages one by one (memory stays bounded, at the cost
 * of decompressing twice). Each page gets the images whose URL (or path, or file name) occurs in its
 * bytes — a cheap over-approximation; image-resolve.ts does the real URL matching. With `images` off,
 * pages stream in one pass and image records are passed over.
 */
export async function* readWarc(file: string, opts: WarcOptions, stats: SourceStats): AsyncGenerator<WarcPage> {
  const images = new Map<string, { bytes: Uint8Array; needles: string[] }>();
  const imageBudget = { bytes: 0 };
  // Without images nothing can follow a page that it needs: stream from the start (the buffer is never filled).
  let buffered: WarcPage[] | undefined = opts.images ? [] : undefined;
  let bufferedBytes = 0;

  for await (const { record, offset } of records(file, opts, stats, true)) {
    const kind = classify(record);
    if (typeof kind === 'object') {
      countSkip(stats, kind.skip);
    } else if (kind === 'image') {
      if (!opts.images) continue;
      const bytes = await cappedImage(record, `${file}@${offset}`, opts, stats, imageBudget);
      if (bytes === undefined) continue;
      const url = record.warcTargetURI as string;
      images.set(url, { bytes, needles: needlesFor(url) });
    } else if (!opts.images) {
      const bytes = await payload(record, `${file}@${offset}`, stats, true);
      if (bytes !== undefined) yield { url: record.warcTargetURI as string, bytes, offset };
    } else if (buffered !== undefined) {
      const bytes = await payload(record, `${file}@${offset}`, stats, true);
      if (bytes === undefined) continue;
      bufferedBytes += bytes.byteLength;
      if (bufferedBytes > opts.maxPageBufferBytes) buffered = undefined;
      else buffered.push({ url: record.warcTargetURI as string, bytes, offset });
    }
  }

  const withImages = (page: WarcPage): WarcPage => {
    const pageImages = imagesFor(page.bytes, images);
    return pageImages === undefined ? page : { ...page, images: pageImages };
  };
  if (!opts.images) return;
  if (buffered !== undefined) {
    for (const page of buffered) yield withImages(page);
    return;
  }
  // Pass 2: the pages did not fit in the buffer; stream them. Errors were counted in pass 1.
  for await (const { record, offset } of records(file, opts, stats, false)) {
    if (classify(record) !== 'page') continue;
    const bytes = await payload(record, `${file}@${offset}`, stats, false);
    if (bytes !== undefined) yield withImages({ url: record.warcTargetURI as string, bytes, offset });
  }
}
