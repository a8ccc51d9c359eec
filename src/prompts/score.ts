// Scoring candidate continuations of a prompt with the model: per candidate the summed and mean token
// log-probability, DC-PMI (Holtzman et al. 2021, "Surface Form Competition": log P(y|x) − log P(y|domain
// premise)) and contextual calibration (Zhao et al. 2021, "Calibrate Before Use": p_cal ∝ W·p with
// W = diag(p_cf)⁻¹, p over the candidate set and p_cf its average over content-free inputs such as "N/A",
// "" and "[MASK]" put in the prompt's template). The prompt runs once (its keys/values cached), then each
// chunk of candidates is one batched forward over the tiled cache. `rank` picks the argmax under a rule.
// Multiple-choice prompts, caption selection and noisy-channel reranking of generated images all use it.

import * as tf from '@tensorflow/tfjs';
import { HyperlmError } from '../errors.js';
import type { GPT, KVEntry } from '../model/index.js';

export interface ScoreOptions {
  /** DC-PMI: the domain premise's ids (e.g. the template with the input left out); fills `pmi`. */
  premise?: number[];
  /** Contextual calibration: the template filled with each content-free input; fills `calibrated`. */
  contentFree?: number[][];
  /** Candidates per batched forward (default 8): memory is chunk × longest candidate × vocabulary. */
  chunk?: number;
}

export interface CandidateScore {
  /** Σ log P(candidate token | prompt, earlier candidate tokens). */
  sum: number;
  /** sum / token count (length-normalized). */
  mean: number;
  tokens: number;
  /** sum − Σ log P(candidate | premise). */
  pmi?: number;
  /** Calibrated probability over the candidate set (sums to 1 over candidates). */
  calibrated?: number;
}

export type RankRule = 'sum' | 'mean' | 'pmi' | 'calibrated';

/** Σ log P(candidate | prompt) for each candidate (non-empty prompt and candidates). */
export function candidateLogProbs(model: GPT, prompt: number[], candidates: number[][], chunk = 8): number[] {
  if (prompt.length === 0)
    throw new HyperlmError(
      'PROMPT_BAD_INPUT',
      'score: the prompt needs at least one token (use bos for an unconditional score)',
    );
  candidates.forEach((c, i) => {
    if (c.length === 0) throw new HyperlmError('PROMPT_BAD_INPUT', `score: candidate ${i} is empty`);
  });
  const longest = Math.max(0, ...candidates.map((c) => c.length));
  if (prompt.length + longest > model.config.blockSize) {
    throw new HyperlmError(
      'PROMPT_TOO_LONG',
      `score: prompt ${prompt.length} + longest candidate ${longest} tokens exceed blockSize ${model.config.blockSize}`,
    );
  }
  if (candidates.length === 0) return [];
  const input = tf.tensor2d([prompt], [1, prompt.length], 'int32');
  const pre = model.forward(input, { cache: [] });
  const V = model.config.vocabSize,
    P = prompt.length;
  const first = tf.tidy(() => tf.logSoftmax(pre.logits.slice([0, P - 1, 0], [1, 1, V]).reshape([V]))); // [V] log P(· | prompt)
  const firstLp = first.dataSync();
  tf.dispose([input, pre.logits, pre.aux, first]);
  const cache = pre.cache as KVEntry[];
  const out: number[] = [];
  try {
    for (let start = 0; start < candidates.length; start += chunk) {
      const group = candidates.slice(start, start + chunk);
      const C = group.length,
        T = Math.max(...group.map((c) => c.length));
      const sums = group.map((c) => firstLp[c[0]]);
      if (T > 1) {
        // feed tokens 0..T-2 of each candidate (right-padded): position j's logits predict token j + 1
        const ids = tf.tensor2d(
          group.map((c) => Array.from({ length: T - 1 }, (_, j) => c[j] ?? 0)),
          [C, T - 1],
          'int32',
        );
        const tiled = cache.map((e) => ({ k: tf.tile(e.k, [C, 1, 1, 1]), v: tf.tile(e.v, [C, 1, 1, 1]) })); // [C, nHead, P, hd]
        const r = model.forward(ids, { cache: tiled });
        const index: number[][] = [];
        group.forEach((c, b) => {
          for (let j = 1; j < c.length; j++) index.push([b, j - 1, c[j]]);
        });
        const picked = tf.tidy(() =>
          tf.gatherND(tf.logSoftmax(r.logits), tf.tensor2d(index, [index.length, 3], 'int32')),
        ); // [n]
        const lp = picked.dataSync();
        tf.dispose([
          ids,
          r.logits,
          r.aux,
          picked,
          ...tiled.flatMap((e) => [e.k, e.v]),
          ...(r.cache ?? []).flatMap((e) => [e.k, e.v]),
        ]);
        let k = 0;
        group.forEach((c, b) => {
          for (let j = 1; j < c.length; j++) sums[b] += lp[k++];
        });
      }
      out.push(...sums);
    }
  } finally {
    tf.dispose(cache.flatMap((e) => [e.k, e.v]));
  }
  return out;
}

/** Normalized probabilities over candidates from their summed log-probabilities (a softmax). */
export function candidateDistribution(logProbs: number[]): number[] {
  const max = Math.max(...logProbs);
  const e = logProbs.map((x) => Math.exp(x - max));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

/** DC-PMI per candidate: log P(y|x) − log P(y|premise). */
export function dcPmi(conditional: number[], premise: number[]): number[] {
  return conditional.map((x, i) => x - premise[i]);
}

/**
 * Contextual calibration: p = distribution over candidates given the real input; p_cf = the mean of the
 * distributions given each content-free input; p_cal ∝ diag(p_cf)⁻¹·p, renormalized.
 */
export function contextualCalibration(logProbs: number[], contentFreeLogProbs: number[][]): number[] {
  if (contentFreeLogProbs.length === 0)
    throw new HyperlmError('PROMPT_BAD_INPUT', 'contextual calibration needs at least one content-free input');
  const p = candidateDistribution(logProbs);
  const cf = p.map(() => 0);
  for (const lps of contentFreeLogProbs)
    candidateDistribution(lps).forEach((q, i) => (cf[i] += q / contentFreeLogProbs.length));
  const w = p.map((x, i) => x / cf[i]);
  const z = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / z);
}

/** Scores of each candidate continuation of `prompt` (ids), with DC-PMI and calibration when asked. */
export function score(model: GPT, prompt: number[], candidates: number[][], opts: ScoreOptions = {}): CandidateScore[] {
  const chunk = opts.chunk ?? 8;
  const sums = candidateLogProbs(model, prompt, candidates, chunk);
  const pmi = opts.premise ? dcPmi(sums, candidateLogProbs(model, opts.premise, candidates, chunk)) : undefined;
  const calibrated = opts.contentFree
    ? contextualCalibration(
        sums,
        opts.contentFree.map((cf) => candidateLogProbs(model, cf, candidates, chunk)),
      )
    : undefined;
  return sums.map((sum, i) => ({
    sum,
    mean: sum / candidates[i].length,
    tokens: candidates[i].length,
    ...(pmi ? { pmi: pmi[i] } : {}),
    ...(calibrated ? { calibrated: calibrated[i] } : {}),
  }));
}

/** Index of the best candidate under `rule` (first on ties); the rule's field must be present. */
export function rank(scores: CandidateScore[], rule: RankRule): number {
  if (scores.length === 0) throw new HyperlmError('PROMPT_BAD_INPUT', 'rank: no candidates');
  let best = -1,
    bestValue = -Infinity;
  scores.forEach((s, i) => {
    const v = s[rule];
    if (v === undefined)
      throw new HyperlmError(
        'PROMPT_BAD_INPUT',
        `rank: rule '${rule}' needs scores computed with the matching option (candidate ${i} has no ${rule})`,
      );
    if (best < 0 || v > bestValue) {
      best = i;
      bestValue = v;
    }
  });
  return best;
}
