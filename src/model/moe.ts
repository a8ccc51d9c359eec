// The mixture-of-experts MLP (Switch Transformer, Fedus et al. 2021; GShard; BASE layers; DEMix): a router
// picks experts per token, tokens are gathered per expert (compute scales with tokens, not experts × tokens),
// run through that expert's Mlp, weighted by their gate and moved back (dispatch.ts: gathers whose gradients
// are gathers). Training routing (capacity, GShard's random second expert, BASE's auction) is `plan` here;
// inference routing is routing.ts's `inferenceGates`, the function the host decoder calls too — dropless, so
// outputs do not depend on batch makeup and KV-cached decoding equals full recomputation.

import * as tf from '@tensorflow/tfjs';
import { HyperlmError, assertNever } from '../errors.js';
import { balancedAssignment } from './auction.js';
import type { ModelConfig, RouterKind } from './config.js';
import { moveRows } from './dispatch.js';
import { Mlp } from './mlp.js';
import { switchLoadBalancingLoss, routerZLoss } from './moe-loss.js';
import { inferenceGates } from './routing.js';
import { ParamStore } from '../nn/params.js';

/** What one MoE layer did with the N = B·T tokens of a forward pass (copied to JS). */
export interface RoutingInfo {
  layer: number;
  router: RouterKind;
  /** [N] first-choice expert actually used per token; -1 when dropped over capacity. */
  expertIndex: Int32Array;
  /** [N] top2 only: second expert used, -1 when not kept or dropped. */
  secondIndex?: Int32Array;
  /** [N] gate applied to the first-choice expert's output (0 when dropped). */
  gates: Float32Array;
  /** Tokens per expert allowed in this pass (Infinity when dropless). */
  capacity: number;
  /** [E] fraction of the N tokens each expert processed (top2 counts both choices). */
  load: number[];
  /** Fraction of expert assignments dropped over capacity. */
  dropRate: number;
  /** Mean entropy (nats) of the routing distribution per token. */
  entropy: number;
  /** [N·E] router probabilities (softmax of logits; for demix the domain weights). */
  probs: Float32Array;
  /** [N·E] router logits (empty for demix, which has no router). */
  logits: Float32Array;
}

export interface MoEContext {
  training: boolean;
  /** T, so token n belongs to batch row floor(n / T). */
  seqLen: number;
  /** demix: domain id per batch row [B]. */
  domains?: Int32Array;
  /** demix inference: expert weights per batch row [B][E] (e.g. from domainPosterior). */
  mixture?: number[][];
  /** Uniform(0,1) source for GShard's stochastic second expert. */
  random: () => number;
}

/** Per-token expert choices and the differentiable gate matrix they are weighted by. */
interface Plan {
  assignments: Array<[number, number]>; // (token, expert)
  gateMatrix: tf.Tensor2D; // [N, E]
  first: Int32Array;
  second?: Int32Array;
  top1: Int32Array; // argmax before capacity, for the load-balancing loss
  capacity: number;
  attempted: number;
  /** Router probabilities [N·E] for the routing stats when gateMatrix holds something else (inference). */
  routerProbs?: Float32Array;
}

/**
 * Four routers:
 *   switch — top-1 (Fedus et al. 2021), capacity ceil(N/E·cf) in training, overflow tokens get 0 (residual passes);
 *   top2   — GShard (Lepikhin et al. 2020): second expert kept when 2·g2 > U(0,1), gates renormalised;
 *   base   — BASE layers (Lewis et al. 2021): balanced auction assignment in training, greedy at inference,
 *            gate sigmoid(score), no auxiliary loss;
 *   demix  — DEMix (Gururangan et al. 2021): expert = document domain in training; at inference a
 *            mixture over experts given as input (see domainPosterior).
 */
export class MoE {
  readonly experts: Mlp[];
  readonly router?: tf.Variable; // [d, E]

  constructor(
    store: ParamStore,
    prefix: string,
    private readonly config: ModelConfig,
    readonly layer: number,
  ) {
    const { experts, router, routerInitScale } = config.moe;
    if (router !== 'demix') {
      this.router = store.normal(`${prefix}.router.weight`, [config.dModel, experts], config.initStd * routerInitScale);
    }
    this.experts = Array.from({ length: experts }, (_, k) => new Mlp(store, `${prefix}.experts.${k}`, config));
  }

  /** x: [N, d] → y: [N, d] (expert outputs only; the block adds the residual). */
  apply(x: tf.Tensor2D, ctx: MoEContext): { y: tf.Tensor2D; aux: tf.Scalar; routing: RoutingInfo } {
    const { experts: E, router, auxLossWeight, zLossWeight } = this.config.moe;
    const N = x.shape[0];
    const logits = this.router ? (tf.matMul(x, this.router as tf.Tensor2D) as tf.Tensor2D) : undefined; // [N, E]
    const probs = logits ? (tf.softmax(logits, -1) as tf.Tensor2D) : undefined; // [N, E]
    const logitsData = logits ? (logits.dataSync() as Float32Array) : new Float32Array(0);
    const plan = this.plan(N, logits, probs, logitsData, probs ? (probs.dataSync() as Float32Array) : undefined, ctx);

    // Round r holds each token's r-th assignment, so within a round a token moves at most once.
    const rounds: Array<Array<[number, number]>> = [];
    const seen = new Int32Array(N);
    for (const a of plan.assignments) (rounds[seen[a[0]]++] ??= []).push(a);
    const flatGates = plan.gateMatrix; // [N, E]
    let y: tf.Tensor2D = tf.zerosLike(x);
    for (const round of rounds) {
      round.sort((a, b) => a[1] - b[1] || a[0] - b[0]); // contiguous rows per expert
      const from = Int32Array.from(round, ([t]) => t);
      const xr = moveRows(x, from); // [M, d] tokens grouped by expert
      const parts: tf.Tensor[] = [];
      for (let e = 0, start = 0; e < E; e++) {
        let end = start;
        while (end < round.length && round[end][1] === e) end++;
        if (end > start) parts.push(this.experts[e].apply(xr.slice([start, 0], [end - start, -1]))); // [n_e, d]; dropout is block.ts's
        start = end;
      }
      const back = new Int32Array(N).fill(-1);
      const pick = new Float32Array(N * E);
      round.forEach(([t, e], m) => {
        back[t] = m;
        pick[t * E + e] = 1;
      });
      const gate = flatGates.mul(tf.tensor2d(pick, [N, E])).sum(1, true); // [N, 1] this round's gate per token
      y = y.add(moveRows(tf.concat(parts, 0) as tf.Tensor2D, back).mul(gate)) as tf.Tensor2D; // [N, d]
    }

    const aux =
      (router === 'switch' || router === 'top2') && logits && probs
        ? (switchLoadBalancingLoss(probs, plan.top1, auxLossWeight).add(routerZLoss(logits, zLossWeight)) as tf.Scalar)
        : tf.scalar(0);
    return { y, aux, routing: this.describe(N, plan, logitsData) };
  }

  private plan(
    N: number,
    logits: tf.Tensor2D | undefined,
    probs: tf.Tensor2D | undefined,
    scores: Float32Array,
    p: Float32Array | undefined,
    ctx: MoEContext,
  ): Plan {
    const { experts: E, router, capacityFactor } = this.config.moe;
    const argmax = (row: number, skip = -1) => {
      let best = -1;
      for (let e = 0; e < E; e++)
        if (e !== skip && (best < 0 || scores[row * E + e] > scores[row * E + best])) best = e;
      return best;
    };
    const top1 = Int32Array.from({ length: N }, (_, n) => (logits ? argmax(n) : 0));
    if (!ctx.training) return this.inferencePlan(N, scores, p, top1, ctx);
    const first = new Int32Array(N).fill(-1);
    const assignments: Array<[number, number]> = [];
    switch (router) {
      case 'switch': {
        const capacity = ctx.training ? Math.ceil((N / E) * capacityFactor) : Infinity;
        const used = new Array<number>(E).fill(0);
        for (let n = 0; n < N; n++) {
          const e = top1[n];
          if (used[e] < capacity) {
            used[e]++;
            first[n] = e;
            assignments.push([n, e]);
          }
        }
        return { assignments, gateMatrix: probs!, first, top1, capacity, attempted: N };
      }
      case 'top2': {
        const capacity = ctx.training ? Math.ceil(((2 * N) / E) * capacityFactor) : Infinity;
        const used = new Array<number>(E).fill(0);
        const second = new Int32Array(N).fill(-1);
        const mask = new Float32Array(N * E);
        const choice2 = Int32Array.from({ length: N }, (_, n) => argmax(n, top1[n]));
        let attempted = 0;
        // GShard processes all first choices before any second choice, so top-1 traffic wins capacity.
        for (let n = 0; n < N; n++) {
          const e = top1[n];
          mask[n * E + e] = 1;
          mask[n * E + choice2[n]] = 1;
          attempted++;
          if (used[e] < capacity) {
            used[e]++;
            first[n] = e;
            assignments.push([n, e]);
          }
        }
        for (let n = 0; n < N; n++) {
          const e = choice2[n];
          const g1 = p![n * E + top1[n]],
            g2 = p![n * E + e];
          const keep = !ctx.training || 2 * (g2 / (g1 + g2)) > ctx.random();
          if (!keep) continue;
          attempted++;
          if (used[e] < capacity) {
            used[e]++;
            second[n] = e;
            assignments.push([n, e]);
          }
        }
        const m = tf.tensor2d(mask, [N, E]);
        const masked = probs!.mul(m);
        const gateMatrix = masked.div(masked.sum(1, true)) as tf.Tensor2D; // g1, g2 renormalised to sum 1
        return { assignments, gateMatrix, first, second, top1, capacity, attempted };
      }
      case 'base': {
        const choice = ctx.training ? balancedAssignment(scores, N, E) : top1;
        for (let n = 0; n < N; n++) {
          first[n] = choice[n];
          assignments.push([n, choice[n]]);
        }
        const capacity = ctx.training ? Math.ceil(N / E) : Infinity;
        return { assignments, gateMatrix: tf.sigmoid(logits!) as tf.Tensor2D, first, top1, capacity, attempted: N };
      }
      case 'demix': {
        const weights = this.domainWeights(N, ctx);
        for (let n = 0; n < N; n++) {
          for (let e = 0; e < E; e++) {
            if (weights[n * E + e] === 0) continue;
            assignments.push([n, e]);
            if (first[n] < 0 || weights[n * E + e] > weights[n * E + first[n]]) first[n] = e;
          }
        }
        return {
          assignments,
          gateMatrix: tf.tensor2d(weights, [N, E]),
          first,
          top1: first,
          capacity: Infinity,
          attempted: assignments.length,
        };
      }
      default:
        return assertNever(router, 'moe.router');
    }
  }

  /** Inference: every token's gates from routing.ts (the host decoder's function too); dropless. */
  private inferencePlan(
    N: number,
    logits: Float32Array,
    p: Float32Array | undefined,
    top1: Int32Array,
    ctx: MoEContext,
  ): Plan {
    const E = this.config.moe.experts;
    const gateData = new Float32Array(N * E);
    const first = new Int32Array(N).fill(-1);
    const second = this.config.moe.router === 'top2' ? new Int32Array(N).fill(-1) : undefined;
    const assignments: Array<[number, number]> = [];
    for (let n = 0; n < N; n++) {
      const b = Math.floor(n / ctx.seqLen);
      const row = logits.length > 0 ? Float64Array.from(logits.subarray(n * E, (n + 1) * E)) : new Float64Array(0);
      const gates = inferenceGates(this.config.moe, row, { domain: ctx.domains?.[b], mixture: ctx.mixture?.[b] });
      for (let e = 0; e < E; e++) {
        if (gates[e] === 0) continue;
        gateData[n * E + e] = gates[e];
        assignments.push([n, e]);
        if (first[n] < 0 || gates[e] > gates[first[n]]) first[n] = e;
      }
      for (let e = 0; second && e < E; e++) if (gates[e] !== 0 && e !== first[n]) second[n] = e;
    }
    // routing stats report the router's full softmax for switch/top2, as in training
    const routerProbs = this.config.moe.router === 'switch' || this.config.moe.router === 'top2' ? p : undefined;
    return {
      assignments,
      gateMatrix: tf.tensor2d(gateData, [N, E]),
      first,
      second,
      top1,
      capacity: Infinity,
      attempted: assignments.length,
      routerProbs,
    };
  }

  /** demix in training: [N·E] expert weights per token, one-hot by the row's domain. */
  private domainWeights(N: number, ctx: MoEContext): Float32Array {
    const E = this.config.moe.experts;
    const w = new Float32Array(N * E);
    if (!ctx.domains) {
      throw new HyperlmError(
        'MODEL_BAD_INPUT',
        `demix layer ${this.layer} needs opts.domains (one domain id per batch row) in training`,
      );
    }
    for (let b = 0; b < N / ctx.seqLen; b++) {
      const d = ctx.domains[b];
      if (!(Number.isInteger(d) && d >= 0 && d < E)) {
        throw new HyperlmError('MODEL_BAD_INPUT', `opts.domains[${b}] = ${d} is not a domain id in [0, ${E})`);
      }
      for (let t = 0; t < ctx.seqLen; t++) w[(b * ctx.seqLen + t) * E + d] = 1;
    }
    return w;
  }

  private describe(N: number, plan: Plan, logits: Float32Array): RoutingInfo {
    const E = this.config.moe.experts;
    const probs = plan.gateMatrix.dataSync() as Float32Array;
    const routerProbs =
      plan.routerProbs ??
      (this.config.moe.router === 'switch' || this.config.moe.router === 'top2'
        ? probs
        : softmaxRows(logits, E, probs));
    const counts = new Array<number>(E).fill(0);
    for (const [, e] of plan.assignments) counts[e]++;
    const gates = Float32Array.from(plan.first, (e, n) => (e < 0 ? 0 : probs[n * E + e]));
    let entropy = 0;
    for (let n = 0; n < N; n++) {
      for (let e = 0; e < E; e++) {
        const q = routerProbs[n * E + e];
        if (q > 0) entropy -= (q * Math.log(q)) / N;
      }
    }
    return {
      layer: this.layer,
      router: this.config.moe.router,
      expertIndex: plan.first,
      secondIndex: plan.second,
      gates,
      capacity: plan.capacity,
      load: counts.map((c) => c / N),
      dropRate: (plan.attempted - plan.assignments.length) / Math.max(plan.attempted, 1),
      entropy,
      probs: routerProbs,
      logits,
    };
  }
}

/** Row-wise softmax of [N·E] logits in JS (BASE reports the softmax of its scores); demix passes its weights through. */
function softmaxRows(logits: Float32Array, E: number, fallback: Float32Array): Float32Array {
  if (logits.length === 0) return fallback;
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / E; r++) {
    let max = -Infinity;
    for (let e = 0; e < E; e++) max = Math.max(max, logits[r * E + e]);
    let z = 0;
    for (let e = 0; e < E; e++) z += out[r * E + e] = Math.exp(logits[r * E + e] - max);
    for (let e = 0; e < E; e++) out[r * E + e] /= z;
  }
  return out;
}

/**
 * DEMix inference mixture: p(domain | prefix) ∝ p(prefix | domain) · prior, where p(prefix | domain) comes
 * from running the prefix with all weight on that domain's expert. prefixNll[k] = summed NLL (nats) of the
 * prefix under domain k. Returns normalised weights, the `mixture` row for forward().
 */
export function domainPosterior(prefixNll: number[], prior?: number[]): number[] {
  const logp = prefixNll.map((nll, k) => -nll + Math.log(prior ? prior[k] : 1 / prefixNll.length));
  const max = Math.max(...logp);
  const w = logp.map((l) => Math.exp(l - max));
  const z = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / z);
}
