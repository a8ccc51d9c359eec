// The input side of preprocessing: turn a list of paths (folders, single files, WARC/WARC.gz,
// JSONL/JSONL.gz) into one deterministic stream of RawDocuments. Inputs are taken in byte order of
// their paths; folders are walked by walk.ts, containers are read by warc.ts and jsonl.ts.
// `index` counts documents 0.. in yield order, so a parallel pipeline can write results in order.
// It is a generator throughout: at most one file (or one WARC's buffered pages) is in memory. Files are
// stat'ed and read synchronously: fs.promises costs many times the CPU, which preprocess takes from the workers.

import { promises as fs, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { RawDocument } from './document.js';
import { HyperlmError } from '../errors.js';
import { fileKindForPath, walkFolder } from './walk.js';
import { readWarc, defaultWarcOptions, type WarcOptions } from './warc.js';
import { readJsonl } from './jsonl.js';
import { countError, countSkip, type SourceStats } from './source-stats.js';

export { newSourceStats, type SourceStats, type SourceError } from './source-stats.js';

export interface SourceOptions {
  /** Filled while the generator runs (skips by reason, counted errors); read it when done. */
  stats: SourceStats;
  /** Files larger than this are skipped as `too-large`: one minified bundle must not stall a worker. */
  maxFileBytes?: number;
  /** Read source-code files (InCoder-style data) as well as pages; off for HTML-only corpora. */
  includeCode?: boolean;
  /** Memory caps for WARC files (see warc.ts). */
  warc?: Partial<WarcOptions>;
}

/** 32 MiB: larger than any real page or source file, small enough to hold per worker. */
const defaultMaxFileBytes = 32 * 2 ** 20;

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

type Draft = Omit<RawDocument, 'index'>;

/** Documents from one file found directly or inside a folder. */
async function* readFile(filePath: string, root: string, relPath: string, opts: Required<Omit<SourceOptions, 'warc'>> & { warc: WarcOptions }): AsyncGenerator<Draft> {
  const kind = fileKindForPath(filePath);
  switch (kind.kind) {
    case 'skip':
      countSkip(opts.stats, kind.reason);
      return;
    case 'warc':
      for await (const page of readWarc(filePath, opts.warc, opts.stats)) {
        yield {
          source: `${filePath}#${page.url}`, url: page.url, kind: 'html', language: 'html', bytes: page.bytes, recordKey: `${relPath}@${page.offset}`,
          ...(page.images ? { images: page.images } : {}),
        };
      }
      return;
    case 'jsonl':
      for await (const page of readJsonl(filePath, opts.stats)) {
        const doc: Draft = { source: `${filePath}#L${page.line}`, kind: 'html', language: 'html', bytes: page.bytes, recordKey: `${relPath}:${page.line}` };
        if (page.url !== undefined) doc.url = page.url;
        if (page.images !== undefined) doc.images = page.images;
        if (page.imagesDropped !== undefined) doc.imagesDropped = page.imagesDropped;
        yield doc;
      }
      return;
    case 'html':
    case 'code': {
      if (kind.kind === 'code' && !opts.includeCode) {
        countSkip(opts.stats, 'code-disabled');
        return;
      }
      let bytes: Uint8Array;
      try {
        if (statSync(filePath).size > opts.maxFileBytes) {
          countSkip(opts.stats, 'too-large');
          return;
        }
        bytes = readFileSync(filePath);
      } catch (err) {
        countError(opts.stats, { code: 'INPUT_UNREADABLE', where: filePath, message: (err as Error).message });
        return;
      }
      const language = kind.kind === 'html' ? 'html' : kind.language;
      yield { source: filePath, kind: kind.kind, language, relPath, bytes, root, filePath };
    }
  }
}

/**
 * Stream every document of `inputs` in a deterministic order. A missing input throws
 * INPUT_NOT_FOUND before anything is yielded; everything else is counted in `opts.stats`.
 */
export async function* readSources(inputs: string[], opts: SourceOptions): AsyncGenerator<RawDocument> {
  const resolved = {
    stats: opts.stats,
    maxFileBytes: opts.maxFileBytes ?? defaultMaxFileBytes,
    includeCode: opts.includeCode ?? true,
    warc: { ...defaultWarcOptions, ...opts.warc },
  };
  if (!Number.isFinite(resolved.maxFileBytes) || resolved.maxFileBytes <= 0) {
    throw new HyperlmError('CONFIG_BAD_VALUE', `options.maxFileBytes must be a positive number, got ${opts.maxFileBytes}`);
  }
  const checked: Array<{ input: string; isDirectory: boolean }> = [];
  for (const input of [...inputs].sort(byteCompare)) {
    const absolute = path.resolve(input);
    const stat = await fs.stat(absolute).catch(() => undefined);
    if (stat === undefined) throw new HyperlmError('INPUT_NOT_FOUND', `input path ${input} does not exist`);
    checked.push({ input: absolute, isDirectory: stat.isDirectory() });
  }

  let index = 0;
  for (const { input, isDirectory } of checked) {
    const files = isDirectory
      ? walkFolder(input, (reason) => countSkip(opts.stats, reason))
      : (async function* () { yield { filePath: input, relPath: path.basename(input) }; })();
    const root = isDirectory ? input : path.dirname(input);
    for await (const { filePath, relPath } of files) {
      for await (const draft of readFile(filePath, root, relPath, resolved)) {
        opts.stats.documents++;
        yield { index: index++, ...draft };
      }
    }
  }
}
