// SentencePiece BPE encoding in TypeScript, id for id the same as spm's `bpe::Model::Encode`
// (google/sentencepiece src/bpe_model.cc, SampleEncode with alpha 0) followed by the byte fallback
// of SentencePieceProcessor::Encode. Unlike sentencepiece-js (the same C++ compiled to WASM), which
// tokenizer.ts keeps as the reference path, it cuts the text into independently encoded segments, caches
// them and keeps all state in typed arrays; the tests check both against each other and Debian's spm_encode.
// Shared pair tables and caches are bpe-tables.ts; unsupported models throw TOKENIZER_BAD_MODEL.

import { HyperlmError } from '../errors.js';
import { PieceType, type SpmModel } from './spm-model.js';
import { codePoints, EMPTY, MergeTable, SegmentCache, spanHash, utf8Bytes } from './bpe-tables.js';
import { bytePiece } from './vocab.js';

export interface BpeEncoderOptions {
  /** Cached segments before the cache is cleared; bounds memory (~100 B per entry); 0 disables it. */
  cacheEntries: number;
  /** Longest segment (UTF-16 units) that is cached: longer ones rarely repeat and fill the pools. */
  cacheMaxLength: number;
}

export const BPE_ENCODER_DEFAULTS: BpeEncoderOptions = { cacheEntries: 1 << 16, cacheMaxLength: 32 };

/** Heap keys are rank * LEFT_SCALE + left symbol; exact in a double while rank < 2^23. */
const LEFT_SCALE = 1 << 26;
/** Symbols whose pairs are looked up in a dense table (DENSE² uint16 = 512 KiB) instead of hashing. */
const DENSE = 512;
const DENSE_EMPTY = 0xffff;
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/**
 * spm's algorithm on the normalized text (identity normalizer here, so the text itself):
 *  1. split into symbols: at each position the longest USER_DEFINED piece (frozen, never merged),
 *     else one character;
 *  2. every adjacent pair of unfrozen symbols whose concatenation is a piece (NORMAL, USER_DEFINED or
 *     UNUSED — spm's `pieces_`) enters a priority queue by (score desc, left position asc);
 *  3. pop; skip stale entries (a side already merged away, or sizes changed); merge; queue the two
 *     new neighbouring pairs;
 *  4. each symbol → PieceToId (reserved pieces first), unknown → its UTF-8 bytes as <0xXX> pieces.
 * How this differs in execution, not in result:
 *  - merges never cross a frozen symbol, nor a boundary between characters x|y when no mergeable piece
 *    contains the bigram "xy" (a bitset of the model's bigrams; this includes every newline), so the text
 *    is cut there into segments encoded alone; segments of up to `cacheMaxLength` units go through a
 *    bounded, allocation-free segment → ids cache (words, attribute values, indentation, tag neighbourhoods);
 *  - pairs are looked up by (left symbol id, right symbol id) — in a dense table for ASCII and the
 *    best-ranked pieces, else an open-addressing table — built from every split of every piece into
 *    two symbol-able halves (a piece, or a single character given an extra id): the same test as
 *    spm's string lookup, without building strings;
 *  - symbols, links and the heap live in reused typed arrays (no per-symbol objects); a heap key is
 *    one double, score rank * 2^26 + left position.
 * Unsupported models (not BPE, a non-identity normalizer, UNUSED pieces whose resegmentation we do not
 * implement) are rejected with TOKENIZER_BAD_MODEL, so the caller can fall back to sentencepiece-js.
 */
export class BpeEncoder {
  private readonly opts: BpeEncoderOptions;
  /** spm pieces in the model; symbol ids >= this are characters that are not pieces. */
  private readonly nPieces: number;
  private readonly rank: Int32Array; // [nPieces] 0 for the highest score; equal scores share a rank
  private readonly pairs: MergeTable;
  /** Symbol id → slot in densePairs (-1: use `pairs`), for the DENSE most common symbols. */
  private readonly dense: Int32Array;
  private readonly densePairs: Uint16Array; // [DENSE * DENSE] merged piece id or DENSE_EMPTY
  /** BMP character → symbol id (piece id, extra id >= nPieces, or -1: never part of a pair). */
  private readonly bmpSymbol: Int32Array;
  private readonly astralSymbol = new Map<number, number>();
  /** Structure-token trie over UTF-16 units: node*65536+unit → child; terminal length per node. */
  private readonly trie = new Map<number, number>();
  private readonly trieId: number[] = [-1]; // piece id ending at each node, -1 if none
  private readonly userFirst = new Int32Array(65536); // trie node after this first unit, 0 when none
  /** Pieces spm's PieceToId finds first (CONTROL, UNKNOWN, BYTE). */
  private readonly reserved = new Map<string, number>();
  private readonly byteIds: Int32Array; // [256] <0xXX> ids (unk when absent)
  private readonly unk: number;
  private readonly byteFallback: boolean;
  /**
   * Bit h(x, y) is set for every adjacent pair of BMP characters x, y inside a mergeable piece. When it
   * is clear, no piece spans the boundary between x and y, so the text is cut there (see `encode`).
   */
  private readonly spanBits = new Int32Array(2048);
  private readonly cache: SegmentCache | null;

  // Scratch, grown on demand: symbols of the current segment and the pair heap.
  private symId = new Int32Array(256);
  private symLen = new Int32Array(256); // length in UTF-16 units, 0 once merged away
  private symNext = new Int32Array(256);
  private symPrev = new Int32Array(256);
  /**
   * Min-heap of queued pairs. Key = rank * LEFT_SCALE + left, where rank orders the merged piece's score
   * (0 = highest), so one comparison is spm's (score desc, left asc). Aux = piece << 8 | pair length.
   */
  private hKey = new Float64Array(512);
  private hAux = new Int32Array(512);
  private out = new Int32Array(1024);
  private outLen = 0;

  private constructor(model: SpmModel, opts: BpeEncoderOptions, source: string) {
    this.opts = opts;
    this.cache =
      opts.cacheEntries > 0 && opts.cacheMaxLength > 0
        ? new SegmentCache(opts.cacheEntries, opts.cacheMaxLength)
        : null;
    const pieces = model.pieces;
    this.nPieces = pieces.length;
    this.byteFallback = model.trainerSpec.byteFallback;
    if (pieces.length >= 1 << 23)
      throw new HyperlmError(
        'TOKENIZER_BAD_MODEL',
        `${source}: ${pieces.length} pieces; the JS encoder packs ids in 23 bits`,
      );
    const normal = new Map<string, number>(); // spm's pieces_
    let unk = -1;
    pieces.forEach((p, i) => {
      const mergeable = p.type === PieceType.NORMAL || p.type === PieceType.USER_DEFINED || p.type === PieceType.UNUSED;
      const map = mergeable ? normal : this.reserved;
      if (map.has(p.piece))
        throw new HyperlmError(
          'TOKENIZER_BAD_MODEL',
          `${source}: piece ${JSON.stringify(p.piece)} (id ${i}) is defined twice`,
        );
      map.set(p.piece, i);
      if (p.type === PieceType.UNKNOWN) unk = i;
      if (p.type === PieceType.USER_DEFINED) this.addUserDefined(p.piece, i);
    });
    // spm compares float32 scores; rank them once so the heap compares one number.
    const scores = [...new Set(pieces.map((p) => p.score))].sort((x, y) => y - x);
    const rankOf = new Map(scores.map((sc, r) => [sc, r]));
    this.rank = Int32Array.from(pieces, (p) => rankOf.get(p.score)!);
    if (unk < 0) throw new HyperlmError('TOKENIZER_BAD_MODEL', `${source}: no UNKNOWN piece`);
    this.unk = unk;
    this.byteIds = new Int32Array(256).map((_, b) => this.reserved.get(bytePiece(b)) ?? unk);

    this.bmpSymbol = new Int32Array(65536).fill(-1);
    let extra = pieces.length;
    const symbolOf = (cps: number[], s: string): number => {
      const id = normal.get(s);
      if (id !== undefined) return id;
      if (cps.length !== 1) return -1;
      const cp = cps[0];
      const known = cp < 65536 ? this.bmpSymbol[cp] : (this.astralSymbol.get(cp) ?? -1);
      if (known >= 0) return known;
      if (cp < 65536) this.bmpSymbol[cp] = extra;
      else this.astralSymbol.set(cp, extra);
      return extra++;
    };
    for (const [s, id] of normal) {
      const cps = codePoints(s);
      if (cps.length === 1) {
        if (cps[0] < 65536) this.bmpSymbol[cps[0]] = id;
        else this.astralSymbol.set(cps[0], id);
      }
    }
    const splits: Array<[number, number, number]> = [];
    for (const [s, id] of normal) {
      const cps = codePoints(s);
      if (cps.length < 2) continue;
      if (s.length > 255)
        throw new HyperlmError(
          'TOKENIZER_BAD_MODEL',
          `${source}: piece ${id} is ${s.length} UTF-16 units long; the JS encoder allows 255`,
        );
      for (let k = 1; k < cps.length; k++) {
        if (cps[k - 1] < 65536 && cps[k] < 65536) {
          const h = spanHash(cps[k - 1], cps[k]);
          this.spanBits[h >>> 5] |= 1 << (h & 31);
        }
      }
      let cut = 0; // UTF-16 offset of split k
      for (let k = 1; k < cps.length; k++) {
        cut += cps[k - 1] > 0xffff ? 2 : 1;
        const l = symbolOf(cps.slice(0, k), s.slice(0, cut));
        const r = symbolOf(cps.slice(k), s.slice(cut));
        if (l >= 0 && r >= 0) splits.push([l, r, id]);
      }
    }
    this.pairs = new MergeTable(splits.length);
    for (const [l, r, id] of splits) this.pairs.set(l, r, id);
    // Dense slots: ASCII characters, then the best-ranked pieces (the most frequent merges).
    this.dense = new Int32Array(extra).fill(-1);
    let d = pieces.length < DENSE_EMPTY ? 0 : DENSE; // ids must fit in uint16, else no dense table
    for (let c = 0; c < 128 && d < DENSE; c++) if (this.bmpSymbol[c] >= 0) this.dense[this.bmpSymbol[c]] = d++;
    const byRank = [...normal.values()].sort((x, y) => this.rank[x] - this.rank[y] || x - y);
    for (const id of byRank) {
      if (d === DENSE) break;
      if (this.dense[id] < 0) this.dense[id] = d++;
    }
    this.densePairs = new Uint16Array(DENSE * DENSE).fill(DENSE_EMPTY);
    for (const [l, r, id] of splits) {
      if (this.dense[l] >= 0 && this.dense[r] >= 0) this.densePairs[this.dense[l] * DENSE + this.dense[r]] = id;
    }
  }

  /**
   * Build an encoder for a decoded `.model`. Throws TOKENIZER_BAD_MODEL for models whose spm encoding
   * this file does not reproduce: not BPE, a normalizer other than plain identity, or UNUSED pieces.
   */
  static fromModel(model: SpmModel, options: Partial<BpeEncoderOptions> = {}, source = 'model'): BpeEncoder {
    const bad = (why: string): never => {
      throw new HyperlmError('TOKENIZER_BAD_MODEL', `${source}: JS BPE encoder unsupported: ${why}`);
    };
    if (model.trainerSpec.modelType !== 2)
      bad(`trainer_spec.model_type is ${model.trainerSpec.modelType}, not 2 (BPE)`);
    const n = model.normalizerSpec;
    if (n.name !== 'identity') bad(`normalizer_spec.name is ${JSON.stringify(n.name)}, not "identity"`);
    if (n.addDummyPrefix || n.removeExtraWhitespaces || n.escapeWhitespaces) {
      bad('normalizer_spec add_dummy_prefix/remove_extra_whitespaces/escape_whitespaces must all be false');
    }
    const unused = model.pieces.findIndex((p) => p.type === PieceType.UNUSED);
    if (unused >= 0) bad(`piece ${unused} is UNUSED (spm resegments those; not implemented)`);
    const opts = { ...BPE_ENCODER_DEFAULTS, ...options };
    for (const k of ['cacheEntries', 'cacheMaxLength'] as const) {
      if (!Number.isInteger(opts[k]) || opts[k] < 0)
        throw new HyperlmError('CONFIG_BAD_VALUE', `options.${k} must be a non-negative integer, got ${opts[k]}`);
    }
    return new BpeEncoder(model, opts, source);
  }

  private addUserDefined(piece: string, id: number): void {
    if (piece.length === 0) return;
    let node = 0;
    for (let i = 0; i < piece.length; i++) {
      const key = node * 65536 + piece.charCodeAt(i);
      let child = this.trie.get(key);
      if (child === undefined) {
        child = this.trieId.length;
        this.trieId.push(-1);
        this.trie.set(key, child);
      }
      node = child;
    }
    this.trieId[node] = id;
    this.userFirst[piece.charCodeAt(0)] = this.trie.get(piece.charCodeAt(0))!;
  }

  /** Longest user-defined piece at text[i..]: its id in `matchId`, its length returned (0: none). */
  private matchId = -1;
  private matchUser(text: string, i: number): number {
    let node = this.userFirst[text.charCodeAt(i)];
    let best = 0;
    if (this.trieId[node] >= 0) {
      best = 1;
      this.matchId = this.trieId[node];
    }
    for (let j = i + 1; j < text.length; j++) {
      const child = this.trie.get(node * 65536 + text.charCodeAt(j));
      if (child === undefined) break;
      node = child;
      if (this.trieId[node] >= 0) {
        best = j - i + 1;
        this.matchId = this.trieId[node];
      }
    }
    return best;
  }

  /**
   * Text → spm ids (no bos/eos), as spm's Encode would give for this text. Lone surrogates are read as
   * U+FFFD (callers normally pass sanitizeText output already).
   */
  encode(text: string): Int32Array {
    this.outLen = 0;
    let segStart = 0;
    let prev = -1; // previous UTF-16 unit in the current segment, -1 at its start
    let h = FNV_OFFSET; // FNV-1a of the current segment's units
    const userFirst = this.userFirst,
      spanBits = this.spanBits;
    for (let i = 0; i < text.length;) {
      const c = text.charCodeAt(i);
      if (userFirst[c] !== 0) {
        const m = this.matchUser(text, i);
        if (m > 0) {
          if (segStart < i) this.segment(text, segStart, i, h);
          this.push(this.matchId);
          i += m;
          segStart = i;
          prev = -1;
          h = FNV_OFFSET;
          continue;
        }
      }
      // Cut where no piece spans prev|c (both BMP, not surrogates): merges never cross such a boundary.
      if (prev >= 0 && (c & 0xf800) !== 0xd800 && (prev & 0xf800) !== 0xd800) {
        const sh = spanHash(prev, c);
        if ((spanBits[sh >>> 5] & (1 << (sh & 31))) === 0) {
          this.segment(text, segStart, i, h);
          segStart = i;
          h = FNV_OFFSET;
        }
      }
      h = Math.imul(h ^ c, FNV_PRIME);
      prev = c;
      i++;
    }
    if (segStart < text.length) this.segment(text, segStart, text.length, h);
    let ids = this.out.slice(0, this.outLen);
    if (!this.byteFallback) ids = ids.filter((id, k) => id !== this.unk || k === 0 || ids[k - 1] !== this.unk);
    return ids;
  }

  private push(id: number): void {
    if (this.outLen === this.out.length) this.reserve(1);
    this.out[this.outLen++] = id;
  }

  /** Room for n more ids in `out`. */
  private reserve(n: number): void {
    if (this.outLen + n <= this.out.length) return;
    const next = new Int32Array(Math.max(this.out.length * 2, this.outLen + n));
    next.set(this.out.subarray(0, this.outLen));
    this.out = next;
  }

  /** Encode text[a, b) (no structure token starts inside it; FNV-1a hash h) into `out`, through the cache. */
  private segment(text: string, a: number, b: number, h: number): void {
    const cache = this.cache;
    if (cache === null || b - a > this.opts.cacheMaxLength) {
      this.bpe(text, a, b);
      return;
    }
    const slot = cache.find(text, a, b, h);
    if (slot >= 0) {
      const n = cache.idCount(slot);
      this.reserve(n);
      cache.copyIds(slot, this.out, this.outLen);
      this.outLen += n;
      return;
    }
    const from = this.outLen;
    this.bpe(text, a, b);
    cache.insert(slot, text, a, b, h, this.out, from, this.outLen);
  }

  private grow(n: number): void {
    if (n > this.symId.length) {
      const cap = Math.max(n, this.symId.length * 2);
      this.symId = new Int32Array(cap);
      this.symLen = new Int32Array(cap);
      this.symNext = new Int32Array(cap);
      this.symPrev = new Int32Array(cap);
    }
    // at most n-1 initial pairs plus 2 per merge (n-1 merges)
    const entries = 3 * n;
    if (entries > this.hKey.length) {
      const cap = Math.max(entries, this.hKey.length * 2);
      this.hKey = new Float64Array(cap);
      this.hAux = new Int32Array(cap);
    }
  }

  /** spm's BPE merge loop on text[a, b), then symbols → ids into `out`. */
  private bpe(text: string, a: number, b: number): void {
    if (b - a >= LEFT_SCALE) {
      throw new HyperlmError(
        'DOC_TOO_LARGE',
        `BPE encoder: a run of ${b - a} characters without a newline or structure token (limit ${LEFT_SCALE})`,
      );
    }
    if (b - a === 1) {
      // one character: no pairs (common between cuts)
      const c = text.charCodeAt(a);
      const id = this.bmpSymbol[(c & 0xf800) === 0xd800 ? 0xfffd : c]; // alone, a surrogate is lone
      if (id >= 0 && id < this.nPieces) this.push(id);
      else this.unknownSymbol(text, a);
      return;
    }
    this.grow(b - a);
    const symId = this.symId,
      symLen = this.symLen,
      next = this.symNext,
      prev = this.symPrev;
    const bmp = this.bmpSymbol;
    let n = 0;
    for (let i = a; i < b;) {
      let cp = text.charCodeAt(i);
      let w = 1;
      if (cp >= 0xd800 && cp < 0xe000) {
        const lo = i + 1 < b ? text.charCodeAt(i + 1) : 0;
        if (cp < 0xdc00 && lo >= 0xdc00 && lo < 0xe000) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          w = 2;
        } else cp = 0xfffd;
      }
      symId[n] = cp < 65536 ? bmp[cp] : (this.astralSymbol.get(cp) ?? -1);
      symLen[n] = w;
      prev[n] = n - 1;
      next[n] = n + 1;
      n++;
      i += w;
    }
    next[n - 1] = -1;

    // Initial pairs in left order, then heapify.
    let size = 0;
    for (let i = 1; i < n; i++) if (this.pairEntry(size, i - 1, i)) size++;
    for (let k = (size >> 1) - 1; k >= 0; k--) this.siftDown(k, size);

    const hKey = this.hKey,
      hAux = this.hAux;
    while (size > 0) {
      const key = hKey[0],
        aux = hAux[0];
      size--;
      if (size > 0) {
        hKey[0] = hKey[size];
        hAux[0] = hAux[size];
        this.siftDown(0, size);
      }
      // spm's staleness test: either side merged away or a side grew since the pair was queued.
      const l = key & (LEFT_SCALE - 1); // ToInt32 keeps the low 32 bits, and LEFT_SCALE divides 2^32
      const r = next[l];
      if (r < 0 || symLen[l] === 0 || symLen[l] + symLen[r] !== (aux & 255)) continue;
      symId[l] = aux >>> 8;
      symLen[l] += symLen[r];
      symLen[r] = 0;
      const rn = next[r];
      next[l] = rn;
      if (rn >= 0) prev[rn] = l;
      if (prev[l] >= 0 && this.pairEntry(size, prev[l], l)) size = this.siftUp(size);
      if (rn >= 0 && this.pairEntry(size, l, rn)) size = this.siftUp(size);
    }

    let pos = a;
    for (let i = 0; i >= 0; i = next[i]) {
      const id = symId[i];
      if (id >= 0 && id < this.nPieces) this.push(id);
      else this.unknownSymbol(text, pos);
      pos += symLen[i];
    }
  }

  /** Write heap slot `slot` for the pair (l, r) if their concatenation is a piece. */
  private pairEntry(slot: number, l: number, r: number): boolean {
    const il = this.symId[l],
      ir = this.symId[r];
    if (il < 0 || ir < 0) return false;
    const dl = this.dense[il],
      dr = this.dense[ir];
    let piece: number;
    if ((dl | dr) >= 0) {
      piece = this.densePairs[dl * DENSE + dr];
      if (piece === DENSE_EMPTY) return false;
    } else {
      piece = this.pairs.get(il, ir);
      if (piece === EMPTY) return false;
    }
    this.hKey[slot] = this.rank[piece] * LEFT_SCALE + l;
    this.hAux[slot] = (piece << 8) | (this.symLen[l] + this.symLen[r]);
    return true;
  }

  /** Sift the entry at slot `size` up; returns the new heap size. */
  private siftUp(size: number): number {
    const hKey = this.hKey,
      hAux = this.hAux;
    const key = hKey[size],
      aux = hAux[size];
    let k = size;
    while (k > 0) {
      const parent = (k - 1) >> 1;
      if (hKey[parent] <= key) break;
      hKey[k] = hKey[parent];
      hAux[k] = hAux[parent];
      k = parent;
    }
    hKey[k] = key;
    hAux[k] = aux;
    return size + 1;
  }

  private siftDown(k: number, size: number): void {
    const hKey = this.hKey,
      hAux = this.hAux;
    const key = hKey[k],
      aux = hAux[k];
    for (;;) {
      let c = 2 * k + 1;
      if (c >= size) break;
      if (c + 1 < size && hKey[c + 1] < hKey[c]) c++;
      if (hKey[c] >= key) break;
      hKey[k] = hKey[c];
      hAux[k] = hAux[c];
      k = c;
    }
    hKey[k] = key;
    hAux[k] = aux;
  }

  /** A one-character symbol that is not a mergeable piece: reserved piece, else byte fallback, else unk. */
  private unknownSymbol(text: string, pos: number): void {
    let cp = text.codePointAt(pos)!;
    if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd; // lone surrogate, read as U+FFFD
    const reserved = this.reserved.get(String.fromCodePoint(cp));
    if (reserved !== undefined && reserved !== this.unk) {
      this.push(reserved);
      return;
    }
    if (!this.byteFallback) {
      this.push(this.unk);
      return;
    }
    for (const byte of utf8Bytes(cp)) this.push(this.byteIds[byte]);
  }
}
