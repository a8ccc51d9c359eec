// Counters the input readers fill while they stream: skipped files by reason and non-fatal
// errors (bad JSONL lines, truncated WARCs) with where they happened. Shared by sources.ts,
// warc.ts and jsonl.ts; the pipeline copies it into the manifest.

import type { ErrorCode } from '../errors.js';

export interface SourceError {
  code: ErrorCode;
  /** `file:line` for JSONL, `file@offset` for WARC, a path otherwise. */
  where: string;
  message: string;
}

export interface SourceStats {
  /** Files or records skipped, by reason (`extension .txt`, `symlink`, `warc-non-html`, ...). */
  skipped: Record<string, number>;
  /** Errors counted instead of thrown, by code. */
  errorCounts: Partial<Record<ErrorCode, number>>;
  /** The first `maxRecordedErrors` errors in full; the rest are only counted. */
  errors: SourceError[];
  /** Documents yielded. */
  documents: number;
}

/** Errors kept in full; a broken 10 GB crawl must not grow this list without bound. */
const maxRecordedErrors = 1000;

export function newSourceStats(): SourceStats {
  return { skipped: {}, errorCounts: {}, errors: [], documents: 0 };
}

export function countSkip(stats: SourceStats, reason: string): void {
  stats.skipped[reason] = (stats.skipped[reason] ?? 0) + 1;
}

export function countError(stats: SourceStats, error: SourceError): void {
  stats.errorCounts[error.code] = (stats.errorCounts[error.code] ?? 0) + 1;
  if (stats.errors.length < maxRecordedErrors) stats.errors.push(error);
}
