// The data structures under the BPE trainer (bpe-trainer.ts) and encoder (bpe-encoder.ts), so that those
// files hold only their algorithms (minbpe's base.py pattern): open-addressing pair tables on Int32Arrays
// (JS Maps with non-Smi number keys were the bottleneck) — growable pair counts with a deterministic
// max-heap for training, a fixed pair → merged-piece table for encoding — a bounded segment cache for the
// encoder, and UTF-8 / code-point helpers. One pair hash serves both.

/** Hash of a symbol pair (left, right): two multiplicative mixes xored (32-bit, unsigned). */
export function pairHash(a: number, b: number): number {
  return (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) >>> 0;
}

/** pairHash with its high bits folded into the low ones, for small power-of-two tables. */
function mixedPairHash(a: number, b: number): number {
  const h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
  return h ^ (h >>> 15);
}

/** MergeTable.get's answer for a pair that is not a merge. */
export const EMPTY = -1;

/**
 * Distinct symbol pairs (left, right) → dense pair index, by open addressing on Int32Arrays (JS Maps
 * with non-Smi number keys were the bottleneck). Entries are never removed; a dead pair has count 0.
 */
export class PairCounts {
  left = new Int32Array(1 << 16);
  right = new Int32Array(1 << 16);
  count = new Int32Array(1 << 16);
  /** Step at which the pair was last pushed to `touched` (dedupes heap pushes). */
  stamp = new Int32Array(1 << 16).fill(-1);
  where: number[][] = [];
  size = 0;
  private slots = new Int32Array(1 << 17); // pair index + 1, 0 = empty
  /** Index of (a, b), creating it when absent. */
  index(a: number, b: number): number {
    let mask = this.slots.length - 1;
    let h = pairHash(a, b) & mask;
    for (;;) {
      const e = this.slots[h];
      if (e === 0) break;
      if (this.left[e - 1] === a && this.right[e - 1] === b) return e - 1;
      h = (h + 1) & mask;
    }
    const p = this.size++;
    if (p === this.left.length) this.grow();
    this.left[p] = a;
    this.right[p] = b;
    this.where.push([]);
    if (this.size * 2 > this.slots.length) {
      this.rehash();
      mask = this.slots.length - 1;
      h = pairHash(a, b) & mask;
      while (this.slots[h] !== 0) h = (h + 1) & mask;
    }
    this.slots[h] = p + 1;
    return p;
  }
  private grow(): void {
    const n = this.left.length * 2;
    const g = (old: Int32Array, fill = 0): Int32Array<ArrayBuffer> => {
      const x = new Int32Array(n).fill(fill);
      x.set(old);
      return x;
    };
    this.left = g(this.left);
    this.right = g(this.right);
    this.count = g(this.count);
    this.stamp = g(this.stamp, -1);
  }
  private rehash(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    const mask = this.slots.length - 1;
    for (let p = 0; p < this.size - 1; p++) {
      let h = pairHash(this.left[p], this.right[p]) & mask;
      while (this.slots[h] !== 0) h = (h + 1) & mask;
      this.slots[h] = p + 1;
    }
  }
}

/** Max-heap of (count, pair), ties broken by the smaller (left id, right id): deterministic. */
export class PairHeap {
  private counts = new Int32Array(1 << 16);
  private pairs = new Int32Array(1 << 16);
  size = 0;
  constructor(private readonly table: PairCounts) {}
  private above(i: number, j: number): boolean {
    const ci = this.counts[i];
    const cj = this.counts[j];
    if (ci !== cj) return ci > cj;
    const t = this.table;
    const pi = this.pairs[i];
    const pj = this.pairs[j];
    return t.left[pi] < t.left[pj] || (t.left[pi] === t.left[pj] && t.right[pi] < t.right[pj]);
  }
  private swap(i: number, j: number): void {
    const c = this.counts[i];
    this.counts[i] = this.counts[j];
    this.counts[j] = c;
    const k = this.pairs[i];
    this.pairs[i] = this.pairs[j];
    this.pairs[j] = k;
  }
  push(count: number, pair: number): void {
    if (this.size === this.counts.length) {
      const c = new Int32Array(this.size * 2);
      c.set(this.counts);
      this.counts = c;
      const k = new Int32Array(this.size * 2);
      k.set(this.pairs);
      this.pairs = k;
    }
    let i = this.size++;
    this.counts[i] = count;
    this.pairs[i] = pair;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  topCount(): number {
    return this.counts[0];
  }
  topPair(): number {
    return this.pairs[0];
  }
  pop(): void {
    this.size--;
    this.counts[0] = this.counts[this.size];
    this.pairs[0] = this.pairs[this.size];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.size && this.above(l, m)) m = l;
      if (r < this.size && this.above(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
  }
}

/** Pair (left symbol id, right symbol id) → merged piece id; open addressing, linear probing,
 *  slots interleaved as [left, right, value] so a probe touches one cache line. */
export class MergeTable {
  private readonly slots: Int32Array;
  private readonly mask: number;

  constructor(entries: number) {
    let cap = 16;
    while (cap < entries * 2) cap *= 2;
    this.slots = new Int32Array(cap * 3).fill(EMPTY);
    this.mask = cap - 1;
  }

  set(l: number, r: number, v: number): void {
    let i = mixedPairHash(l, r) & this.mask;
    while (this.slots[i * 3 + 2] !== EMPTY && (this.slots[i * 3] !== l || this.slots[i * 3 + 1] !== r))
      i = (i + 1) & this.mask;
    this.slots[i * 3] = l;
    this.slots[i * 3 + 1] = r;
    this.slots[i * 3 + 2] = v;
  }

  get(l: number, r: number): number {
    const slots = this.slots;
    let i = mixedPairHash(l, r) & this.mask;
    for (;;) {
      const o = i * 3;
      const v = slots[o + 2];
      if (v === EMPTY || (slots[o] === l && slots[o + 1] === r)) return v;
      i = (i + 1) & this.mask;
    }
  }
}

/**
 * Segment text → ids, bounded and allocation-free: open addressing over [hash, textOffset, length,
 * idOffset, idCount] slots, the segment's UTF-16 units and its ids in two pools. The hash is computed
 * by the caller while scanning (FNV-1a over units); a hit is confirmed by comparing the units. Cleared
 * when the table is half full or a pool is full. (A Map<string, ids> cost more than it saved: slicing
 * and hashing strings was as slow as re-encoding the short segments.)
 */
export class SegmentCache {
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly maxEntries: number;
  private readonly units: Uint16Array;
  private readonly ids: Int32Array;
  private entries = 0;
  private unitsUsed = 0;
  private idsUsed = 0;

  constructor(entries: number, maxLength: number) {
    let cap = 16;
    while (cap < entries * 2) cap *= 2;
    this.slots = new Int32Array(cap * 5);
    this.mask = cap - 1;
    this.maxEntries = entries;
    this.units = new Uint16Array(entries * Math.min(maxLength, 24));
    this.ids = new Int32Array(entries * 8);
  }

  /** Slot of text[a, b) with hash h, or -1 - (free slot) when absent. */
  find(text: string, a: number, b: number, h: number): number {
    const slots = this.slots,
      units = this.units;
    const len = b - a;
    for (let i = h & this.mask; ; i = (i + 1) & this.mask) {
      const o = i * 5;
      const l = slots[o + 2];
      if (l === 0) return -1 - i;
      if (l !== len || slots[o] !== h) continue;
      const off = slots[o + 1];
      let k = 0;
      while (k < len && units[off + k] === text.charCodeAt(a + k)) k++;
      if (k === len) return i;
    }
  }

  /** Append the ids of slot `slot` to out[at..]; returns the count. Caller ensures room. */
  idCount(slot: number): number {
    return this.slots[slot * 5 + 4];
  }
  copyIds(slot: number, out: Int32Array, at: number): void {
    const off = this.slots[slot * 5 + 3];
    out.set(this.ids.subarray(off, off + this.slots[slot * 5 + 4]), at);
  }

  /** Store text[a, b) → ids in free slot -1 - miss (from `find`); may clear instead when full. */
  insert(miss: number, text: string, a: number, b: number, h: number, ids: Int32Array, from: number, to: number): void {
    const len = b - a,
      n = to - from;
    if (
      this.entries >= this.maxEntries ||
      this.unitsUsed + len > this.units.length ||
      this.idsUsed + n > this.ids.length
    ) {
      if (len > this.units.length || n > this.ids.length) return;
      this.slots.fill(0);
      this.entries = this.unitsUsed = this.idsUsed = 0;
      miss = this.find(text, a, b, h);
    }
    const o = (-1 - miss) * 5;
    this.slots[o] = h;
    this.slots[o + 1] = this.unitsUsed;
    this.slots[o + 2] = len;
    this.slots[o + 3] = this.idsUsed;
    this.slots[o + 4] = n;
    for (let k = 0; k < len; k++) this.units[this.unitsUsed + k] = text.charCodeAt(a + k);
    this.ids.set(ids.subarray(from, to), this.idsUsed);
    this.unitsUsed += len;
    this.idsUsed += n;
    this.entries++;
  }
}

/** 16-bit hash of two BMP code units (multiplicative hashing, top bits). */
export function spanHash(x: number, y: number): number {
  return Math.imul((x << 16) | y, 0x9e3779b1) >>> 16;
}

/** Code points of a string (surrogate pairs joined). */
export function codePoints(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) out.push(ch.codePointAt(0)!);
  return out;
}

/** UTF-8 bytes of one code point. */
export function utf8Bytes(cp: number): number[] {
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 63)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
}
