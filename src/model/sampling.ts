// Picking the next token from one row of logits: greedy, temperature, top-k and top-p (nucleus, Holtzman
// et al. 2019). Candidates come from a partial selection (a k-element heap, O(V log k)) instead of a
// comparator sort of the whole vocabulary (in JS, for 12k ids, slower than a decode step itself); only a
// nucleus spanning most of the vocabulary sorts it all, with a native numeric sort. Candidates rank by logit,
// ties by lower id (what a stable full sort gives), so top-k/top-p pick the same token for the same random
// draw as sorting everything would (test/model-sampling.test.ts). Plain temperature sampling needs no order
// and inverts the CDF in id order. `maskAllowed` restricts a row to id ranges (−∞ elsewhere); masked ids have
// probability 0 and are never returned, even when rounding leaves the inverted CDF short. Used by generate.ts.

export interface SamplingOptions {
  /** 0 (default) is greedy; otherwise logits are divided by it before sampling. */
  temperature?: number;
  /** Sample only among the k most likely tokens (0 = off). */
  topK?: number;
  /** Sample only among the smallest set of tokens whose probability reaches p (1 = off). */
  topP?: number;
}

// Top-p without top-k first looks at this many candidates, then at enough more (≥ 4×) to hold the nucleus.
const NUCLEUS_START = 64;

/** Pick a token id from one row of logits [V]. */
export function sampleToken(row: Float32Array, opts: SamplingOptions, random: () => number): number {
  const temperature = opts.temperature ?? 0;
  if (temperature <= 0) return argmax(row);
  const V = row.length;
  const topK = opts.topK && opts.topK > 0 ? Math.min(opts.topK, V) : V;
  const topP = opts.topP ?? 1;
  if (topK === V && topP >= 1) return sampleAll(row, temperature, random);
  // With top-k the nucleus is taken within the k candidates; without, within the whole vocabulary.
  const zAll = topK === V ? expSum(row, row[argmax(row)], temperature) : 0;
  let m = topK < V ? topK : Math.min(V, NUCLEUS_START);
  for (;;) {
    const order = topIndices(row, m); // [m] ids, most likely first
    const max = row[order[0]];
    const probs = new Float64Array(m);
    let zTop = 0;
    for (let j = 0; j < m; j++) zTop += probs[j] = Math.exp((row[order[j]] - max) / temperature);
    const z = topK < V ? zTop : zAll;
    let keep = probs.length,
      mass = z;
    if (topP < 1) {
      let cum = 0;
      keep = 0;
      while (keep < probs.length && cum < topP * z) cum += probs[keep++];
      if (cum < topP * z && topK === V && m < V) {
        // The nucleus reaches past these m candidates, and each further one adds at most probs[m - 1].
        const atLeast = Math.ceil((topP * z - cum) / probs[m - 1]);
        m = Math.min(V, Math.max(4 * m, m + 2 * atLeast));
        continue;
      }
      mass = cum;
    }
    while (keep > 1 && probs[keep - 1] === 0) keep--; // −∞ (masked) candidates inside the top k
    let u = random() * mass;
    for (let j = 0; j < keep; j++) {
      u -= probs[j];
      if (u <= 0) return order[j];
    }
    return order[keep - 1];
  }
}

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

function expSum(row: Float32Array, max: number, temperature: number): number {
  let z = 0;
  for (let i = 0; i < row.length; i++) z += Math.exp((row[i] - max) / temperature);
  return z;
}

/** Temperature sampling over the whole vocabulary: one pass for the sum, one (in id order) to invert the CDF. */
function sampleAll(row: Float32Array, temperature: number, random: () => number): number {
  const max = row[argmax(row)];
  let u = random() * expSum(row, max, temperature);
  let last = 0; // the last id with non-zero probability, for a draw that rounding leaves unspent
  for (let i = 0; i < row.length; i++) {
    const p = Math.exp((row[i] - max) / temperature);
    if (p > 0) last = i;
    u -= p;
    if (u <= 0 && p > 0) return i;
  }
  return last;
}

/**
 * A function copying a row of logits [V] with every id outside the half-open ranges set to −∞ (the ranges'
 * union must be non-empty; generate.ts checks them against the vocabulary).
 */
export function maskAllowed(
  V: number,
  ranges: ReadonlyArray<readonly [number, number]>,
): (row: Float32Array) => Float32Array {
  const allowed = new Uint8Array(V);
  for (const [lo, hi] of ranges) allowed.fill(1, Math.max(0, lo), Math.min(V, hi));
  const out = new Float32Array(V);
  return (row) => {
    for (let i = 0; i < V; i++) out[i] = allowed[i] ? row[i] : -Infinity;
    return out;
  };
}

/** The m highest-logit ids, highest first (ties: lower id first), via a size-m min-heap. */
export function topIndices(row: Float32Array, m: number): Int32Array {
  if (2 * m >= row.length && row.length <= ID_SPAN) return sortedIds(row).subarray(0, m); // most of the row: sort it all
  // a ranks below b: lower logit, or the same logit and a higher id
  const below = (a: number, b: number) => row[a] < row[b] || (row[a] === row[b] && a > b);
  const heap = new Int32Array(m); // heap[0] is the lowest-ranked candidate kept so far
  const siftDown = (start: number) => {
    for (let i = start; ;) {
      const l = 2 * i + 1,
        r = l + 1;
      let low = i;
      if (l < m && below(heap[l], heap[low])) low = l;
      if (r < m && below(heap[r], heap[low])) low = r;
      if (low === i) return;
      [heap[i], heap[low]] = [heap[low], heap[i]];
      i = low;
    }
  };
  for (let i = 0; i < m; i++) heap[i] = i;
  for (let i = (m >> 1) - 1; i >= 0; i--) siftDown(i);
  for (let i = m; i < row.length; i++) {
    if (below(heap[0], i)) {
      heap[0] = i;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => row[b] - row[a] || a - b);
}

const ID_SPAN = 2 ** 21; // ids below this fit beside a 32-bit rank in a float64 key

/**
 * All ids by descending logit, ties by id, with the native numeric sort of float64 keys (rank·2^21 + id,
 * rank = the float32's bits made order-preserving and reversed): several times faster than a comparator sort.
 */
function sortedIds(row: Float32Array): Int32Array {
  const bits = new Uint32Array(row.buffer, row.byteOffset, row.length);
  const keys = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) {
    const b = bits[i];
    const ordered = b & 0x80000000 ? ~b >>> 0 : (b | 0x80000000) >>> 0; // unsigned order = float order
    keys[i] = (0xffffffff - ordered) * ID_SPAN + i;
  }
  keys.sort();
  const ids = new Int32Array(row.length);
  for (let i = 0; i < row.length; i++) ids[i] = keys[i] % ID_SPAN;
  return ids;
}
