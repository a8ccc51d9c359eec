// The per-sequence sidecar `{prefix}.docs.jsonl` that travels with a Megatron shard (megatron.ts holds
// only token ids): line k describes sequence k of the shard — which document it came from, which part
// of a split document it is, and the document's source, kind, language, domain id and token count.
// Written with the same discipline as the shard: `{prefix}.docs.jsonl.tmp`, fsync, rename on finalize.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { HyperlmError } from '../errors.js';
import { withPath } from '../io/io-failure.js';
import type { DocKind } from '../data/document.js';

export interface SidecarRecord {
  /** Index of the document within this shard (0-based, the order of endDocument calls). */
  doc: number;
  /** Which piece of a document split by --max-doc-tokens (0 for unsplit documents). */
  part: number;
  source: string;
  url?: string;
  kind: DocKind;
  language: string;
  /** Domain id from the lead's stable domain-key mapping. */
  domain: number;
  /** Natural language of an HTML document (ISO 639-1, `und`) when preprocess ran a language filter. */
  lang?: string;
  /** Tokens in this sequence as written to the .bin (including any appended end-of-document). */
  tokens: number;
}

/** Lines buffered before a write: the sidecar is small, this only bounds syscalls. */
const FLUSH_CHARS = 1 << 16;

export function sidecarPath(prefix: string): string {
  return `${prefix}.docs.jsonl`;
}

/**
 * Writes the sidecar, one JSON object per sequence:
 *   {"doc":0,"part":0,"source":"site/a.html","kind":"html","language":"html","domain":3,"tokens":812}
 *   {"doc":0,"part":1,"source":"site/a.html","kind":"html","language":"html","domain":3,"tokens":57}
 *   {"doc":1,"part":0,"source":"c.warc.gz#https://x.de/","url":"https://x.de/","kind":"html","language":"html","lang":"de","domain":4,"tokens":90}
 * (`lang`, the natural language, only when preprocess ran with --languages.)
 */
export class SidecarWriter {
  private fd: number | null;
  private pending: string[] = [];
  private pendingChars = 0;
  private count = 0;
  private state: 'open' | 'done' | 'aborted' = 'open';

  constructor(readonly prefix: string) {
    this.fd = fs.openSync(`${sidecarPath(prefix)}.tmp`, 'w');
  }

  /** Records written so far; equals the shard's sequence count when both are driven together. */
  get length(): number {
    return this.count;
  }

  add(record: SidecarRecord): void {
    if (this.state !== 'open')
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `SidecarWriter.add: ${sidecarPath(this.prefix)} is already ${this.state}`,
      );
    const problem = checkRecord(record);
    if (problem)
      throw new HyperlmError('INPUT_BAD_RECORD', `${sidecarPath(this.prefix)}: record ${this.count}: ${problem}`);
    const { doc, part, source, url, kind, language, lang, domain, tokens } = record;
    // Fixed key order (the output must be a function of the input); optional keys only when present.
    const line =
      JSON.stringify({
        doc,
        part,
        source,
        ...(url === undefined ? {} : { url }),
        kind,
        language,
        ...(lang === undefined ? {} : { lang }),
        domain,
        tokens,
      }) + '\n';
    this.pending.push(line);
    this.pendingChars += line.length;
    this.count++;
    if (this.pendingChars >= FLUSH_CHARS) this.flush();
  }

  async finalize(): Promise<void> {
    if (this.state !== 'open')
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `SidecarWriter.finalize: ${sidecarPath(this.prefix)} is already ${this.state}`,
      );
    this.state = 'done';
    const tmp = `${sidecarPath(this.prefix)}.tmp`;
    try {
      this.flush();
      fs.fsyncSync(this.fd!);
      fs.closeSync(this.fd!);
      this.fd = null;
      await fsp.rename(tmp, sidecarPath(this.prefix));
    } catch (err) {
      this.abortFiles();
      throw withPath(err, tmp);
    }
  }

  abort(): void {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.abortFiles();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const buf = Buffer.from(this.pending.join(''), 'utf8');
    let off = 0;
    try {
      while (off < buf.length) off += fs.writeSync(this.fd!, buf, off, buf.length - off);
    } catch (err) {
      throw withPath(err, `${sidecarPath(this.prefix)}.tmp`);
    }
    this.pending = [];
    this.pendingChars = 0;
  }

  private abortFiles(): void {
    if (this.fd !== null) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* already closed */
      }
      this.fd = null;
    }
    fs.rmSync(`${sidecarPath(this.prefix)}.tmp`, { force: true });
  }
}

/** A description of what is wrong with a record, or null when it is well formed. */
function checkRecord(r: unknown): string | null {
  if (typeof r !== 'object' || r === null || Array.isArray(r)) return 'not a JSON object';
  const o = r as Record<string, unknown>;
  for (const k of ['doc', 'part', 'domain', 'tokens']) {
    if (!Number.isInteger(o[k]) || (o[k] as number) < 0)
      return `field "${k}" must be a non-negative integer, got ${JSON.stringify(o[k])}`;
  }
  for (const k of ['source', 'language']) {
    if (typeof o[k] !== 'string') return `field "${k}" must be a string, got ${JSON.stringify(o[k])}`;
  }
  if (o.url !== undefined && typeof o.url !== 'string')
    return `field "url" must be a string when present, got ${JSON.stringify(o.url)}`;
  if (o.lang !== undefined && typeof o.lang !== 'string')
    return `field "lang" must be a string when present, got ${JSON.stringify(o.lang)}`;
  if (o.kind !== 'html' && o.kind !== 'code')
    return `field "kind" must be "html" or "code", got ${JSON.stringify(o.kind)}`;
  return null;
}

/** Read a whole sidecar; a malformed line → SHARD_CORRUPT naming the file and line. */
export async function readSidecar(prefix: string): Promise<SidecarRecord[]> {
  const file = sidecarPath(prefix);
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    throw new HyperlmError('INPUT_NOT_FOUND', `${file}: cannot read sidecar (${(err as Error).message})`, {
      cause: err,
    });
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '')
    throw new HyperlmError('SHARD_CORRUPT', `${file}: last line is not newline-terminated (truncated?)`);
  lines.pop();
  return lines.map((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new HyperlmError('SHARD_CORRUPT', `${file}:${i + 1}: not valid JSON (${(err as Error).message})`, {
        cause: err,
      });
    }
    const problem = checkRecord(value);
    if (problem) throw new HyperlmError('SHARD_CORRUPT', `${file}:${i + 1}: ${problem}`);
    return value as SidecarRecord;
  });
}
