// Concatenates Megatron MMIDIDX datasets into one, with the semantics of Megatron-LM's
// tools/merge_datasets.py (`IndexedDatasetBuilder.add_index`): the dtypes must agree, the .bin bytes are
// appended in order, sequence lengths are appended, and each input's document indices (past its leading 0)
// are offset by the sequences already written. Unlike add_index, a `keep` predicate can leave documents
// out (cross-shard deduplication): their byte ranges are simply not copied. Written like megatron.ts's
// writer: `.bin.tmp`/`.idx.tmp`, fsync, renamed into place by `finalize` (.bin first, .idx last).
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { HyperlmError } from '../errors.js';
import { withPath } from '../io/io-failure.js';
import { encodeIndex, IndexedDataset, type ShardDtype } from './megatron.js';

/** Bytes read and written per copy step. */
const COPY_BYTES = 4 << 20;

export interface AddedIndex {
  /** Documents of the input that were kept (indices into the input), in order. */
  kept: number[];
  sequences: number;
  tokens: number;
}

export class DatasetConcatenator {
  private readonly lengths: number[] = [];
  private readonly documentIndices: number[] = [0];
  private fd: number | null;
  private readonly buffer = Buffer.alloc(COPY_BYTES);

  constructor(
    readonly prefix: string,
    readonly dtype: ShardDtype,
  ) {
    this.fd = fs.openSync(`${prefix}.bin.tmp`, 'w');
  }

  get documentCount(): number {
    return this.documentIndices.length - 1;
  }

  /** Appends the documents of `{input}.bin/.idx` for which `keep(d)` holds (all by default). */
  async addIndex(input: string, keep: (doc: number) => boolean = () => true): Promise<AddedIndex> {
    const ds = await IndexedDataset.open(input);
    try {
      if (ds.dtype !== this.dtype) {
        throw new HyperlmError(
          'SHARD_CORRUPT',
          `${input}.idx: dtype ${ds.dtype} differs from the merged dataset's ${this.dtype} (another tokenizer?)`,
        );
      }
      const bin = await fsp.open(`${input}.bin`, 'r');
      const added: AddedIndex = { kept: [], sequences: 0, tokens: 0 };
      try {
        // Runs of consecutive kept documents are one contiguous byte range each.
        let run: [number, number] | undefined;
        const flushRun = async (): Promise<void> => {
          if (run) await this.copy(bin, input, run[0], run[1]);
          run = undefined;
        };
        for (let d = 0; d < ds.documentCount; d++) {
          if (!keep(d)) {
            await flushRun();
            continue;
          }
          const [first, end] = ds.documentSequences(d);
          for (let i = first; i < end; i++) {
            this.lengths.push(ds.sequenceLength(i));
            added.tokens += ds.sequenceLength(i);
          }
          added.sequences += end - first;
          this.documentIndices.push(this.lengths.length);
          added.kept.push(d);
          const [b0, b1] = ds.documentBytes(d);
          if (b1 === b0) continue;
          if (run && run[1] === b0) run[1] = b1;
          else {
            await flushRun();
            run = [b0, b1];
          }
        }
        await flushRun();
      } finally {
        await bin.close();
      }
      return added;
    } finally {
      await ds.close();
    }
  }

  private async copy(bin: fsp.FileHandle, input: string, start: number, end: number): Promise<void> {
    for (let pos = start; pos < end;) {
      const want = Math.min(this.buffer.length, end - pos);
      const { bytesRead } = await bin.read(this.buffer, 0, want, pos);
      if (bytesRead === 0)
        throw new HyperlmError('SHARD_CORRUPT', `${input}.bin: ends at byte ${pos}, before ${end} (truncated?)`);
      let off = 0;
      try {
        while (off < bytesRead) off += fs.writeSync(this.fd!, this.buffer, off, bytesRead - off);
      } catch (err) {
        throw withPath(err, `${this.prefix}.bin.tmp`);
      }
      pos += bytesRead;
    }
  }

  /** Writes the index and publishes `{prefix}.bin` and `{prefix}.idx`. */
  async finalize(): Promise<void> {
    let file = `${this.prefix}.bin.tmp`;
    try {
      fs.fsyncSync(this.fd!);
      fs.closeSync(this.fd!);
      this.fd = null;
      file = `${this.prefix}.idx.tmp`;
      const fh = await fsp.open(file, 'w');
      try {
        await fh.writeFile(encodeIndex(this.dtype, this.lengths, this.documentIndices));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(`${this.prefix}.bin.tmp`, `${this.prefix}.bin`);
      await fsp.rename(`${this.prefix}.idx.tmp`, `${this.prefix}.idx`);
    } catch (err) {
      this.abort();
      throw withPath(err, file);
    }
  }

  abort(): void {
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
}
