// One chunk of the output: the documents with input index in [k·shardDocs, (k+1)·shardDocs) become
// train-NNNNN and valid-NNNNN (.bin/.idx/.docs.jsonl). A chunk is the unit of resumption: its files are
// renamed into place only when it is complete, and its record in DIR/.state/chunk-NNNNN.json is
// written last, so a rerun after SIGKILL redoes at most the chunk that was in progress.
// The files are Megatron-LM's IndexedDataset pairs (preprocess_data.py writes one pair per output);
// unlike Megatron a run writes many numbered pairs plus a JSONL sidecar per document (source, URL, domain).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { IndexedDatasetWriter, splitDocument, type ShardDtype } from '../shards/megatron.js';
import { SidecarWriter } from '../shards/sidecar.js';
import type { RawDocument } from '../data/document.js';
import type { PreprocessConfig } from './config.js';
import { packKeys, type DedupVerdict, type KeptKeys } from '../filter/dedup.js';

/** What one filter step removed (summed into manifest.filters). */
export interface FilterStats {
  documents: number;
  /** Characters of the minimized documents removed. */
  chars: number;
  /** A few removed documents with what they duplicate (near dedup), for a reader to judge. */
  examples?: Array<{ source: string; duplicateOf: string }>;
}

/** Examples of near duplicates kept per chunk (the manifest keeps the first of them). */
export const FILTER_EXAMPLES = 20;
export type Split = 'train' | 'valid';

/** What the writer needs to know of a document (its bytes have gone to a worker). */
export type DocMeta = Pick<RawDocument, 'index' | 'source' | 'url' | 'kind' | 'language' | 'relPath' | 'imagesDropped'>;

/** What a finished chunk contributed, saved in its state file and summed into the manifest. */
export interface ChunkRecord {
  chunk: number;
  documentsIn: number;
  documentsOut: Record<Split, number>;
  sequences: Record<Split, number>;
  tokens: Record<Split, number>;
  skipped: Record<string, number>;
  /** Every skip with the file it names, for DIR/skipped.jsonl. */
  skips: Array<{ index: number; source: string; reason: string; detail: string }>;
  images: { encoded: number; dropped: Record<string, number> };
  minimize: Record<string, { nodes: number; chars: number }>;
  /** Input bytes of the documents in the chunk. */
  bytes: number;
  /** Domain key → id after this chunk (ids are given in order of first appearance). */
  domains: Record<string, number>;
  /** Per filter step (`language`, `dedup-exact`, `dedup-near`): documents and characters removed. */
  filters: Record<string, FilterStats>;
  /** Documents per detected language (with a language filter), kept or not. */
  languages: Record<string, number>;
  /** base64 of filter/dedup.ts packKeys for the documents this chunk indexed (rebuilds the index on resume). */
  dedupKeys?: string;
  /** Shard files written (relative to DIR). */
  files: string[];
}

export function shardName(split: Split, chunk: number): string {
  return `${split}-${String(chunk).padStart(5, '0')}`;
}

/** Deterministic split by a hash of the document's identity and the seed (stable across tokenizers). */
export function splitOf(identity: string, seed: number, validFraction: number): Split {
  const h = createHash('sha256').update(`${seed}\u0000${identity}`).digest();
  return h.readUInt32BE(0) / 2 ** 32 < validFraction ? 'valid' : 'train';
}

export function domainKey(raw: DocMeta, by: PreprocessConfig['domainBy']): string {
  switch (by) {
    case 'kind':
      return raw.kind;
    case 'host': {
      if (raw.url) {
        try {
          return new URL(raw.url).host;
        } catch {
          /* fall through to the folder */
        }
      }
      return topFolder(raw);
    }
    case 'folder':
      return topFolder(raw);
  }
}

function topFolder(raw: DocMeta): string {
  const rel = raw.relPath ?? raw.source;
  const parts = rel.split('/').filter(Boolean);
  // `html/gimp-help-en/x.html` → `html/gimp-help-en`: the first two levels name a site or package.
  return parts.length > 2 ? parts.slice(0, 2).join('/') : parts.length === 2 ? parts[0] : '.';
}

export class ChunkWriter {
  readonly record: ChunkRecord;
  /** Dedup keys of the documents indexed in this chunk, in order. */
  readonly keys: KeptKeys[] = [];
  private readonly writers = new Map<Split, { data: IndexedDatasetWriter; side: SidecarWriter }>();

  constructor(
    private readonly dir: string,
    chunk: number,
    private readonly dtype: ShardDtype,
    private readonly eos: number,
    private readonly maxDocTokens: number,
    domains: Record<string, number>,
    private readonly bands = 0,
  ) {
    this.record = {
      chunk,
      documentsIn: 0,
      documentsOut: { train: 0, valid: 0 },
      sequences: { train: 0, valid: 0 },
      tokens: { train: 0, valid: 0 },
      skipped: {},
      skips: [],
      images: { encoded: 0, dropped: {} },
      minimize: {},
      bytes: 0,
      domains: { ...domains },
      files: [],
      filters: {},
      languages: {},
    };
  }

  domainId(key: string): number {
    const d = this.record.domains;
    d[key] ??= Object.keys(d).length;
    return d[key];
  }

  /** Counts a document removed by filter step `step` (`chars` of minimized text). */
  filtered(step: string, chars: number, example?: { source: string; duplicateOf: string }): void {
    const f = (this.record.filters[step] ??= { documents: 0, chars: 0 });
    f.documents++;
    f.chars += chars;
    if (example && (f.examples ??= []).length < FILTER_EXAMPLES) f.examples.push(example);
  }

  /** Records the dedup verdict's side effects: a drop is counted and listed; keys are kept for the index file. */
  deduplicated(raw: DocMeta, verdict: DedupVerdict, chars: number): void {
    if (verdict.keep) return;
    const near = verdict.reason === 'NEAR_DUPLICATE';
    this.filtered(
      near ? 'dedup-near' : 'dedup-exact',
      chars,
      near ? { source: raw.source, duplicateOf: verdict.of } : undefined,
    );
    this.skip(raw, verdict.reason, `${raw.source}: ${near ? 'near duplicate' : 'duplicate'} of ${verdict.of}`);
  }

  /** `windows`: static CM3 windows (lengths; the last holds the eos), stored one sequence each instead of split by maxDocTokens. */
  add(split: Split, raw: DocMeta & { lang?: string }, domain: number, tokens: Int32Array, windows?: number[]): void {
    let w = this.writers.get(split);
    if (!w) {
      const prefix = join(this.dir, shardName(split, this.record.chunk));
      w = { data: new IndexedDatasetWriter(prefix, this.dtype), side: new SidecarWriter(prefix) };
      this.writers.set(split, w);
    }
    // The end-of-document token is part of the document, so no sequence exceeds maxDocTokens.
    const parts = windows
      ? windowParts(tokens, windows)
      : splitDocument(appendEos(tokens, this.eos), this.maxDocTokens);
    const doc = this.record.documentsOut[split]++;
    parts.forEach((seq, k) => {
      w.data.addSequence(seq);
      w.side.add({
        doc,
        part: k,
        source: raw.source,
        ...(raw.url ? { url: raw.url } : {}),
        kind: raw.kind,
        language: raw.language,
        lang: raw.lang,
        domain,
        tokens: seq.length,
      });
      this.record.sequences[split]++;
      this.record.tokens[split] += seq.length;
    });
    w.data.endDocument();
  }

  skip(raw: { index: number; source: string }, reason: string, detail: string): void {
    this.record.skipped[reason] = (this.record.skipped[reason] ?? 0) + 1;
    this.record.skips.push({ index: raw.index, source: raw.source, reason, detail });
  }

  /** Renames the finished shards into place (bin, idx, then sidecar). */
  async finalize(): Promise<ChunkRecord> {
    if (this.keys.length > 0) this.record.dedupKeys = packKeys(this.keys, this.bands).toString('base64');
    for (const [split, w] of [...this.writers].sort(([a], [b]) => a.localeCompare(b))) {
      await w.data.finalize();
      await w.side.finalize();
      const name = shardName(split, this.record.chunk);
      this.record.files.push(`${name}.bin`, `${name}.idx`, `${name}.docs.jsonl`);
    }
    return this.record;
  }

  abort(): void {
    for (const w of this.writers.values()) {
      w.data.abort();
      w.side.abort();
    }
  }
}

function windowParts(tokens: Int32Array, windows: number[]): Int32Array[] {
  const parts: Int32Array[] = [];
  let o = 0;
  for (const len of windows) {
    parts.push(tokens.subarray(o, o + len));
    o += len;
  }
  return parts;
}

function appendEos(tokens: Int32Array, eos: number): Int32Array {
  const out = new Int32Array(tokens.length + 1);
  out.set(tokens);
  out[tokens.length] = eos;
  return out;
}
