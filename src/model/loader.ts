// The training loader: documents from Megatron shards (megatron.ts, read per sequence with positioned
// reads, never whole), in a seeded order that changes every epoch, CM3-masked on the fly (cm3.ts, a fresh
// stream per (epoch, document) unless the shards were masked statically), packed into rows of blockSize+1
// tokens. Row r holds inputs row[0..T) and targets row[1..T]; weights align with the targets and are 0 on
// sentinel targets and on the padding that closes an epoch. Consecutive rows share nothing: every token of
// an epoch's stream is an input exactly once. With `byDomain` (DEMix) each domain packs into its own rows,
// so a row never mixes domains. The position (epoch, cursor, partial rows) is a small JSON object that a
// checkpoint stores, so a resumed run sees exactly the rows an uninterrupted one would.
//
//   documents (epoch order)   [a a a </s>] [b b </s>] [c c c c </s>] ...
//   stream                    a a a </s> b b </s> c c c c </s> ...
//   rows (T = 4)              [a a a </s> b] [b b </s> c c] ...   (row r = stream[4r .. 4r+5))

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HyperlmError } from '../errors.js';
import { Rng } from '../rng.js';
import { cm3Transform, lossWeights, CM3_DEFAULTS, type Cm3Options, type Cm3Vocab } from '../tokenize/cm3.js';
import { IndexedDataset } from '../shards/megatron.js';
import { readSidecar } from '../shards/sidecar.js';

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
}

export interface Row {
  input: Int32Array; // [T]
  target: Int32Array; // [T]
  weight: Float32Array; // [T]
  domain: number;
  epoch: number;
  /** Input positions that hold real tokens (the rest is end-of-epoch padding). */
  real: number;
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
  /** Per row-domain, tokens read but not yet emitted (base64 of little-endian int32). */
  pending: Record<string, string>;
  /** Documents in the selection the position refers to (a changed selection cannot resume exactly). */
  documents?: number;
}

/** What the loader needs from DIR/manifest.json and DIR/vocab.json (read defensively: missing → named error). */
export interface DataInfo {
  dir: string;
  shards: Array<{ name: string; split: string }>;
  /** Shards were CM3-masked by preprocess; the loader must not mask again. */
  cm3Static: boolean;
  /** Domain key → data domain id. */
  domains: Record<string, number>;
  layout: { size: number; pad: number; eos: number; maskBase: number; maskCount: number; eom: number; imageBegin?: number; imageEnd?: number };
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new HyperlmError('INPUT_NOT_FOUND', `${path}: cannot read (run \`npm run preprocess\` first?)`, { cause: err });
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new HyperlmError('INPUT_BAD_RECORD', `${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

export async function readDataInfo(dir: string): Promise<DataInfo> {
  const manifest = await readJson(join(dir, 'manifest.json'));
  const vocab = await readJson(join(dir, 'vocab.json'));
  const layout = vocab.layout as Record<string, unknown> | undefined;
  const need = ['size', 'pad', 'eos', 'maskBase', 'maskCount', 'eom'];
  const missing = need.filter((k) => !Number.isInteger(layout?.[k]));
  if (!layout || missing.length > 0) {
    throw new HyperlmError('INPUT_BAD_RECORD', `${join(dir, 'vocab.json')}: layout lacks integer field(s) ${missing.join(', ') || 'layout'}`);
  }
  if (!Array.isArray(manifest.shards)) throw new HyperlmError('INPUT_BAD_RECORD', `${join(dir, 'manifest.json')}: field "shards" must be a list`);
  const config = (manifest.config ?? {}) as Record<string, unknown>;
  return {
    dir,
    shards: manifest.shards as DataInfo['shards'],
    cm3Static: config.cm3Static === true,
    domains: (manifest.domains ?? {}) as Record<string, number>,
    layout: layout as unknown as DataInfo['layout'],
  };
}

interface DocRef { shard: number; first: number; end: number; domain: number }

export class ShardLoader {
  private epoch = 0;
  private cursor = 0;
  private order: Int32Array = new Int32Array(0);
  private readonly pending = new Map<number, number[]>();
  private readonly vocab: Cm3Vocab;

  private constructor(
    readonly info: DataInfo,
    private readonly opts: LoaderOptions,
    private readonly shards: IndexedDataset[],
    private readonly docs: DocRef[],
  ) {
    const L = info.layout;
    this.vocab = { maskBase: L.maskBase, maskCount: L.maskCount, eom: L.eom, imageBegin: L.imageBegin, imageEnd: L.imageEnd };
    this.order = this.epochOrder(0);
  }

  /** Open every shard of `split` listed in DIR/manifest.json (indexes and sidecars only; tokens stay on disk). */
  static async open(dir: string, opts: LoaderOptions): Promise<ShardLoader> {
    if (!Number.isInteger(opts.blockSize) || opts.blockSize < 1) {
      throw new HyperlmError('CONFIG_BAD_VALUE', `loader: blockSize must be a positive integer, got ${opts.blockSize}`);
    }
    const info = await readDataInfo(dir);
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
        docs.push({ shard: shards.length, first, end, domain });
      }
      shards.push(ds);
    }
    if (docs.length === 0) {
      throw new HyperlmError('INPUT_NOT_FOUND', `loader: ${dir} has no ${opts.split} documents${opts.domainOf ? ' in the selected domains' : ''} (shards: ${names.join(', ') || 'none'})`);
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

  /** One document's tokens as trained on: CM3-transformed (fresh spans per epoch) and ending in eos. */
  async documentTokens(doc: number, epoch: number): Promise<Int32Array> {
    const ref = this.docs[doc];
    const ds = this.shards[ref.shard];
    const parts: Int32Array[] = [];
    for (let s = ref.first; s < ref.end; s++) parts.push(await ds.getSequence(s));
    const all = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { all.set(p, o); o += p.length; }
    if (this.info.cm3Static) return all;
    const eos = this.info.layout.eos;
    const body = all[all.length - 1] === eos ? all.subarray(0, all.length - 1) : all;
    const masked = cm3Transform(body, this.vocab, this.opts.cm3 ?? CM3_DEFAULTS, Rng.fromParts(this.opts.seed, 'cm3', epoch, doc));
    const out = new Int32Array(masked.length + 1);
    out.set(masked);
    out[masked.length] = eos;
    return out;
  }

  /**
   * The next packed row; crossing into the next epoch reshuffles and reseeds the masking. Rows are cut
   * lazily, so at most one buffer ever holds more than T tokens (the one just appended to) and the
   * buffers alone are the position.
   */
  async nextRow(): Promise<Row> {
    const T = this.opts.blockSize;
    for (;;) {
      for (const [key, buf] of this.pending) {
        if (buf.length >= T + 1) {
          const row = this.makeRow(buf.slice(0, T + 1), key, T);
          buf.splice(0, T);
          return row;
        }
      }
      if (this.cursor < this.order.length) {
        const doc = this.order[this.cursor];
        const key = this.opts.byDomain ? this.docs[doc].domain : 0;
        const tokens = await this.documentTokens(doc, this.epoch);
        this.cursor++;
        const buf = this.pending.get(key) ?? [];
        for (const t of tokens) buf.push(t);
        this.pending.set(key, buf);
        continue;
      }
      // end of epoch: each partial buffer (≤ T tokens) becomes one padded row, lowest domain first
      const left = [...this.pending.entries()].filter(([, b]) => b.length > 0).sort((a, b) => a[0] - b[0]);
      if (left.length > 0) {
        const [key, buf] = left[0];
        this.pending.delete(key);
        return this.makeRow(buf, key, T);
      }
      this.pending.clear();
      this.epoch++;
      this.cursor = 0;
      this.order = this.epochOrder(this.epoch);
    }
  }

  /** `rows` rows flattened row-major into [B·T] arrays. */
  async nextBatch(rows: number): Promise<Batch> {
    const T = this.opts.blockSize;
    const b: Batch = { ids: new Int32Array(rows * T), targets: new Int32Array(rows * T), weights: new Float32Array(rows * T), domains: new Int32Array(rows), tokens: 0, epoch: this.epoch };
    for (let r = 0; r < rows; r++) {
      const row = await this.nextRow();
      b.ids.set(row.input, r * T);
      b.targets.set(row.target, r * T);
      b.weights.set(row.weight, r * T);
      b.domains[r] = row.domain;
      b.tokens += row.real;
      b.epoch = row.epoch;
    }
    return b;
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
    for (const [k, buf] of this.pending) pending[String(k)] = Buffer.from(Int32Array.from(buf).buffer).toString('base64');
    return { epoch: this.epoch, cursor: this.cursor, pending, documents: this.docs.length };
  }

  setState(state: LoaderState): void {
    if (!state || !Number.isInteger(state.epoch) || !Number.isInteger(state.cursor) || state.cursor < 0 || state.cursor > this.docs.length) {
      throw new HyperlmError('CHECKPOINT_CORRUPT', `loader state ${JSON.stringify(state)?.slice(0, 200)} does not fit ${this.docs.length} documents`);
    }
    this.epoch = state.epoch;
    this.cursor = state.cursor;
    this.order = this.epochOrder(state.epoch);
    this.pending.clear();
    for (const [k, b64] of Object.entries(state.pending ?? {})) {
      const bytes = Buffer.from(b64, 'base64');
      this.pending.set(Number(k), [...new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length))]);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.close()));
  }
}
