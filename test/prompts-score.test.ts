// Candidate scoring: log-probabilities from the cached, batched scorer equal sums over a direct GPT.forward of
// prompt + candidate (float64 log-softmax), across chunks and candidate lengths, dense and MoE; DC-PMI and
// contextual calibration arithmetic against hand-worked numbers; rank rules; bad inputs; no leaks.
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { GPT, resolveModelConfig } from '../src/model/index.js';
import { candidateLogProbs, contextualCalibration, dcPmi, rank, score } from '../src/prompts/index.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

/** Σ log P(c | p) from one forward pass over p + c. */
function direct(model: GPT, prompt: number[], cand: number[]): number {
  const ids = [...prompt, ...cand],
    V = model.config.vocabSize;
  const input = tf.tensor2d([ids], [1, ids.length], 'int32');
  const r = model.forward(input);
  const logits = r.logits.dataSync();
  tf.dispose([input, r.logits, r.aux]);
  let sum = 0;
  for (let j = 0; j < cand.length; j++) {
    const row = Array.from(logits.slice((prompt.length - 1 + j) * V, (prompt.length + j) * V));
    const max = Math.max(...row);
    sum += row[cand[j]] - (max + Math.log(row.reduce((z, x) => z + Math.exp(x - max), 0)));
  }
  return sum;
}

const prompt = [3, 9, 4, 1];
const candidates = [[5], [7, 2, 8], [1, 1, 1, 1, 6], [12, 30], [2]];

for (const moe of [0, 2]) {
  test(`score equals log-probabilities summed from GPT.forward (${moe ? 'MoE' : 'dense'})`, (t) => {
    const model = new GPT(resolveModelConfig('tiny', { vocabSize: 40, initStd: 0.3, moe: { every: moe } }), 4);
    for (const chunk of [1, 2, 8]) {
      const got = score(model, prompt, candidates, { chunk });
      candidates.forEach((c, i) => {
        const want = direct(model, prompt, c);
        t.true(Math.abs(got[i].sum - want) < 1e-4, `chunk ${chunk} candidate ${i}: ${got[i].sum} vs ${want}`);
        t.is(got[i].tokens, c.length);
        t.true(Math.abs(got[i].mean - want / c.length) < 1e-4);
      });
    }
    // DC-PMI against a premise, from the same direct computation
    const premise = [3, 1];
    const withPmi = score(model, prompt, candidates, { premise });
    candidates.forEach((c, i) =>
      t.true(Math.abs(withPmi[i].pmi! - (direct(model, prompt, c) - direct(model, premise, c))) < 1e-4),
    );
    // calibration: probabilities over the candidates that sum to 1 and match the arithmetic on direct sums
    const cf = [
      [3, 0],
      [3, 2, 2],
    ];
    const cal = score(model, prompt, candidates, { contentFree: cf });
    const want = contextualCalibration(
      candidates.map((c) => direct(model, prompt, c)),
      cf.map((p) => candidates.map((c) => direct(model, p, c))),
    );
    cal.forEach((s, i) => t.true(Math.abs(s.calibrated! - want[i]) < 1e-4));
    t.true(Math.abs(cal.reduce((a, s) => a + s.calibrated!, 0) - 1) < 1e-9);
    const before = tf.memory().numTensors;
    score(model, prompt, candidates, { chunk: 2 });
    t.is(tf.memory().numTensors, before);
    model.dispose();
  });
}

test('contextual calibration: p_cal ∝ diag(p_cf)⁻¹ p, hand-worked', (t) => {
  // p = [0.6, 0.3, 0.1]; content-free [0.5, 0.25, 0.25] and [0.7, 0.2, 0.1] → p_cf = [0.6, 0.225, 0.175]
  // W p = [1, 1.3333…, 0.571428…], sum 2.904762 → [0.344262, 0.459016, 0.196721]
  const lp = [0.6, 0.3, 0.1].map(Math.log);
  const cf = [[0.5, 0.25, 0.25].map(Math.log), [0.7, 0.2, 0.1].map(Math.log)];
  const cal = contextualCalibration(lp, cf);
  [0.344262, 0.459016, 0.196721].forEach((want, i) => t.true(Math.abs(cal[i] - want) < 1e-6, `${cal[i]} vs ${want}`));
  // unnormalized log-probabilities (a shared constant, as summed token log-probs give) change nothing
  const shifted = contextualCalibration(
    lp.map((x) => x - 3),
    cf.map((r) => r.map((x) => x + 1.5)),
  );
  shifted.forEach((v, i) => t.true(Math.abs(v - cal[i]) < 1e-12));
  // the argmax moves from the first candidate to the second
  const scores = lp.map((sum, i) => ({ sum, mean: sum, tokens: 1, calibrated: cal[i] }));
  t.is(rank(scores, 'sum'), 0);
  t.is(rank(scores, 'calibrated'), 1);
  t.throws(() => contextualCalibration(lp, []), { message: /content-free/ });
});

test('DC-PMI and rank rules, hand-worked', (t) => {
  // log P(y|x) = [-2, -3], log P(y|premise) = [-1, -4] → PMI [-1, 1]: the rarer surface form wins
  t.deepEqual(dcPmi([-2, -3], [-1, -4]), [-1, 1]);
  const scores = [
    { sum: -2, mean: -2, tokens: 1, pmi: -1 },
    { sum: -3, mean: -1, tokens: 3, pmi: 1 },
  ];
  t.is(rank(scores, 'sum'), 0);
  t.is(rank(scores, 'mean'), 1);
  t.is(rank(scores, 'pmi'), 1);
  t.is(
    rank(
      [
        { sum: -1, mean: -1, tokens: 1 },
        { sum: -1, mean: -1, tokens: 1 },
      ],
      'sum',
    ),
    0,
    'ties go to the first',
  );
  t.throws(() => rank(scores, 'calibrated'), { message: /calibrated/ });
  t.throws(() => rank([], 'sum'), { message: /no candidates/ });
});

test('score rejects empty prompts, empty candidates and what exceeds the context', (t) => {
  const model = new GPT(resolveModelConfig('tiny', { vocabSize: 40 }), 1);
  const code = (f: () => unknown) => (t.throws(f) as { code?: string }).code;
  t.is(
    code(() => candidateLogProbs(model, [], [[1]])),
    'PROMPT_BAD_INPUT',
  );
  t.is(
    code(() => candidateLogProbs(model, [1], [[2], []])),
    'PROMPT_BAD_INPUT',
  );
  t.is(
    code(() => candidateLogProbs(model, new Array(30).fill(1), [[1, 2, 3]])),
    'PROMPT_TOO_LONG',
  );
  t.deepEqual(candidateLogProbs(model, [1], []), []);
  model.dispose();
});
