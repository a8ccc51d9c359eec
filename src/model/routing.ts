// MoE routing at inference, one token at a time in JS: which experts a token's output mixes and with what
// gate. The one definition both inference paths call — MoE.apply (moe.ts) when not training and the host
// decoder (decode.ts) — so a decode step routes exactly as the full forward pass does. Training routing
// (capacity, GShard's random second expert, BASE's auction) stays in moe.ts; inference is dropless, keeps
// the second expert and is greedy for BASE. test/model-decode.test.ts checks every router end to end.

import { HyperlmError, assertNever } from '../errors.js';
import type { MoEConfig } from './config.js';

export interface RowRouting {
  /** demix: this row's domain id. */
  domain?: number;
  /** demix: this row's expert weights [E]. */
  mixture?: number[];
}

/**
 * Gates [E] of one token at inference (0 = expert unused) from its router logits [E] (empty for demix):
 *   switch — top-1 expert, gate softmax(logits)[e]
 *   top2   — top-2 experts, gates p1/(p1 + p2) and p2/(p1 + p2)
 *   base   — top-1 expert, gate sigmoid(logit)
 *   demix  — every expert with weight ≠ 0: the row's domain (one-hot) without a mixture, else the
 *            mixture row, else uniform
 */
export function inferenceGates(moe: MoEConfig, logits: Float64Array, row: RowRouting): Float64Array {
  const E = moe.experts;
  const gates = new Float64Array(E);
  const argmax = (skip: number) => {
    let best = -1;
    for (let e = 0; e < E; e++) if (e !== skip && (best < 0 || logits[e] > logits[best])) best = e;
    return best;
  };
  switch (moe.router) {
    case 'switch':
    case 'top2': {
      const max = logits[argmax(-1)];
      let z = 0;
      for (let e = 0; e < E; e++) z += Math.exp(logits[e] - max);
      const p = (e: number) => Math.exp(logits[e] - max) / z;
      const e1 = argmax(-1);
      if (moe.router === 'switch') {
        gates[e1] = p(e1);
      } else {
        const e2 = argmax(e1);
        gates[e1] = p(e1) / (p(e1) + p(e2));
        gates[e2] = p(e2) / (p(e1) + p(e2));
      }
      return gates;
    }
    case 'base': {
      const e = argmax(-1);
      gates[e] = 1 / (1 + Math.exp(-logits[e]));
      return gates;
    }
    case 'demix': {
      if (row.mixture && row.mixture.length !== E)
        throw new HyperlmError('MODEL_BAD_INPUT', `a mixture row must have ${E} weights, got ${row.mixture.length}`);
      if (row.domain !== undefined && !row.mixture) {
        if (!(Number.isInteger(row.domain) && row.domain >= 0 && row.domain < E)) {
          throw new HyperlmError('MODEL_BAD_INPUT', `domain ${row.domain} is not a domain id in [0, ${E})`);
        }
        gates[row.domain] = 1;
      } else if (row.mixture) gates.set(row.mixture);
      else gates.fill(1 / E);
      return gates;
    }
    default:
      return assertNever(moe.router, 'moe.router');
  }
}
