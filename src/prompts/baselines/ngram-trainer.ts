// Counting for the Kneser–Ney baseline (ngram.ts): one pass over a token stream, document by document,
// filling per-order tables of n-grams with the counts interpolated modified Kneser–Ney needs (Chen &
// Goodman 1998; KenLM's "adjusted counts"): the raw count for the highest order, and for lower orders
// the continuation count N1+(• w…) — how many distinct tokens precede the n-gram. Each document starts with
// an implicit begin marker (BOS) that counts as a left context; n-grams starting with BOS cannot be extended
// to the left, so they keep raw counts. Ids: token t is stored as t + 1 (BOS = 0); the n-gram (h, t) of order
// k is the key id(h) · (vocabSize + 1) + t + 1 in order k's table, id(h) being h's id at order k − 1.

import { HyperlmError } from '../../errors.js';
import { GrowableInt32, PackedIdTable } from './id-table.js';

/** What the counting pass hands to the model. Index k − 1 holds order k. */
export interface NgramCountData {
  order: number;
  vocabSize: number;
  /** vocabSize + 1: the multiplier that packs (context id, token + 1) into one key. */
  radix: number;
  tables: PackedIdTable[];
  /** Adjusted count of every n-gram, by id: raw for the highest order and BOS-started n-grams, else continuation. */
  counts: Int32Array[];
  /** Id of the BOS unigram in tables[0] (a context only: its count stays 0). */
  bosId: number;
  documents: number;
  tokens: number;
}

export interface NgramTrainerOptions {
  order: number;
  vocabSize: number;
}

export class NgramTrainer {
  private readonly tables: PackedIdTable[];
  private readonly counts: GrowableInt32[];
  private readonly radix: number;
  private readonly bosId: number;
  /** Ids of the n-grams (orders 1..N−1) ending at the previous position; prev[0] is BOS at a document start. */
  private prev: Int32Array;
  private cur: Int32Array;
  /** Position of the next token in the current document, −1 between documents. */
  private position = -1;
  private documents = 0;
  private tokens = 0;

  constructor(readonly opts: NgramTrainerOptions) {
    const { order, vocabSize } = opts;
    if (!Number.isInteger(order) || order < 1 || order > 8) {
      throw new HyperlmError('CONFIG_BAD_VALUE', `ngram: options.order must be an integer in [1, 8], got ${order}`);
    }
    if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize > 2 ** 21) {
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `ngram: options.vocabSize must be an integer in [1, 2^21], got ${vocabSize}`,
      );
    }
    this.radix = vocabSize + 1;
    this.tables = Array.from({ length: order }, () => new PackedIdTable());
    this.counts = Array.from({ length: order }, () => new GrowableInt32());
    this.bosId = this.tables[0].getOrInsert(0);
    this.counts[0].ensure(this.bosId);
    this.prev = new Int32Array(order);
    this.cur = new Int32Array(order);
  }

  /** Append tokens to the current document (a document may arrive in several pieces, e.g. shard sequences). */
  addTokens(tokens: ArrayLike<number>): void {
    const N = this.opts.order;
    if (tokens.length > 0 && this.position < 0) {
      this.prev[0] = this.bosId;
      this.position = 0;
      this.documents++;
    }
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (!Number.isInteger(t) || t < 0 || t >= this.opts.vocabSize) {
        const where = `document ${this.documents - 1} position ${this.position}`;
        throw new HyperlmError(
          'MODEL_BAD_INPUT',
          `ngram: token ${t} at ${where} is outside [0, ${this.opts.vocabSize})`,
        );
      }
      const j = this.position;
      // orders 1..j+2 end here; order j+2 starts at the BOS marker
      const maxK = Math.min(N, j + 2);
      for (let k = 1; k <= maxK; k++) {
        const parent = k === 1 ? 0 : this.prev[k - 2];
        const table = this.tables[k - 1];
        const before = table.size;
        const id = table.getOrInsert(parent * this.radix + t + 1);
        const counts = this.counts[k - 1];
        if (table.size > before) {
          counts.ensure(id);
          // a new (x g) gives its suffix g (order k − 1, ending here, never BOS-started) one more left context
          if (k >= 2) this.counts[k - 2].add(this.cur[k - 2], 1);
        }
        if (k === N || k === j + 2) counts.add(id, 1);
        this.cur[k - 1] = id;
      }
      [this.prev, this.cur] = [this.cur, this.prev];
      this.position++;
      this.tokens++;
    }
  }

  endDocument(): void {
    this.position = -1;
  }

  addDocument(tokens: ArrayLike<number>): void {
    this.addTokens(tokens);
    this.endDocument();
  }

  finish(): NgramCountData {
    this.endDocument();
    return {
      order: this.opts.order,
      vocabSize: this.opts.vocabSize,
      radix: this.radix,
      tables: this.tables,
      counts: this.counts.map((c) => c.view),
      bosId: this.bosId,
      documents: this.documents,
      tokens: this.tokens,
    };
  }
}
