// JSONL page reader: one page per line, `{"url": string, "html": string,
// "images"?: {absoluteUrl: base64}}`, optionally gzip-compressed (`.jsonl.gz`).
// Streams line by line; a bad line is counted as INPUT_BAD_RECORD with `file:line`, never thrown.
// An `images` value that is not base64 drops that image only (counted on the page as `not-base64`,
// like a corrupt image file): the page keeps its text.
// Unlike warc.ts the images travel inside the record, so nothing is buffered across lines.

import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { countError, type SourceStats } from './source-stats.js';

export interface JsonlPage {
  /** 1-based line number, for `source`. */
  line: number;
  url?: string;
  bytes: Uint8Array;
  images?: Record<string, Uint8Array>;
  /** Images of the record dropped while reading it, by reason (`not-base64`). */
  imagesDropped?: Record<string, number>;
}

const base64Pattern = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;

/** Validate one parsed line; returns the page or a message naming the bad field. */
function toPage(value: unknown, line: number): JsonlPage | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'line is not a JSON object';
  const record = value as Record<string, unknown>;
  if (typeof record.html !== 'string') return 'field "html" must be a string';
  if (record.url !== undefined && typeof record.url !== 'string') return 'field "url" must be a string';
  const page: JsonlPage = { line, bytes: Buffer.from(record.html, 'utf8') };
  if (record.url !== undefined) page.url = record.url;
  if (record.images !== undefined) {
    if (typeof record.images !== 'object' || record.images === null || Array.isArray(record.images)) {
      return 'field "images" must be an object of url → base64';
    }
    const images: Record<string, Uint8Array> = {};
    let bad = 0;
    for (const [url, data] of Object.entries(record.images)) {
      if (typeof data !== 'string' || !base64Pattern.test(data)) { bad++; continue; }
      images[url] = Buffer.from(data, 'base64');
    }
    page.images = images;
    if (bad > 0) page.imagesDropped = { 'not-base64': bad };
  }
  return page;
}

/** Stream the pages of one JSONL(.gz) file in line order; blank lines are ignored. */
export async function* readJsonl(file: string, stats: SourceStats): AsyncGenerator<JsonlPage> {
  let input: Readable = createReadStream(file);
  if (file.toLowerCase().endsWith('.gz')) input = input.pipe(createGunzip());
  // A gunzip error (truncated file) is raised on the gunzip stream, not the file stream.
  let streamError: Error | undefined;
  input.on('error', (err: Error) => { streamError = err; });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) {
      line++;
      if (text.trim() === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        countError(stats, { code: 'INPUT_BAD_RECORD', where: `${file}:${line}`, message: `invalid JSON: ${(err as Error).message}` });
        continue;
      }
      const page = toPage(parsed, line);
      if (typeof page === 'string') {
        countError(stats, { code: 'INPUT_BAD_RECORD', where: `${file}:${line}`, message: page });
        continue;
      }
      yield page;
    }
  } catch (err) {
    streamError ??= err as Error;
  } finally {
    lines.close();
    input.destroy();
  }
  if (streamError !== undefined) {
    countError(stats, { code: 'INPUT_UNREADABLE', where: `${file}:${line}`, message: `stopped reading: ${streamError.message}` });
  }
}
