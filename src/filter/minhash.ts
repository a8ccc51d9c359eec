// MinHash signatures with banded LSH for near-duplicate documents (Broder 1997; Gopher, Rae et al. 2021,
// §A.1.1; datatrove's MinhashDedupSignature). The defaults are datatrove's MinhashConfig: word 5-gram
// shingles, 14 bands × 8 rows = 112 hashes, 32-bit. Two documents with Jaccard similarity s share a band
// with probability 1 − (1 − s⁸)¹⁴: 0.92 at s = 0.8, 0.5 near s = 0.72, 0.05 at s = 0.53.
// Differences from datatrove: words are runs of letters/digits after NFKC + lower-casing (datatrove:
// simplify_text + NLTK word_tokenize); a shingle hashes its words' FNV-1a hashes (datatrove: sha1 → 32 bits);
// hash k is the bijection fmix32(a_k·x + b_k mod 2³²) (datatrove: (a_k·x + b_k) mod 2⁶¹−1, masked to 32
// bits). Pure functions only: dedup.ts keeps the index.

export interface MinhashConfig {
  /** Words per shingle. 5: short enough to survive a few changed words, long enough that shingles are rare (datatrove, Gopher). */
  ngrams: number;
  /** LSH bands. 14 × 8 puts the similarity threshold near (1/14)^(1/8) ≈ 0.72 (datatrove). */
  bands: number;
  /** Hashes per band. */
  rows: number;
  /** Seed of the hash family; shards of one corpus must share it (datatrove: 1). */
  seed: number;
}

export const DEFAULT_MINHASH: MinhashConfig = { ngrams: 5, bands: 14, rows: 8, seed: 1 };

/** Lower-cased NFKC words: maximal runs of letters, marks and digits (punctuation and markup are separators). */
export function words(text: string): string[] {
  return (
    text
      .normalize('NFKC')
      .toLowerCase()
      .match(/[\p{L}\p{M}\p{N}]+/gu) ?? []
  );
}

/** FNV-1a over UTF-16 code units, finished with murmur3's fmix32 so nearby strings spread. */
export function hashString32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return fmix32(h);
}

/** murmur3's 32-bit finalizer: a bijection on 32-bit integers with full avalanche. */
export function fmix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Distinct shingle hashes of a text's word n-grams; none when it has fewer than `ngrams` words (as
 * datatrove). A shingle's hash combines its words' hashes in order (FNV-style, then fmix32) rather than
 * hashing the joined string: the same set semantics without building a string per shingle (several times faster; BENCHMARKS.md, "Measurements").
 */
export function shingles(text: string, ngrams: number): Uint32Array {
  const w = words(text);
  const hw = new Uint32Array(w.length);
  for (let i = 0; i < w.length; i++) hw[i] = hashString32(w[i]);
  const out = new Set<number>();
  for (let i = 0; i + ngrams <= w.length; i++) {
    let h = 0x811c9dc5;
    for (let j = i; j < i + ngrams; j++) h = Math.imul(h ^ hw[j], 0x01000193);
    out.add(fmix32(h));
  }
  return Uint32Array.from(out);
}

const families = new Map<string, { a: Uint32Array; b: Uint32Array }>();

/** The hash family of a config: odd multipliers a_k and offsets b_k from splitmix32(seed). */
function family(config: MinhashConfig): { a: Uint32Array; b: Uint32Array } {
  const n = config.bands * config.rows;
  const key = `${config.seed}:${n}`;
  let f = families.get(key);
  if (!f) {
    let state = config.seed >>> 0;
    const next = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      return fmix32(state);
    };
    f = { a: new Uint32Array(n), b: new Uint32Array(n) };
    for (let k = 0; k < n; k++) {
      f.a[k] = next() | 1;
      f.b[k] = next();
    }
    families.set(key, f);
  }
  return f;
}

/** The bands·rows minimum hashes of a shingle set; undefined for an empty set (nothing to compare). */
export function signature(sh: Uint32Array, config: MinhashConfig): Uint32Array | undefined {
  if (sh.length === 0) return undefined;
  const { a, b } = family(config);
  const sig = new Uint32Array(a.length).fill(0xffffffff);
  for (let i = 0; i < sh.length; i++) {
    const x = sh[i];
    for (let k = 0; k < sig.length; k++) {
      const h = fmix32(Math.imul(a[k], x) + b[k]);
      if (h < sig[k]) sig[k] = h;
    }
  }
  return sig;
}

/**
 * One key per band: two independent 32-bit hashes of the band's rows, packed into a 53-bit integer
 * (a JS number). Documents whose keys agree in any band are near-duplicate candidates.
 */
export function bandKeys(sig: Uint32Array, config: MinhashConfig): number[] {
  const keys: number[] = [];
  for (let band = 0; band < config.bands; band++) {
    let h1 = 0x811c9dc5 ^ band;
    let h2 = 0x2545f491 ^ band;
    for (let r = band * config.rows; r < (band + 1) * config.rows; r++) {
      h1 = Math.imul(h1 ^ sig[r], 0x01000193);
      h2 = Math.imul(h2 ^ fmix32(sig[r] ^ 0x5bd1e995), 0x27d4eb2f);
    }
    keys.push((fmix32(h1) & 0x1fffff) * 0x100000000 + fmix32(h2));
  }
  return keys;
}

/** The fraction of signature positions that agree: an unbiased estimate of the Jaccard similarity. */
export function estimatedJaccard(x: Uint32Array, y: Uint32Array): number {
  let same = 0;
  for (let k = 0; k < x.length; k++) if (x[k] === y[k]) same++;
  return same / x.length;
}
