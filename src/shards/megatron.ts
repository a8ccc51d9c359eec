// Megatron-LM's MMapIndexedDataset shards, byte-compatible with megatron/core/datasets/indexed_dataset.py
// (`_IndexWriter` / `_IndexReader`), so shards written here load in Megatron and vice versa.
// Unlike sidecar.ts (per-sequence JSON metadata) this file holds only token ids. Unlike Megatron's writer,
// writes stream to `.bin.tmp` through a fixed buffer and become visible by rename on finalize (.bin first,
// .idx last), so a reader never sees a half-written shard under the final names.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { HyperlmError } from '../errors.js';
import { withPath } from '../io/io-failure.js';

export type ShardDtype = 'uint16' | 'int32';

const MAGIC = Buffer.from('MMIDIDX\x00\x00', 'latin1');
const HEADER_BYTES = 34;
const DTYPE_CODE: Record<ShardDtype, number> = { uint16: 8, int32: 4 };
const ITEM_SIZE: Record<ShardDtype, number> = { uint16: 2, int32: 4 };
const RANGE: Record<ShardDtype, [number, number]> = { uint16: [0, 0xffff], int32: [-0x80000000, 0x7fffffff] };
/** Bytes buffered before a write to .bin.tmp: large enough to amortize syscalls, small enough not to matter. */
const FLUSH_BYTES = 1 << 20;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Split a document longer than `maxDocTokens` into consecutive sequences of at most that length
 * (views, not copies). An empty document gives one empty sequence, so the caller always has a
 * last sequence to append the end-of-document token to.
 */
export function splitDocument(tokens: Int32Array, maxDocTokens: number): Int32Array[] {
  if (!Number.isInteger(maxDocTokens) || maxDocTokens < 1) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `splitDocument: maxDocTokens must be a positive integer, got ${maxDocTokens}`,
    );
  }
  if (tokens.length === 0) return [tokens.subarray(0, 0)];
  const parts: Int32Array[] = [];
  for (let s = 0; s < tokens.length; s += maxDocTokens) parts.push(tokens.subarray(s, s + maxDocTokens));
  return parts;
}

export class IndexedDatasetWriter {
  private readonly itemSize: number;
  private readonly buffer: Buffer;
  private used = 0;
  private fd: number | null;
  private readonly lengths: number[] = [];
  private readonly documentIndices: number[] = [0];
  private state: 'open' | 'done' | 'aborted' = 'open';

  constructor(
    readonly prefix: string,
    readonly dtype: ShardDtype,
  ) {
    if (!(dtype in DTYPE_CODE))
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `IndexedDatasetWriter: dtype must be 'uint16' or 'int32', got ${JSON.stringify(dtype)}`,
      );
    this.itemSize = ITEM_SIZE[dtype];
    this.buffer = Buffer.alloc(FLUSH_BYTES);
    this.fd = fs.openSync(`${prefix}.bin.tmp`, 'w');
  }

  get sequenceCount(): number {
    return this.lengths.length;
  }

  /** Append one sequence; every token must fit the dtype (checked before anything is written). */
  addSequence(tokens: ArrayLike<number>): void {
    this.assertOpen('addSequence');
    const [lo, hi] = RANGE[this.dtype];
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (!Number.isInteger(t) || t < lo || t > hi) {
        throw new HyperlmError(
          'SHARD_BAD_TOKEN',
          `${this.prefix}.bin: token ${t} at position ${i} of sequence ${this.lengths.length} does not fit ${this.dtype} [${lo}, ${hi}]`,
        );
      }
    }
    // Checked above, so a typed array's element conversion is exact: copy through a view of the buffer
    // (the files are little-endian, like every platform Node runs on; LITTLE_ENDIAN guards the rest).
    const View = this.itemSize === 2 ? Uint16Array : Int32Array;
    for (let i = 0; i < tokens.length;) {
      if (this.used + this.itemSize > this.buffer.length) this.flush();
      const n = Math.min(tokens.length - i, (this.buffer.length - this.used) / this.itemSize);
      if (LITTLE_ENDIAN && ArrayBuffer.isView(tokens)) {
        new View(this.buffer.buffer as ArrayBuffer, this.buffer.byteOffset + this.used, n).set(
          (tokens as unknown as Int32Array).subarray(i, i + n),
        );
      } else {
        for (let k = 0; k < n; k++) {
          const at = this.used + k * this.itemSize;
          if (this.itemSize === 2) this.buffer.writeUInt16LE(tokens[i + k], at);
          else this.buffer.writeInt32LE(tokens[i + k], at);
        }
      }
      this.used += n * this.itemSize;
      i += n;
    }
    this.lengths.push(tokens.length);
  }

  /** Close the current document: the sequences added since the last call form one document (may be none). */
  endDocument(): void {
    this.assertOpen('endDocument');
    this.documentIndices.push(this.lengths.length);
  }

  /** Write the index and publish both files; sequences added after the last endDocument form a final document. */
  async finalize(): Promise<void> {
    this.assertOpen('finalize');
    if (this.documentIndices[this.documentIndices.length - 1] !== this.lengths.length) this.endDocument();
    this.state = 'done';
    let file = `${this.prefix}.bin.tmp`; // the file an fd-based failure is about
    try {
      this.flush();
      fs.fsyncSync(this.fd!);
      fs.closeSync(this.fd!);
      this.fd = null;
      const idx = this.encodeIndex();
      file = `${this.prefix}.idx.tmp`;
      const fh = await fsp.open(file, 'w');
      try {
        await fh.writeFile(idx);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(`${this.prefix}.bin.tmp`, `${this.prefix}.bin`);
      await fsp.rename(`${this.prefix}.idx.tmp`, `${this.prefix}.idx`);
      await syncDirectory(path.dirname(path.resolve(this.prefix)));
    } catch (err) {
      this.removeTemps();
      throw withPath(err, file);
    }
  }

  /** Drop everything written so far; the final names are never touched. */
  abort(): void {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.removeTemps();
  }

  private encodeIndex(): Buffer {
    return encodeIndex(this.dtype, this.lengths, this.documentIndices);
  }

  private flush(): void {
    let off = 0;
    try {
      while (off < this.used) off += fs.writeSync(this.fd!, this.buffer, off, this.used - off);
    } catch (err) {
      throw withPath(err, `${this.prefix}.bin.tmp`);
    }
    this.used = 0;
  }

  private removeTemps(): void {
    if (this.fd !== null) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* already closed */
      }
      this.fd = null;
    }
    for (const f of [`${this.prefix}.bin.tmp`, `${this.prefix}.idx.tmp`]) fs.rmSync(f, { force: true });
  }

  private assertOpen(what: string): void {
    if (this.state !== 'open')
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `IndexedDatasetWriter.${what}: writer for ${this.prefix} is already ${this.state === 'done' ? 'finalized' : 'aborted'}`,
      );
  }
}

/**
 * The .idx bytes for sequences of `lengths` tokens stored back to back in .bin, and `documentIndices`
 * (0, then the sequence count after each document). Shared with merge-datasets.ts.
 *
 * {prefix}.bin — the tokens of every sequence, concatenated, little-endian, no header.
 * {prefix}.idx — all little-endian:
 *   offset 0   9 bytes   magic  b"MMIDIDX\x00\x00"
 *   offset 9   u64       version = 1
 *   offset 17  u8        dtype code: uint8=1 int8=2 int16=3 int32=4 int64=5 float64=6 float32=7 uint16=8
 *   offset 18  u64       S = sequence count
 *   offset 26  u64       D = len(document_indices) = documents + 1
 *   offset 34  i32[S]    sequence lengths, in tokens
 *              i64[S]    sequence pointers, byte offsets into .bin (running sum of length·itemsize)
 *              i64[D]    document indices: 0, then the sequence count after each document ends,
 *                        so document d is sequences [doc[d], doc[d+1]) and doc[D-1] = S
 *              (i8[S]    sequence modes — multimodal Megatron only; never written, tolerated on read)
 */
export function encodeIndex(dtype: ShardDtype, lengths: ArrayLike<number>, documentIndices: ArrayLike<number>): Buffer {
  const S = lengths.length;
  const D = documentIndices.length;
  const itemSize = ITEM_SIZE[dtype];
  const buf = Buffer.alloc(HEADER_BYTES + 12 * S + 8 * D);
  MAGIC.copy(buf, 0);
  buf.writeBigUInt64LE(1n, 9);
  buf.writeUInt8(DTYPE_CODE[dtype], 17);
  buf.writeBigUInt64LE(BigInt(S), 18);
  buf.writeBigUInt64LE(BigInt(D), 26);
  let o = HEADER_BYTES;
  for (let i = 0; i < S; i++) {
    buf.writeInt32LE(lengths[i], o);
    o += 4;
  }
  let pointer = 0;
  for (let i = 0; i < S; i++) {
    buf.writeBigInt64LE(BigInt(pointer), o);
    o += 8;
    pointer += lengths[i] * itemSize;
  }
  for (let i = 0; i < D; i++) {
    buf.writeBigInt64LE(BigInt(documentIndices[i]), o);
    o += 8;
  }
  return buf;
}

/** fsync a directory so the renames survive a crash; not supported everywhere, so failures are ignored. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* best effort */
  }
}

const READ_DTYPES: Record<number, { name: string; size: number; read: (b: Buffer, o: number) => number }> = {
  1: { name: 'uint8', size: 1, read: (b, o) => b.readUInt8(o) },
  2: { name: 'int8', size: 1, read: (b, o) => b.readInt8(o) },
  3: { name: 'int16', size: 2, read: (b, o) => b.readInt16LE(o) },
  4: { name: 'int32', size: 4, read: (b, o) => b.readInt32LE(o) },
  8: { name: 'uint16', size: 2, read: (b, o) => b.readUInt16LE(o) },
};

export class IndexedDataset {
  private constructor(
    readonly prefix: string,
    /** Megatron dtype name of the .bin items (written here: 'uint16' or 'int32'). */
    readonly dtype: string,
    private readonly itemSize: number,
    private readonly read: (b: Buffer, o: number) => number,
    private readonly lengths: Int32Array,
    private readonly pointers: Float64Array,
    private readonly docIndices: Float64Array,
    private readonly bin: fsp.FileHandle,
  ) {}

  /** Open `{prefix}.idx` (read whole, it is small) and `{prefix}.bin` (read per sequence). */
  static async open(prefix: string): Promise<IndexedDataset> {
    const idxPath = `${prefix}.idx`;
    const binPath = `${prefix}.bin`;
    const corrupt = (file: string, why: string): never => {
      throw new HyperlmError('SHARD_CORRUPT', `${file}: ${why}`);
    };
    let idx: Buffer;
    try {
      idx = await fsp.readFile(idxPath);
    } catch (err) {
      throw new HyperlmError('INPUT_NOT_FOUND', `${idxPath}: cannot read shard index (${(err as Error).message})`, {
        cause: err,
      });
    }
    if (idx.length < HEADER_BYTES)
      corrupt(idxPath, `${idx.length} bytes, shorter than the ${HEADER_BYTES}-byte header`);
    if (!idx.subarray(0, 9).equals(MAGIC))
      corrupt(idxPath, `bad magic ${JSON.stringify(idx.subarray(0, 9).toString('latin1'))}, expected "MMIDIDX\\0\\0"`);
    const version = idx.readBigUInt64LE(9);
    if (version !== 1n) corrupt(idxPath, `version ${version}, expected 1`);
    const code = idx.readUInt8(17);
    const dt = READ_DTYPES[code];
    if (!dt) corrupt(idxPath, `dtype code ${code} is not an integer token dtype this reader supports`);
    const S = Number(idx.readBigUInt64LE(18));
    const D = Number(idx.readBigUInt64LE(26));
    const expected = HEADER_BYTES + 12 * S + 8 * D;
    if (D < 1) corrupt(idxPath, `document index count ${D}, expected at least 1 (the leading 0)`);
    if (idx.length !== expected && idx.length !== expected + S) {
      corrupt(
        idxPath,
        `${idx.length} bytes, expected ${expected} for ${S} sequences and ${D} document indices (truncated or trailing data)`,
      );
    }
    const lengths = new Int32Array(S);
    const pointers = new Float64Array(S);
    const docIndices = new Float64Array(D);
    let o = HEADER_BYTES;
    for (let i = 0; i < S; i++, o += 4) lengths[i] = idx.readInt32LE(o);
    for (let i = 0; i < S; i++, o += 8) pointers[i] = Number(idx.readBigInt64LE(o));
    for (let i = 0; i < D; i++, o += 8) docIndices[i] = Number(idx.readBigInt64LE(o));
    if (docIndices[0] !== 0) corrupt(idxPath, `document_indices[0] is ${docIndices[0]}, expected 0`);
    for (let i = 1; i < D; i++) {
      if (docIndices[i] < docIndices[i - 1])
        corrupt(idxPath, `document_indices decrease at ${i} (${docIndices[i - 1]} → ${docIndices[i]})`);
    }
    if (docIndices[D - 1] !== S)
      corrupt(idxPath, `last document index is ${docIndices[D - 1]}, expected the sequence count ${S}`);

    let binSize: number;
    try {
      binSize = (await fsp.stat(binPath)).size;
    } catch (err) {
      throw new HyperlmError('INPUT_NOT_FOUND', `${binPath}: cannot stat shard data (${(err as Error).message})`, {
        cause: err,
      });
    }
    for (let i = 0; i < S; i++) {
      if (lengths[i] < 0) corrupt(idxPath, `sequence ${i} has negative length ${lengths[i]}`);
      const end = pointers[i] + lengths[i] * dt.size;
      if (pointers[i] < 0 || end > binSize)
        corrupt(
          binPath,
          `sequence ${i} spans bytes [${pointers[i]}, ${end}) but the file has ${binSize} bytes (truncated?)`,
        );
    }
    const bin = await fsp.open(binPath, 'r');
    return new IndexedDataset(prefix, dt.name, dt.size, dt.read, lengths, pointers, docIndices, bin);
  }

  get sequenceCount(): number {
    return this.lengths.length;
  }

  /** Number of documents (the header's count minus the leading 0 of document_indices). */
  get documentCount(): number {
    return this.docIndices.length - 1;
  }

  sequenceLength(i: number): number {
    this.checkIndex(i, this.lengths.length, 'sequence');
    return this.lengths[i];
  }

  /** Sequences of document d as a half-open range [start, end). */
  documentSequences(d: number): [number, number] {
    this.checkIndex(d, this.documentCount, 'document');
    return [this.docIndices[d], this.docIndices[d + 1]];
  }

  /** Bytes of .bin holding document d's sequences, as [start, end) (sequences of a document are contiguous). */
  documentBytes(d: number): [number, number] {
    const [first, end] = this.documentSequences(d);
    if (first === end) return [0, 0];
    return [this.pointers[first], this.pointers[end - 1] + this.lengths[end - 1] * this.itemSize];
  }

  /** Read one sequence with a positioned read. */
  async getSequence(i: number): Promise<Int32Array> {
    this.checkIndex(i, this.lengths.length, 'sequence');
    const bytes = this.lengths[i] * this.itemSize;
    const buf = Buffer.alloc(bytes);
    let got = 0;
    while (got < bytes) {
      const { bytesRead } = await this.bin.read(buf, got, bytes - got, this.pointers[i] + got);
      if (bytesRead === 0)
        throw new HyperlmError(
          'SHARD_CORRUPT',
          `${this.prefix}.bin: sequence ${i} ends after ${got} of ${bytes} bytes (file shrank since open?)`,
        );
      got += bytesRead;
    }
    const out = new Int32Array(this.lengths[i]);
    for (let k = 0; k < out.length; k++) out[k] = this.read(buf, k * this.itemSize);
    return out;
  }

  async close(): Promise<void> {
    await this.bin.close();
  }

  private checkIndex(i: number, n: number, what: string): void {
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      throw new HyperlmError('CONFIG_BAD_VALUE', `${this.prefix}: ${what} index ${i} out of range [0, ${n})`);
    }
  }
}
