// The project's one seeded PRNG, for everything that must be reproducible: CM3 span sampling, shuffles, data
// order, sampling during generation, dead-code restarts.
// Generator: xoshiro128** (Blackman & Vigna, https://prng.di.unimi.it/xoshiro128starstar.c) on 32-bit
// integer maths, seeded through splitmix32 so that nearby seeds give unrelated streams.
// `seedFrom` hashes strings and numbers with FNV-1a (32-bit) so each document can get its own stream:
// `Rng.fromParts(globalSeed, shardName, docIndex)`. The state is four uint32s, serializable for resume.

import { HyperlmError } from './errors.js';

/** The four 32-bit words of xoshiro128** state; never all zero. */
export type RngState = [number, number, number, number];

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnv1a(hash: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // two bytes per UTF-16 unit, so every string hashes differently from its byte-truncated twin
    hash = Math.imul(hash ^ (c & 0xff), FNV_PRIME);
    hash = Math.imul(hash ^ (c >>> 8), FNV_PRIME);
  }
  return hash >>> 0;
}

/** Hash a list of strings and numbers to a 32-bit seed; the type and a separator are hashed too, so ("1","2") ≠ ("12") ≠ (1, 2). */
export function seedFrom(...parts: (string | number)[]): number {
  let h = FNV_OFFSET;
  for (const p of parts) {
    if (typeof p === 'number' && !Number.isFinite(p)) {
      throw new HyperlmError('CONFIG_BAD_VALUE', `seedFrom: seed part must be finite, got ${p}`);
    }
    h = fnv1a(h, (typeof p === 'number' ? 'n:' : 's:') + String(p) + '\u0000');
  }
  return h >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** splitmix32 step: expands one 32-bit seed into well-mixed words for the xoshiro state. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) >>> 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng {
  private s: Uint32Array;

  private constructor(state: RngState) {
    this.s = Uint32Array.from(state);
  }

  /** A generator from a 32-bit seed (any number; it is reduced modulo 2^32). */
  static fromSeed(seed: number): Rng {
    if (!Number.isFinite(seed))
      throw new HyperlmError('CONFIG_BAD_VALUE', `Rng.fromSeed: seed must be finite, got ${seed}`);
    const sm = { s: seed >>> 0 }; // ToUint32: truncation then modulo 2^32
    const st: RngState = [splitmix32(sm), splitmix32(sm), splitmix32(sm), splitmix32(sm)];
    if ((st[0] | st[1] | st[2] | st[3]) === 0) st[0] = 1;
    return new Rng(st);
  }

  /** `Rng.fromSeed(seedFrom(...parts))`: the per-document stream. */
  static fromParts(...parts: (string | number)[]): Rng {
    return Rng.fromSeed(seedFrom(...parts));
  }

  /** Restore a generator saved with `getState()`. */
  static fromState(state: RngState): Rng {
    const r = Rng.fromSeed(0);
    r.setState(state);
    return r;
  }

  /** A child stream derived from the current state and a label; does not advance this generator. */
  fork(label: string | number): Rng {
    return Rng.fromParts(this.s[0], this.s[1], this.s[2], this.s[3], label);
  }

  getState(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }

  setState(state: RngState): void {
    const ok =
      Array.isArray(state) &&
      state.length === 4 &&
      state.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff) &&
      state.some((w) => w !== 0);
    if (!ok)
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `Rng.setState: state must be four uint32 words, not all zero, got ${JSON.stringify(state)}`,
      );
    this.s = Uint32Array.from(state);
  }

  /** Next raw 32-bit output (xoshiro128**). */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling); 1 ≤ n ≤ 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x100000000) {
      throw new HyperlmError('CONFIG_BAD_VALUE', `Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    // reject the top partial block of 2^32 so every residue is equally likely
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Fisher–Yates shuffle of `a` in place (Durstenfeld's variant), drawing from this generator; returns `a`. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A `() => number` uniform in [0, 1) that advances this generator, for code that takes a plain function. */
  uniformFn(): () => number {
    return () => this.uniform();
  }

  /**
   * Poisson(lambda) by Knuth's multiplication method, in chunks of λ ≤ 30 (a sum of independent
   * Poissons is Poisson), so exp(-λ) never underflows. O(λ) time, fine for the small λ used here.
   */
  poisson(lambda: number): number {
    if (!Number.isFinite(lambda) || lambda < 0) {
      throw new HyperlmError('CONFIG_BAD_VALUE', `Rng.poisson: lambda must be finite and ≥ 0, got ${lambda}`);
    }
    let total = 0;
    let rest = lambda;
    while (rest > 0) {
      const chunk = Math.min(rest, 30);
      rest -= chunk;
      const limit = Math.exp(-chunk);
      let p = this.uniform();
      while (p > limit) {
        total++;
        p *= this.uniform();
      }
    }
    return total;
  }
}
