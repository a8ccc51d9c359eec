// The members of a multi-member gzip file, each inflated by Node's native zlib (synchronously: through the
// thread pool, one round trip per ~5 KB member made reading 3× slower, BENCHMARKS.md),
// with the compressed offset it starts at. Common Crawl's WARC.gz holds one member per record, and the
// member offset is what its CDX indexes and `file@offset` error messages name. warcio inflates with pako
// in the calling thread, 4× slower than zlib here, and on 2 cores that thread is the one handing documents
// to the workers (BENCHMARKS.md, "Measurements behind design choices"). Gzip framing after RFC 1952.
import { open, type FileHandle } from 'node:fs/promises';
import { crc32, inflateRawSync, type ZlibOptions } from 'node:zlib';

const inflateRawInfo = inflateRawSync as unknown as (
  buf: Uint8Array,
  opts: ZlibOptions & { info: true },
) => { buffer: Buffer; engine: { bytesWritten: number } };

/** Bytes read from the file at a time. */
const READ_BYTES = 4 << 20;

export interface GzipMember {
  /** Offset of the member's first byte in the compressed file. */
  offset: number;
  data: Buffer;
}

/** Why reading stopped early: a member larger than the limit (read it with a streaming inflater instead), or bad bytes. */
export class GzipMemberError extends Error {
  constructor(
    readonly offset: number,
    readonly reason: 'too-large' | 'truncated' | 'corrupt' | 'not-gzip',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Yields the members of `file` in order. Stops with a GzipMemberError at the first member that is
 * truncated, corrupt (bad deflate data, CRC or length), not gzip at all, or inflates to more than
 * `maxMemberBytes` (a whole-file gzip; the caller then streams it). Members already yielded stay valid.
 */
export async function* gzipMembers(file: string, maxMemberBytes: number): AsyncGenerator<GzipMember> {
  const fh = await open(file, 'r');
  try {
    const reader = new BlockReader(fh);
    for (;;) {
      await reader.want(1);
      if (reader.available === 0) return;
      const offset = reader.fileOffset;
      const headerBytes = await reader.gzipHeader();
      if (headerBytes === undefined) {
        throw new GzipMemberError(offset, 'not-gzip', `no gzip member at offset ${offset}`);
      }
      let inflated: { buffer: Buffer; engine: { bytesWritten: number } };
      for (;;) {
        try {
          inflated = inflateRawInfo(reader.view(headerBytes), { info: true, maxOutputLength: maxMemberBytes });
          break;
        } catch (err) {
          const code = (err as { code?: string }).code;
          if (code === 'ERR_BUFFER_TOO_LARGE')
            throw new GzipMemberError(offset, 'too-large', `member at ${offset} inflates to over ${maxMemberBytes} bytes`);
          if (code === 'Z_BUF_ERROR' && !reader.eof) {
            await reader.want(reader.available + READ_BYTES); // the member goes on past what is buffered
            continue;
          }
          const reason = code === 'Z_BUF_ERROR' ? 'truncated' : 'corrupt';
          throw new GzipMemberError(offset, reason, `gzip member at ${offset}: ${(err as Error).message}`);
        }
      }
      const trailerAt = headerBytes + inflated.engine.bytesWritten;
      await reader.want(trailerAt + 8);
      if (reader.available < trailerAt + 8)
        throw new GzipMemberError(offset, 'truncated', `gzip member at ${offset}: trailer cut off`);
      const t = reader.view(trailerAt, 8);
      const trailer = Buffer.from(t.buffer, t.byteOffset, 8); // a view, for readUInt32LE
      const data = inflated.buffer;
      const crcOk = trailer.readUInt32LE(0) === crc32(data);
      const sizeOk = trailer.readUInt32LE(4) === data.length % 2 ** 32;
      if (!crcOk || !sizeOk)
        throw new GzipMemberError(offset, 'corrupt', `gzip member at ${offset}: ${crcOk ? 'length' : 'CRC'} mismatch`);
      reader.consume(trailerAt + 8);
      yield { offset, data };
    }
  } finally {
    await fh.close();
  }
}

/** A growable window over the file: `view` sees bytes from the current position. */
class BlockReader {
  private buf = Buffer.alloc(0);
  private start = 0; // position of the window in buf
  private end = 0;
  private filePos = 0; // file offset of buf[end]
  eof = false;

  constructor(private readonly fh: FileHandle) {}

  get available(): number {
    return this.end - this.start;
  }

  /** File offset of the window's first byte. */
  get fileOffset(): number {
    return this.filePos - this.available;
  }

  view(at: number, length = this.available - at): Uint8Array {
    return this.buf.subarray(this.start + at, this.start + at + length);
  }

  consume(n: number): void {
    this.start += n;
  }

  /** Reads until `n` bytes are buffered or the file ends. */
  async want(n: number): Promise<void> {
    while (this.available < n && !this.eof) {
      const need = Math.max(n - this.available, READ_BYTES);
      if (this.start + this.available + need > this.buf.length) {
        const next = Buffer.allocUnsafe(Math.max(this.available + need, this.buf.length));
        this.buf.copy(next, 0, this.start, this.end);
        this.buf = next;
        this.end -= this.start;
        this.start = 0;
      }
      const { bytesRead } = await this.fh.read(this.buf, this.end, this.buf.length - this.end, this.filePos);
      if (bytesRead === 0) this.eof = true;
      this.end += bytesRead;
      this.filePos += bytesRead;
    }
  }

  /** Length of the gzip header at the window's start, or undefined when the bytes are not one (RFC 1952 §2.3). */
  async gzipHeader(): Promise<number | undefined> {
    await this.want(10);
    const h = this.view(0, Math.min(10, this.available));
    if (h.length < 10 || h[0] !== 0x1f || h[1] !== 0x8b || h[2] !== 8) return undefined;
    const flags = h[3];
    let n = 10;
    if (flags & 4) {
      await this.want(n + 2);
      const x = this.view(n, 2);
      n += 2 + (x[0] | (x[1] << 8));
    }
    for (const bit of [8, 16]) {
      if (!(flags & bit)) continue;
      // zero-terminated name or comment
      for (;;) {
        await this.want(n + 1);
        if (this.available <= n) return undefined;
        if (this.view(n, 1)[0] === 0) break;
        n++;
      }
      n++;
    }
    if (flags & 2) n += 2;
    await this.want(n);
    return this.available >= n ? n : undefined;
  }
}
