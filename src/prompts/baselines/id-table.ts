// A hash table from packed integer keys (0 ≤ key < 2^53, e.g. prefixId · radix + token) to dense ids
// 0, 1, 2, … in insertion order, for the n-gram baseline (ngram-trainer.ts). Open addressing with linear
// probing: the slots hold ids (Int32Array, −1 = empty) and the keys live once, in id order, in a Float64Array,
// so an entry costs 8 bytes of key plus 4 bytes per slot at a load factor kept between 0.35 and 0.7 — about
// 16 bytes, against ~80 for a JS Map entry with a non-Smi key, and with no Map's 2^24-entry ceiling.
// Also here: GrowableInt32, the doubling array the trainer keeps per-n-gram counts in.

import { HyperlmError } from '../../errors.js';

const EMPTY = -1;
const MAX_LOAD = 0.7;
const TWO_32 = 4294967296;

function hashKey(key: number): number {
  const lo = key >>> 0; // ToUint32 is exact modulo 2^32 for integers below 2^53
  const hi = Math.floor(key / TWO_32);
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class PackedIdTable {
  private slots: Int32Array;
  private keys: Float64Array;
  private count = 0;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < initialCapacity / MAX_LOAD) cap *= 2;
    this.slots = new Int32Array(cap).fill(EMPTY);
    this.keys = new Float64Array(Math.ceil(cap * MAX_LOAD));
  }

  get size(): number {
    return this.count;
  }

  /** The key stored under `id`. */
  keyOf(id: number): number {
    return this.keys[id];
  }

  /** The id of `key`, or −1. */
  get(key: number): number {
    const mask = this.slots.length - 1;
    for (let s = hashKey(key) & mask; ; s = (s + 1) & mask) {
      const id = this.slots[s];
      if (id === EMPTY || this.keys[id] === key) return id;
    }
  }

  /** The id of `key`, inserting it with the next id when absent (compare `size` before and after to tell). */
  getOrInsert(key: number): number {
    const mask = this.slots.length - 1;
    let s = hashKey(key) & mask;
    for (; ; s = (s + 1) & mask) {
      const id = this.slots[s];
      if (id === EMPTY) break;
      if (this.keys[id] === key) return id;
    }
    const id = this.count++;
    if (id >= this.keys.length) this.keys = grow(this.keys, this.keys.length * 2);
    this.keys[id] = key;
    this.slots[s] = id;
    if (this.count > this.slots.length * MAX_LOAD) this.rehash();
    return id;
  }

  /** Bytes held by the typed arrays. */
  get bytes(): number {
    return this.slots.byteLength + this.keys.byteLength;
  }

  private rehash(): void {
    if (this.slots.length >= 2 ** 30)
      throw new HyperlmError('CONFIG_BAD_VALUE', `n-gram table: more than ${this.count} entries`);
    const slots = new Int32Array(this.slots.length * 2).fill(EMPTY);
    const mask = slots.length - 1;
    for (let id = 0; id < this.count; id++) {
      let s = hashKey(this.keys[id]) & mask;
      while (slots[s] !== EMPTY) s = (s + 1) & mask;
      slots[s] = id;
    }
    this.slots = slots;
  }
}

function grow<T extends Float64Array | Int32Array | Uint8Array>(a: T, length: number): T {
  const out = new (a.constructor as new (n: number) => T)(length);
  out.set(a);
  return out;
}

/** An Int32Array that doubles when written past its end; `view` is the filled prefix. */
export class GrowableInt32 {
  private data = new Int32Array(1024);
  length = 0;

  /** Make index i writable (new cells are 0). */
  ensure(i: number): void {
    if (i >= this.data.length) this.data = grow(this.data, Math.max(this.data.length * 2, i + 1));
    if (i >= this.length) this.length = i + 1;
  }

  get(i: number): number {
    return this.data[i];
  }

  add(i: number, delta: number): void {
    this.data[i] += delta;
  }

  get view(): Int32Array {
    return this.data.subarray(0, this.length);
  }
}
