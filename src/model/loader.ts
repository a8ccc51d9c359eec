// The training loader: documents from Megatron shards (megatron.ts, read per sequence with positioned
// reads, never whole), in a seeded order that changes every epoch, packed into rows of blockSize+1 tokens
// (nanoGPT's get_batch, but over documents rather than a flat token stream). Row r holds inputs row[0..T)
// and targets row[1..T]; weights align with the targets and are 0 on sentinel targets and on padding. With
// `byDomain` (DEMix) each domain packs into its own rows. The position is a small JSON object a checkpoint
// stores, so a resumed run sees exactly the rows an uninterrupted one would.

import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import { Rng } from '../rng.js';
import {
  cm3Transform,
  lossWeights,
  validateCm3,
  CM3_DEFAULTS,
  type Cm3Options,
  type Cm3Vocab,
} from '../tokenize/cm3.js';
import { cm3Window, codeHeaderTokens, windowTooSmall, type WindowDoc } from '../tokenize/cm3-window.js';
import { readDataInfo, type DataInfo } from './data-info.js';
import { IndexedDataset } from '../shards/megatron.js';
import { readSidecar } from '../shards/sidecar.js';

export { readDataInfo, type DataInfo } from './data-info.js';

export interface LoaderOptions {
  split: 'train' | 'valid';
  /** Tokens per row fed to the model (the model's blockSize). */
  blockSize: number;
  /** Seeds the document order and the CM3 spans. */
  seed: number;
  /** DEMix: rows are packed per domain, so every row has one domain. */
  byDomain: boolean;
  /** Map a data domain id to the row's domain id (e.g. expert index); return -1 to skip the document. */
  domainOf?: (dataDomain: number) => number;
  /** CM3 span options; ignored when the shards were masked by preprocess (--cm3-static). */
  cm3?: Cm3Options;
  /** Shuffle the documents each epoch (validation keeps file order). */
  shuffle?: boolean;
  /** Windowed packing: a cut window shorter than this many text tokens is not made; the row is padded instead. */
  minWindowTokens?: number;
}

export const LOADER_DEFAULTS = {
  /**
   * 32 tokens (a line or two of code): shorter cut windows are mostly sentinels and repeated header, and
   * padding instead wastes at most 32 + 4 positions of a 513-token row (measured waste: README "Data formats").
   */
  minWindowTokens: 32,
};

export interface Row {
  input: Int32Array; // [T]
  target: Int32Array; // [T]
  weight: Float32Array; // [T]
  domain: number;
  epoch: number;
  /** Input positions that hold real tokens (the rest is padding). */
  real: number;
  /** Windowed packing: the lengths of the whole windows placed in this row, in order (they sum to its tokens). */
  units?: number[];
}

export interface Batch {
  ids: Int32Array; // [B·T]
  targets: Int32Array; // [B·T]
  weights: Float32Array; // [B·T]
  domains: Int32Array; // [B]
  /** Real (non-padding) input tokens in the batch. */
  tokens: number;
  epoch: number;
}

/** The serialisable position: what a checkpoint stores. Partial rows hold tokens still to be emitted. */
export interface LoaderState {
  epoch: number;
  /** Index into this epoch's document order of the next document to read. */
  cursor: number;
  /** Per row-domain, tokens read but not yet emitted (base64 of little-endian int32): the partial rows. */
  pending: Record<string, string>;
  /** Windowed packing: the next window of the document at `cursor` (0 = its first) and where it starts in the body. */
  window?: number;
  offset?: number;
  /** Windowed packing: per row-domain, the window lengths in the partial row. */
  units?: Record<string, number[]>;
  /** Documents in the selection the position refers to (a changed selection cannot resume exactly). */
  documents?: number;
}

interface DocRef {
  shard: number;
  first: number;
  end: number;
  domain: number;
  code: boolean;
}

/**
 * How rows are filled: CM3 windows cut here, windows cut by preprocess, or the whole-document stream.
 * CM3 inside the row (the default, and static data cut with --cm3-window): each document is cut into
 * windows that fit what is left of the current row after masking (cm3-window.ts), masked afresh per
 * (seed, epoch, document, window), and placed whole, so every `<mask:i>` has its span in the same row.
 * When the rest of a row cannot hold a window of minWindowTokens, the row is padded and closed.
 *
 *   documents  [a a a a a a a a] [b b] [c c c]   (T + 1 = 6, minWindowTokens 2, no spans drawn here)
 *   rows       [a a a a a <m0>] [a a a </s> pad pad] [b b </s> c c <m0>] [c </s> pad pad pad pad]
 *              (<m0> after a cut is the continuation mark; b's one-token cut would be under minWindowTokens)
 *
 * Whole-document static data (--cm3-static without --cm3-window, older folders) keeps the stream packing:
 * the documents back to back, row r = stream[T·r .. T·r + T + 1), so consecutive rows share one token.
 */
type Packing = 'windows' | 'static-windows' | 'stream';

export class ShardLoader {
  private epoch = 0;
  private cursor = 0;
  private window = 0;
  private offset = 0;
  private order: Int32Array = new Int32Array(0);
  private readonly pending = new Map<number, number[]>();
  private readonly units = new Map<number, number[]>();
  private readonly vocab: Cm3Vocab;
  readonly packing: Packing;
  /** The body of the document being windowed (re-read only when the cursor moves on). */
  private current?: { doc: number; body: WindowDoc };

  private constructor(
    readonly info: DataInfo,
    private readonly opts: LoaderOptions,
    private readonly shards: IndexedDataset[],
    private readonly docs: DocRef[],
  ) {
    const L = info.layout;
    this.vocab = {
      maskBase: L.maskBase,
      maskCount: L.maskCount,
      eom: L.eom,
      imageBegin: L.imageBegin,
      imageEnd: L.imageEnd,
    };
    this.packing = !info.cm3Static ? 'windows' : info.cm3Window !== undefined ? 'static-windows' : 'stream';
    if (this.packing === 'windows') validateCm3(this.vocab, opts.cm3 ?? CM3_DEFAULTS);
    this.order = this.epochOrder(0);
  }

  /** Open every shard of `split` listed in DIR/manifest.json (indexes and sidecars only; tokens stay on disk). */
  static async open(dir: string, opts: LoaderOptions): Promise<ShardLoader> {
    if (!Number.isInteger(opts.blockSize) || opts.blockSize < 1) {
      throw new HyperlmError('CONFIG_BAD_VALUE', `loader: blockSize must be a positive integer, got ${opts.blockSize}`);
    }
    const info = await readDataInfo(dir);
    if (info.cm3Static && info.cm3Window !== undefined && info.cm3Window !== opts.blockSize) {
      throw new HyperlmError(
        'CM3_WINDOW_MISMATCH',
        `${join(dir, 'manifest.json')}: the shards were CM3-masked in windows for blockSize ${info.cm3Window} ` +
          `(preprocess --cm3-window ${info.cm3Window}) but the model's blockSize is ${opts.blockSize}; the loader does not re-cut static windows — ` +
          `preprocess again with --cm3-window ${opts.blockSize}, or train with blockSize ${info.cm3Window}`,
      );
    }
    const names = info.shards.filter((s) => s.split === opts.split).map((s) => s.name);
    const shards: IndexedDataset[] = [];
    const docs: DocRef[] = [];
    for (const name of names) {
      const prefix = join(dir, name);
      const ds = await IndexedDataset.open(prefix);
      const side = await readSidecar(prefix).catch(() => undefined);
      for (let d = 0; d < ds.documentCount; d++) {
        const [first, end] = ds.documentSequences(d);
        if (end === first) continue;
        const raw = side?.[first]?.domain ?? 0;
        const domain = opts.domainOf ? opts.domainOf(raw) : raw;
        if (domain < 0) continue;
        docs.push({ shard: shards.length, first, end, domain, code: side?.[first]?.kind === 'code' });
      }
      shards.push(ds);
    }
    if (docs.length === 0) {
      throw new HyperlmError(
        'INPUT_NOT_FOUND',
        `loader: ${dir} has no ${opts.split} documents${opts.domainOf ? ' in the selected domains' : ''} (shards: ${names.join(', ') || 'none'})`,
      );
    }
    return new ShardLoader(info, opts, shards, docs);
  }

  get documentCount(): number {
    return this.docs.length;
  }

  /** Document ids in epoch order: a Fisher–Yates shuffle seeded by (seed, epoch), or file order. */
  private epochOrder(epoch: number): Int32Array {
    const order = Int32Array.from(this.docs.keys());
    if (this.opts.shuffle === false) return order;
    return Rng.fromParts(this.opts.seed, 'order', epoch).shuffle(order);
  }

  /** A document's stored tokens: all its sequences back to back (eos included, masks too for static data). */
  async storedTokens(doc: number): Promise<Int32Array> {
    const ref = this.docs[doc];
    const ds = this.shards[ref.shard];
    const parts: Int32Array[] = [];
    for (let s = ref.first; s < ref.end; s++) parts.push(await ds.getSequence(s));
    const all = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    return all;
  }

  /** Stream packing: one document's tokens as trained on, CM3-transformed whole (fresh spans per epoch) and ending in eos. */
  async documentTokens(doc: number, epoch: number): Promise<Int32Array> {
    const all = await this.storedTokens(doc);
    if (this.info.cm3Static) return all;
    const eos = this.info.layout.eos;
    const body = all[all.length - 1] === eos ? all.subarray(0, all.length - 1) : all;
    const masked = cm3Transform(
      body,
      this.vocab,
      this.opts.cm3 ?? CM3_DEFAULTS,
      Rng.fromParts(this.opts.seed, 'cm3', epoch, doc),
    );
    const out = new Int32Array(masked.length + 1);
    out.set(masked);
    out[masked.length] = eos;
    return out;
  }

  /** A document as windows see it: its body without eos and the code header to repeat (0 without pieces). */
  async windowDocument(doc: number): Promise<WindowDoc> {
    if (this.current?.doc === doc) return this.current.body;
    const all = await this.storedTokens(doc);
    const body = all[all.length - 1] === this.info.layout.eos ? all.subarray(0, all.length - 1) : all;
    const pieces = this.info.pieces;
    const header =
      this.docs[doc].code && pieces ? codeHeaderTokens(body, (id) => pieces[id] ?? '', this.opts.blockSize + 1) : 0;
    this.current = { doc, body: { body, header } };
    return this.current.body;
  }

  /**
   * The next unit of the document at the cursor for a row with `space` tokens left: a window cut and
   * masked here, or the next stored window; null when it does not fit (the caller pads the row).
   */
  private async nextUnit(
    doc: number,
    space: number,
  ): Promise<{ tokens: Int32Array; end: number; last: boolean } | null> {
    if (this.packing === 'static-windows') {
      const ref = this.docs[doc];
      const tokens = await this.shards[ref.shard].getSequence(ref.first + this.window);
      return tokens.length <= space ? { tokens, end: 0, last: ref.first + this.window + 1 >= ref.end } : null;
    }
    const wd = await this.windowDocument(doc);
    // an empty row takes any window (padding it would not help); a partial one only a window worth starting
    const minTokens =
      space === this.opts.blockSize + 1 ? 1 : (this.opts.minWindowTokens ?? LOADER_DEFAULTS.minWindowTokens);
    const rng = Rng.fromParts(this.opts.seed, 'cm3', this.epoch, doc, this.window);
    const w = cm3Window(
      wd,
      this.offset,
      { space, minTokens },
      this.vocab,
      this.opts.cm3 ?? CM3_DEFAULTS,
      this.info.layout.eos,
      rng,
    );
    return w ? { tokens: w.tokens, end: w.end, last: !w.continues } : null;
  }

  /**
   * The next packed row; crossing into the next epoch reshuffles and reseeds the masking. At the end of an
   * epoch each partial row becomes one padded row, lowest domain first.
   */
  async nextRow(): Promise<Row> {
    const T = this.opts.blockSize;
    for (;;) {
      const ready = this.packing === 'stream' ? await this.fillStream(T) : await this.fillWindows(T);
      if (ready) return ready;
      const left = [...this.pending.entries()].filter(([, b]) => b.length > 0).sort((a, b) => a[0] - b[0]);
      if (left.length > 0) {
        const [key, buf] = left[0];
        return this.closeRow(buf, key, T);
      }
      this.pending.clear();
      this.units.clear();
      this.epoch++;
      this.cursor = 0;
      this.window = 0;
      this.offset = 0;
      this.order = this.epochOrder(this.epoch);
    }
  }

  /** Windowed packing: place whole windows until a row is full or closed; undefined at the end of the epoch. */
  private async fillWindows(T: number): Promise<Row | undefined> {
    const R = T + 1;
    while (this.cursor < this.order.length) {
      const doc = this.order[this.cursor];
      const key = this.opts.byDomain ? this.docs[doc].domain : 0;
      const row = this.pending.get(key) ?? [];
      const unit = await this.nextUnit(doc, R - row.length);
      if (!unit) {
        if (row.length === 0)
          throw windowTooSmall(await this.windowDocument(doc), this.offset, R, `${this.info.dir} document ${doc}`);
        return this.closeRow(row, key, T);
      }
      for (const t of unit.tokens) row.push(t);
      const units = this.units.get(key) ?? [];
      units.push(unit.tokens.length);
      this.units.set(key, units);
      if (unit.last) {
        this.cursor++;
        this.window = 0;
        this.offset = 0;
      } else {
        this.window++;
        this.offset = unit.end;
      }
      if (row.length === R) return this.closeRow(row, key, T);
      this.pending.set(key, row);
    }
    return undefined;
  }

  /**
   * Stream packing: rows are cut lazily, so at most one buffer ever holds more than T tokens (the one just
   * appended to) and the buffers alone are the position.
   */
  private async fillStream(T: number): Promise<Row | undefined> {
    for (;;) {
      for (const [key, buf] of this.pending) {
        if (buf.length >= T + 1) {
          const row = this.makeRow(buf.slice(0, T + 1), key, T);
          buf.splice(0, T);
          return row;
        }
      }
      if (this.cursor >= this.order.length) return undefined;
      const doc = this.order[this.cursor];
      const key = this.opts.byDomain ? this.docs[doc].domain : 0;
      const tokens = await this.documentTokens(doc, this.epoch);
      this.cursor++;
      const buf = this.pending.get(key) ?? [];
      for (const t of tokens) buf.push(t);
      this.pending.set(key, buf);
    }
  }

  /** `rows` rows flattened row-major into [B·T] arrays. */
  async nextBatch(rows: number): Promise<Batch> {
    const taken: Row[] = [];
    for (let r = 0; r < rows; r++) taken.push(await this.nextRow());
    return batchOf(taken, this.opts.blockSize, this.epoch);
  }

  /**
   * The rows of one pass over the documents from the start (validation, scoring): the last one is the
   * epoch's final partial row; nothing of the next epoch is returned.
   */
  async *epochRows(): AsyncGenerator<Row> {
    this.setState({ epoch: 0, cursor: 0, pending: {} });
    for (;;) {
      const row = await this.nextRow();
      if (row.epoch > 0) return;
      yield row;
    }
  }

  /** Emit the partial row of `key` (padded when short) and forget it. */
  private closeRow(tokens: number[], key: number, T: number): Row {
    const row = this.makeRow(tokens, key, T);
    const units = this.units.get(key);
    if (units) row.units = units;
    this.pending.delete(key);
    this.units.delete(key);
    return row;
  }

  /** tokens: up to T+1 tokens → a row; missing positions are padding with weight 0. */
  private makeRow(tokens: number[], domain: number, T: number): Row {
    const pad = this.info.layout.pad;
    const input = new Int32Array(T).fill(pad);
    const target = new Int32Array(T).fill(pad);
    const weight = new Float32Array(T);
    const real = Math.min(tokens.length, T);
    for (let t = 0; t < real; t++) input[t] = tokens[t];
    const sentinel = lossWeights(Int32Array.from(tokens), this.vocab); // aligned with tokens; targets are tokens shifted by one
    for (let t = 0; t + 1 < tokens.length; t++) {
      target[t] = tokens[t + 1];
      weight[t] = sentinel[t + 1];
    }
    return { input, target, weight, domain, epoch: this.epoch, real };
  }

  /** The position to store in a checkpoint. */
  getState(): LoaderState {
    const pending: Record<string, string> = {};
    for (const [k, buf] of this.pending)
      pending[String(k)] = Buffer.from(Int32Array.from(buf).buffer).toString('base64');
    const units: Record<string, number[]> = {};
    for (const [k, u] of this.units) units[String(k)] = [...u];
    return {
      epoch: this.epoch,
      cursor: this.cursor,
      window: this.window,
      offset: this.offset,
      pending,
      units,
      documents: this.docs.length,
    };
  }

  setState(state: LoaderState): void {
    if (
      !state ||
      !Number.isInteger(state.epoch) ||
      !Number.isInteger(state.cursor) ||
      state.cursor < 0 ||
      state.cursor > this.docs.length
    ) {
      throw new HyperlmError(
        'CHECKPOINT_CORRUPT',
        `loader state ${JSON.stringify(state)?.slice(0, 200)} does not fit ${this.docs.length} documents`,
      );
    }
    const window = state.window ?? 0,
      offset = state.offset ?? 0;
    if (
      !Number.isInteger(window) ||
      window < 0 ||
      !Number.isInteger(offset) ||
      offset < 0 ||
      (window > 0 && state.cursor >= this.docs.length)
    ) {
      throw new HyperlmError(
        'CHECKPOINT_CORRUPT',
        `loader state window ${window} / offset ${offset} is not a position in document ${state.cursor} of ${this.docs.length}`,
      );
    }
    this.epoch = state.epoch;
    this.cursor = state.cursor;
    this.window = window;
    this.offset = offset;
    this.order = this.epochOrder(state.epoch);
    this.pending.clear();
    this.units.clear();
    for (const [k, u] of Object.entries(state.units ?? {})) this.units.set(Number(k), [...u]);
    for (const [k, b64] of Object.entries(state.pending ?? {})) {
      const bytes = Buffer.from(b64, 'base64');
      this.pending.set(Number(k), [
        ...new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)),
      ]);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.close()));
  }
}

/** Rows of blockSize tokens as one batch (its epoch: the last row's, or `epoch` for no rows). */
export function batchOf(rows: Row[], T: number, epoch = 0): Batch {
  const b: Batch = {
    ids: new Int32Array(rows.length * T),
    targets: new Int32Array(rows.length * T),
    weights: new Float32Array(rows.length * T),
    domains: new Int32Array(rows.length),
    tokens: 0,
    epoch,
  };
  rows.forEach((row, r) => {
    b.ids.set(row.input, r * T);
    b.targets.set(row.target, r * T);
    b.weights.set(row.weight, r * T);
    b.domains[r] = row.domain;
    b.tokens += row.real;
    b.epoch = row.epoch;
  });
  return b;
}
