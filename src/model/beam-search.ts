// Beam search (as in fairseq's SequenceGenerator and HF's BeamSearchScorer): `numBeams` rows per prompt
// share one batched decode; each step every live beam's log-softmax (after the allowedIds mask) is added to
// its running log-probability, the best 2·numBeams extensions over all beams are kept in order, an extension
// ending in a stop token (ranked among the first numBeams) becomes a finished hypothesis scored
// Σ log p / length^lengthPenalty (length = generated tokens including the stop token), the others refill the
// beams. HTLM and CM3 decode summaries with 5 beams. Unlike HF's default heuristic, a prompt stops early
// only when no live beam can still beat the worst kept hypothesis (an exact bound), so a wide enough beam
// is exhaustive search (test/model-generate-beam.test.ts). Sampling decodes in generate.ts, not here.

import { HyperlmError } from '../errors.js';
import { DecodeState } from './decode-state.js';
import type { FinishReason, GenerateOptions, GenerateResult } from './generate.js';
import type { GPT } from './gpt.js';
import { maskAllowed, topIndices } from './sampling.js';

export interface BeamHypothesis {
  /** Generated tokens (prompt not included). */
  tokens: number[];
  /** Σ log p of the tokens given the prompt. */
  logProb: number;
  /** logProb / tokens.length^lengthPenalty: what hypotheses rank by. */
  score: number;
  finish: FinishReason;
}

interface Beam {
  tokens: number[];
  logProb: number;
}

/** Beam search for each prompt in turn (numBeams rows each); GenerateResult.beams holds all kept hypotheses. */
export function beamSearch(model: GPT, prompts: number[][], opts: GenerateOptions): GenerateResult {
  for (const key of ['stopStrings', 'onToken', 'returnLogits'] as const) {
    if (
      opts[key] !== undefined &&
      !(Array.isArray(opts[key]) && (opts[key] as unknown[]).length === 0) &&
      opts[key] !== false
    ) {
      throw new HyperlmError('MODEL_BAD_INPUT', `generate: options.${key} is not supported with numBeams > 1`);
    }
  }
  if ((opts.numSamples ?? 1) !== 1)
    throw new HyperlmError('MODEL_BAD_INPUT', 'generate: options.numSamples must be 1 with numBeams > 1');
  const deadline = opts.maxTimeMs === undefined ? Infinity : performance.now() + opts.maxTimeMs;
  const beams = prompts.map((p, i) => searchOne(model, p, opts, deadline, opts.domains?.[i], opts.mixture?.[i]));
  return { tokens: beams.map((h) => h[0]?.tokens ?? []), finish: beams.map((h) => h[0]?.finish ?? 'length'), beams };
}

function searchOne(
  model: GPT,
  prompt: number[],
  opts: GenerateOptions,
  deadline: number,
  domain?: number,
  mix?: number[],
): BeamHypothesis[] {
  const W = opts.numBeams!,
    V = model.config.vocabSize,
    alpha = opts.lengthPenalty ?? 1,
    maxLen = opts.maxNewTokens;
  const stops = new Set(opts.stopTokens ?? []);
  const allowed = opts.allowedIds ? maskAllowed(V, opts.allowedIds) : undefined;
  const scoreOf = (logProb: number, len: number) => logProb / Math.pow(len, alpha);
  const finished: BeamHypothesis[] = [];
  const keep = (h: BeamHypothesis): void => {
    finished.push(h);
    finished.sort((a, b) => b.score - a.score);
    if (finished.length > W) finished.pop();
  };
  // every row starts as the prompt; only beam 0 is live at first, so the first step does not pick duplicates
  let live: Beam[] = Array.from({ length: W }, (_, b) => ({ tokens: [], logProb: b === 0 ? 0 : -Infinity }));
  const state = new DecodeState(model, new Array<number[]>(W).fill(prompt), maxLen, {
    ...opts,
    domains: domain === undefined ? undefined : new Array<number>(W).fill(domain),
    mixture: mix && new Array<number[]>(W).fill(mix),
  });
  try {
    for (let step = 0; step < maxLen; step++) {
      const logits = state.next();
      const candidates: Array<{ parent: number; token: number; logProb: number }> = [];
      for (let b = 0; b < W; b++) {
        if (live[b].logProb === -Infinity) continue;
        const raw = logits.subarray(b * V, (b + 1) * V);
        const row = logSoftmax(allowed ? allowed(raw) : raw);
        for (const token of topIndices(row, Math.min(2 * W, V))) {
          if (row[token] === -Infinity) break;
          candidates.push({ parent: b, token, logProb: live[b].logProb + row[token] });
        }
      }
      candidates.sort((a, b) => b.logProb - a.logProb);
      const next: Beam[] = [];
      const parents: number[] = [];
      for (let rank = 0; rank < candidates.length && next.length < W; rank++) {
        const c = candidates[rank];
        const tokens = [...live[c.parent].tokens, c.token];
        if (stops.has(c.token)) {
          if (rank < W)
            keep({ tokens, logProb: c.logProb, score: scoreOf(c.logProb, tokens.length), finish: 'stop-token' });
          continue;
        }
        next.push({ tokens, logProb: c.logProb });
        parents.push(c.parent);
      }
      if (next.length === 0) return finished;
      const last = step === maxLen - 1 || performance.now() >= deadline;
      if (last) {
        for (const b of next)
          keep({ ...b, score: scoreOf(b.logProb, b.tokens.length), finish: step === maxLen - 1 ? 'length' : 'time' });
        return finished;
      }
      // a live beam's future scores are at most its logProb over the most favourable length still reachable
      const bestLive = next[0].logProb; // next is sorted by logProb
      const bound = alpha > 0 ? bestLive / Math.pow(maxLen, alpha) : scoreOf(bestLive, step + 1);
      if (finished.length === W && finished[W - 1].score >= bound) return finished;
      while (next.length < W) {
        // fill unused rows with dead copies of beam 0
        next.push({ tokens: next[0].tokens, logProb: -Infinity });
        parents.push(parents[0]);
      }
      state.reorder(parents);
      state.push(next.map((b) => b.tokens[b.tokens.length - 1]));
      live = next;
    }
    return finished;
  } finally {
    state.dispose();
  }
}

/** log softmax of a row of logits [V] (float64 sum, −∞ stays −∞). */
export function logSoftmax(row: Float32Array): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  let z = 0;
  for (let i = 0; i < row.length; i++) z += Math.exp(row[i] - max);
  const logZ = max + Math.log(z);
  const out = new Float32Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i] - logZ;
  return out;
}
