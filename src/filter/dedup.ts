// The deduplication index of one run (main thread, documents in input order, so the first copy is
// kept whatever the worker count): exact duplicates by a 128-bit hash of the minimized document,
// near duplicates by MinHash band keys (minhash.ts). Every document that passed the earlier filters is
// indexed, a dropped near-duplicate included, so a chain of near copies A ≈ B ≈ C keeps only A
// (datatrove clusters the same way). The keys of each finished chunk are saved with it, so a resumed run
// starts with the index it had, and published as DIR/dedup.bin for `npm run merge` (across shards).
import { HyperlmError } from '../errors.js';

export type DedupMode = 'exact' | 'near' | 'none';

export interface DedupKeys {
  /** base64 of the first 16 bytes of sha256 of the canonical document. */
  exact: string;
  /** One key per band (near mode, documents with at least `ngrams` words), else empty. */
  bands: number[];
}

export type DedupVerdict = { keep: true } | { keep: false; reason: 'DUPLICATE' | 'NEAR_DUPLICATE'; of: string };

/** Memory: ~0.1 KB per document for exact, ~0.7 KB more for near (14 Map entries): 1M documents per shard ≈ 0.8 GB. */
export class DedupIndex {
  private readonly exact = new Map<string, string>();
  private readonly bands: Array<Map<number, string>>;

  constructor(
    readonly mode: DedupMode,
    bandCount: number,
  ) {
    this.bands = Array.from({ length: mode === 'near' ? bandCount : 0 }, () => new Map());
  }

  /** Checks a document against everything indexed before it, then indexes it; `source` names it in verdicts. */
  check(keys: DedupKeys, source: string): DedupVerdict {
    if (this.mode === 'none') return { keep: true };
    const same = this.exact.get(keys.exact);
    if (same !== undefined) return { keep: false, reason: 'DUPLICATE', of: same };
    this.exact.set(keys.exact, source);
    let near: string | undefined;
    for (let b = 0; b < this.bands.length && b < keys.bands.length; b++) {
      const seen = this.bands[b].get(keys.bands[b]);
      if (seen !== undefined) near ??= seen;
      else this.bands[b].set(keys.bands[b], source);
    }
    return near === undefined ? { keep: true } : { keep: false, reason: 'NEAR_DUPLICATE', of: near };
  }
}

const MAGIC = Buffer.from('HLMDDUP1', 'latin1');

/** One indexed document's keys with the split it went to (`dropped`: a near duplicate, indexed, not written). */
export interface KeptKeys extends DedupKeys {
  split: 'train' | 'valid' | 'dropped';
  chars: number;
}

const SPLIT_CODE = { train: 0, valid: 1, dropped: 2 } as const;
const SPLITS = ['train', 'valid', 'dropped'] as const;

export function entryBytes(bands: number): number {
  return 21 + 8 * bands;
}

/**
 * Packs indexed documents' keys (a chunk's, or a whole run's for dedup.bin) with the header.
 * DIR/dedup.bin — little-endian: magic "HLMDDUP1", u32 bands, u32 entries, then per kept document in
 * index order: u8 split (0 train, 1 valid, 2 indexed but dropped as a near duplicate), u32 characters
 * of the minimized document, 16 bytes exact hash, bands × f64 band keys. Train and valid entries are in
 * the order of the documents in the shards.
 */
export function packKeys(entries: KeptKeys[], bands: number): Buffer {
  const size = entryBytes(bands);
  const buf = Buffer.alloc(16 + entries.length * size);
  MAGIC.copy(buf, 0);
  buf.writeUInt32LE(bands, 8);
  buf.writeUInt32LE(entries.length, 12);
  entries.forEach((e, i) => {
    const o = 16 + i * size;
    buf.writeUInt8(SPLIT_CODE[e.split], o);
    buf.writeUInt32LE(Math.min(e.chars, 0xffffffff), o + 1);
    Buffer.from(e.exact, 'base64').copy(buf, o + 5, 0, 16);
    for (let b = 0; b < bands; b++) buf.writeDoubleLE(e.bands[b] ?? 0, o + 21 + 8 * b);
  });
  return buf;
}

/** The inverse of packKeys; `file` names the source in errors. A band key of 0 means "no key". */
export function unpackKeys(buf: Buffer, file: string): KeptKeys[] {
  if (buf.length < 16 || !buf.subarray(0, 8).equals(MAGIC))
    throw new HyperlmError('SHARD_CORRUPT', `${file}: not a hyperlm dedup file (bad magic)`);
  const bands = buf.readUInt32LE(8);
  const n = buf.readUInt32LE(12);
  const size = entryBytes(bands);
  if (buf.length !== 16 + n * size)
    throw new HyperlmError(
      'SHARD_CORRUPT',
      `${file}: ${buf.length} bytes, expected ${16 + n * size} for ${n} entries of ${bands} bands`,
    );
  const out: KeptKeys[] = [];
  for (let i = 0; i < n; i++) {
    const o = 16 + i * size;
    const keys: number[] = [];
    for (let b = 0; b < bands; b++) keys.push(buf.readDoubleLE(o + 21 + 8 * b));
    const split = SPLITS[buf.readUInt8(o)];
    if (split === undefined)
      throw new HyperlmError('SHARD_CORRUPT', `${file}: entry ${i} has split code ${buf.readUInt8(o)}`);
    out.push({
      split,
      chars: buf.readUInt32LE(o + 1),
      exact: buf.subarray(o + 5, o + 21).toString('base64'),
      bands: keys.every((k) => k === 0) ? [] : keys,
    });
  }
  return out;
}
