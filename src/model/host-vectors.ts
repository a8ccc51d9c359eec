// The JS vector loops of the host decoder (decode.ts): row-wise LayerNorm, and attention's two O(S·hd)
// passes over the KV cache, unrolled 8 columns at a time so each cache element is read once per step and
// the partial sums stay in registers (V8 runs them well ahead of a plain dot-product loop). They
// compute what tf.moments-based LayerNorm and matMul compute in gpt.ts, on Float32Array rows.

/** Row-wise LayerNorm of x [B, d] (population variance, as tf.moments): a new [B, d]. */
export function layerNormRows(
  x: Float32Array,
  d: number,
  p: { gain: Float32Array; bias: Float32Array },
  eps: number,
): Float32Array {
  const out = new Float32Array(x.length);
  for (let o = 0; o < x.length; o += d) {
    let mean = 0;
    for (let j = 0; j < d; j++) mean += x[o + j];
    mean /= d;
    let variance = 0;
    for (let j = 0; j < d; j++) variance += (x[o + j] - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / d + eps);
    for (let j = 0; j < d; j++) out[o + j] = (x[o + j] - mean) * inv * p.gain[j] + p.bias[j];
  }
  return out;
}

// The two O(S·hd) loops of a decode step's attention, 8 columns at a time: each cache element is read
// once per step and the 8 partial sums stay in registers (faster than a plain dot-product loop in V8).

/** p[t] = Σ_j q[qo + j]·cache[base + t·hd + j] for t < n. */
export function dotRows(
  q: Float32Array,
  qo: number,
  cache: Float32Array,
  base: number,
  hd: number,
  n: number,
  p: Float64Array,
): void {
  p.fill(0, 0, n);
  let j = 0;
  for (; j + 8 <= hd; j += 8) {
    const q0 = q[qo + j],
      q1 = q[qo + j + 1],
      q2 = q[qo + j + 2],
      q3 = q[qo + j + 3];
    const q4 = q[qo + j + 4],
      q5 = q[qo + j + 5],
      q6 = q[qo + j + 6],
      q7 = q[qo + j + 7];
    for (let t = 0, k = base + j; t < n; t++, k += hd) {
      p[t] +=
        q0 * cache[k] +
        q1 * cache[k + 1] +
        q2 * cache[k + 2] +
        q3 * cache[k + 3] +
        q4 * cache[k + 4] +
        q5 * cache[k + 5] +
        q6 * cache[k + 6] +
        q7 * cache[k + 7];
    }
  }
  for (; j < hd; j++) {
    const qj = q[qo + j];
    for (let t = 0, k = base + j; t < n; t++, k += hd) p[t] += qj * cache[k];
  }
}

/** y[yo + j] = scale·Σ_t w[t]·cache[base + t·hd + j] for j < hd. */
export function mixRows(
  w: Float64Array,
  scale: number,
  cache: Float32Array,
  base: number,
  hd: number,
  n: number,
  y: Float32Array,
  yo: number,
): void {
  let j = 0;
  for (; j + 8 <= hd; j += 8) {
    let a0 = 0,
      a1 = 0,
      a2 = 0,
      a3 = 0,
      a4 = 0,
      a5 = 0,
      a6 = 0,
      a7 = 0;
    for (let t = 0, v = base + j; t < n; t++, v += hd) {
      const wt = w[t];
      a0 += wt * cache[v];
      a1 += wt * cache[v + 1];
      a2 += wt * cache[v + 2];
      a3 += wt * cache[v + 3];
      a4 += wt * cache[v + 4];
      a5 += wt * cache[v + 5];
      a6 += wt * cache[v + 6];
      a7 += wt * cache[v + 7];
    }
    y[yo + j] = a0 * scale;
    y[yo + j + 1] = a1 * scale;
    y[yo + j + 2] = a2 * scale;
    y[yo + j + 3] = a3 * scale;
    y[yo + j + 4] = a4 * scale;
    y[yo + j + 5] = a5 * scale;
    y[yo + j + 6] = a6 * scale;
    y[yo + j + 7] = a7 * scale;
  }
  for (; j < hd; j++) {
    let a = 0;
    for (let t = 0, v = base + j; t < n; t++, v += hd) a += w[t] * cache[v];
    y[yo + j] = a * scale;
  }
}

export function addInto(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
}
