// Balanced token→expert assignment for BASE layers (Lewis et al. 2021) by Bertsekas' auction algorithm
// (Bertsekas 1988, "The auction algorithm: a distributed relaxation method"). Runs in JS on router scores
// copied off the device — fine at the sizes trained here. Each expert owns `capacity` identical slots;
// an unassigned token bids for the cheapest slot of its best expert, raising that slot's price by
// (best value − second-best value + ε) and evicting the previous holder. With ε > 0 it terminates,
// and the assignment is within N·ε of the optimum total score.

/**
 * scores: [N·E] row-major token × expert affinities. Returns expert per token with
 * exactly floor(N/E) or ceil(N/E) tokens per expert (the first N mod E experts take the extra token).
 */
export function balancedAssignment(
  scores: Float32Array | number[],
  N: number,
  E: number,
  epsilon?: number,
): Int32Array {
  const capacity = Array.from({ length: E }, (_, e) => Math.floor(N / E) + (e < N % E ? 1 : 0));
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < N * E; i++) {
    lo = Math.min(lo, scores[i]);
    hi = Math.max(hi, scores[i]);
  }
  // ε below (range / N) keeps the result near-optimal; the floor avoids a zero step on constant scores.
  const eps = epsilon ?? Math.max((hi - lo) / (4 * (N + 1)), 1e-7);
  const prices = capacity.map((c) => new Float64Array(c)); // slot prices per expert
  const holders = capacity.map((c) => new Int32Array(c).fill(-1)); // token in each slot
  const assigned = new Int32Array(N).fill(-1);
  const queue: number[] = Array.from({ length: N }, (_, i) => i);
  while (queue.length > 0) {
    const t = queue.pop()!;
    // Best and second-best net value over all slots: per expert only its two cheapest slots matter.
    let bestE = -1,
      bestSlot = -1,
      best = -Infinity,
      second = -Infinity;
    for (let e = 0; e < E; e++) {
      const p = prices[e];
      if (p.length === 0) continue;
      let c1 = 0,
        c2 = -1;
      for (let s = 1; s < p.length; s++) {
        if (p[s] < p[c1]) {
          c2 = c1;
          c1 = s;
        } else if (c2 < 0 || p[s] < p[c2]) c2 = s;
      }
      const v1 = scores[t * E + e] - p[c1];
      const v2 = c2 >= 0 ? scores[t * E + e] - p[c2] : -Infinity;
      if (v1 > best) {
        second = Math.max(best, v2);
        best = v1;
        bestE = e;
        bestSlot = c1;
      } else {
        second = Math.max(second, v1);
      }
    }
    const increment = (second === -Infinity ? 0 : best - second) + eps;
    prices[bestE][bestSlot] += increment;
    const evicted = holders[bestE][bestSlot];
    holders[bestE][bestSlot] = t;
    assigned[t] = bestE;
    if (evicted >= 0) {
      assigned[evicted] = -1;
      queue.push(evicted);
    }
  }
  return assigned;
}
