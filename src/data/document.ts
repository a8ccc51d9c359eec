// The one record type that flows through every preprocessing stage (after datatrove's `Document`):
// a reader makes a RawDocument, the worker pipeline turns it into an EncodedDocument.

/** What a page or source file is, as far as the pipeline cares. */
export type DocKind = 'html' | 'code';

/** A document as read from disk, a WARC record or a JSONL line, before any parsing. */
export interface RawDocument {
  /** Position in the deterministic input order (0-based); results are written in this order. */
  index: number;
  /** Where it came from, for the sidecar and for error messages: a file path, or `file.warc.gz#URL`. */
  source: string;
  /** The page URL when known (WARC, JSONL); pages from folders have none. */
  url?: string;
  kind: DocKind;
  /** `html`, or a code language name (`javascript`, `typescript`, `python`, ...). */
  language: string;
  /** Path relative to the input root (folders) — carried in code headers and used for `--domain-by folder`. */
  relPath?: string;
  /** Raw bytes; charset decoding happens in the worker. */
  bytes: Uint8Array;
  /** For local pages: the input root (images never resolve outside it) and the page's own path. */
  root?: string;
  filePath?: string;
  /** Images carried with the page (WARC image records, JSONL `images`), by absolute URL. */
  images?: Record<string, Uint8Array>;
  /** Carried images dropped by the reader (a JSONL value that is not base64), by reason. */
  imagesDropped?: Record<string, number>;
  /**
   * Where the record sits inside its container, relative to the input root: `crawl.warc.gz@1234`
   * (record offset) or `pages.jsonl:17` (line). Absent for a file read from a folder.
   */
  recordKey?: string;
}

/**
 * A minimized document: canonical text with holes where image codes go.
 * `segments` alternate text and image slots: `{ image: k }` refers to `images[k]` and stands
 * inside the `src="…"` attribute of its `<img>` (CM3 layout); with `--images none` there are no slots.
 */
export interface MinimizedDocument {
  segments: Array<string | { image: number }>;
  images: ImageRef[];
  /** Characters and nodes removed per rule, for the manifest. */
  stats: Record<string, { nodes: number; chars: number }>;
  /** Length of visible text divided by length of the input HTML (HTLM's filter). */
  textRatio: number;
  /** The page's first `<base href>`, as written; image `src`s are relative to it (resolve with it first). */
  baseHref?: string;
}

export interface ImageRef {
  /** The `src` as written in the page. */
  src: string;
  /** Resolved absolute file path or absolute URL, or undefined when it cannot be resolved. */
  resolved?: string;
}

/**
 * A document's identity independent of where the input lives on disk: its URL, else its path inside
 * the input root. The train/valid split and static CM3 masks are seeded by it, so moving a corpus
 * does not reshuffle them.
 */
export function documentIdentity(doc: Pick<RawDocument, 'url' | 'relPath' | 'source'>): string {
  return doc.url ?? doc.relPath ?? doc.source;
}

/**
 * The identity `--shard I/N` hashes: unique per record even when a crawl holds one URL twice, and
 * independent of where the input is mounted — the path inside the input for a file, the container's
 * path with the WARC record offset or JSONL line (and the URL) for a record.
 */
export function shardIdentity(doc: Pick<RawDocument, 'url' | 'relPath' | 'source' | 'recordKey'>): string {
  if (doc.recordKey !== undefined) return doc.url === undefined ? doc.recordKey : `${doc.recordKey}#${doc.url}`;
  return doc.relPath ?? doc.source;
}
