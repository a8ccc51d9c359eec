// Router invariants on the cpu backend: Switch capacity and pass-through, GShard top-2, BASE balance and
// optimality, DEMix routing by domain and mixing at inference, and the aux losses on hand-checked cases.
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { HyperlmError } from '../src/errors.js';
import {
  MoE,
  balancedAssignment,
  domainPosterior,
  resolveModelConfig,
  routerZLoss,
  switchLoadBalancingLoss,
} from '../src/model/index.js';
import { ParamStore } from '../src/nn/params.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

const rng = (seed: number) => () => (seed = (seed * 16807) % 2147483647) / 2147483647;

function layer(overrides: Record<string, unknown>) {
  const config = resolveModelConfig('tiny', {
    dModel: 8,
    dFF: 16,
    nHead: 2,
    initStd: 0.5,
    'moe.routerInitScale': 2,
    ...overrides,
  });
  return { moe: new MoE(new ParamStore(9), 'transformer.h.1.mlp', config, 1), config };
}

test('aux losses equal the formulas on a hand-checked case', (t) => {
  // top-1 = [0, 0, 0, 1] → f = [3/4, 1/4]; P = mean rows = [0.6, 0.4]; α·N·Σ fᵢPᵢ = 0.01·2·(0.45 + 0.1) = 0.011
  const probs = tf.tensor2d([
    [0.7, 0.3],
    [0.6, 0.4],
    [0.9, 0.1],
    [0.2, 0.8],
  ]);
  t.true(Math.abs(switchLoadBalancingLoss(probs, [0, 0, 0, 1], 0.01).dataSync()[0] - 0.011) < 1e-7);
  // uniform routing gives exactly α
  t.true(
    Math.abs(switchLoadBalancingLoss(tf.fill([4, 4], 0.25) as tf.Tensor2D, [0, 1, 2, 3], 0.01).dataSync()[0] - 0.01) <
      1e-7,
  );
  // logsumexp([0, 0]) = ln 2, logsumexp([ln 3, 0]) = ln 4: mean of squares × w
  const z = routerZLoss(
    tf.tensor2d([
      [0, 0],
      [Math.log(3), 0],
    ]),
    0.1,
  ).dataSync()[0];
  t.true(Math.abs(z - (0.1 * (Math.LN2 ** 2 + Math.log(4) ** 2)) / 2) < 1e-6);
});

test('switch: capacity is respected in training and overflow tokens output exactly zero', (t) => {
  const { moe } = layer({ 'moe.router': 'switch', 'moe.capacityFactor': 0.5, 'moe.experts': 2 });
  const x = tf.randomNormal([16, 8], 0, 1, 'float32', 1) as tf.Tensor2D;
  const { y, routing } = moe.apply(x, { training: true, seqLen: 16, random: rng(1) });
  t.is(routing.capacity, 4); // ceil(16 / 2 × 0.5)
  const counts = [0, 0];
  for (const e of routing.expertIndex) if (e >= 0) counts[e]++;
  t.true(counts.every((c) => c <= 4));
  t.true(routing.dropRate >= 0.5, `dropRate ${routing.dropRate}`);
  const rows = y.arraySync();
  const probs = routing.probs;
  for (let n = 0; n < 16; n++) {
    const e = routing.expertIndex[n];
    if (e < 0) {
      t.true(
        rows[n].every((v) => v === 0),
        `dropped token ${n} must contribute nothing`,
      );
      continue;
    }
    // kept token: gate · expert(x), gate = its router probability for the chosen (argmax) expert
    const want = moe.experts[e]
      .apply(x.slice([n, 0], [1, 8]))
      .mul(probs[n * 2 + e])
      .arraySync() as number[][];
    t.true(want[0].every((v, j) => Math.abs(v - rows[n][j]) < 1e-5));
    t.is(e, probs[n * 2] >= probs[n * 2 + 1] ? 0 : 1);
  }
  const evalRun = moe.apply(x, { training: false, seqLen: 16, random: rng(1) });
  t.is(evalRun.routing.dropRate, 0, 'inference is dropless');
});

test('top2: distinct experts, renormalised gates, second expert kept stochastically in training only', (t) => {
  const { moe } = layer({ 'moe.router': 'top2', 'moe.capacityFactor': 8 });
  const x = tf.randomNormal([64, 8], 0, 1, 'float32', 2) as tf.Tensor2D;
  const train = moe.apply(x, { training: true, seqLen: 64, random: rng(3) }).routing;
  const kept = Array.from(train.secondIndex!).filter((e) => e >= 0).length;
  t.true(kept > 0 && kept < 64, `kept ${kept} of 64 second choices`);
  const inf = moe.apply(x, { training: false, seqLen: 64, random: rng(3) }).routing;
  for (let n = 0; n < 64; n++) {
    const [e1, e2] = [inf.expertIndex[n], inf.secondIndex![n]];
    t.not(e1, e2);
    const p1 = inf.probs[n * 4 + e1],
      p2 = inf.probs[n * 4 + e2];
    t.true(Math.abs(inf.gates[n] - p1 / (p1 + p2)) < 1e-6); // renormalised first gate
    t.true(p1 >= p2 && Array.from(inf.probs.slice(n * 4, n * 4 + 4)).every((p, e) => e === e1 || e === e2 || p <= p2));
  }
});

test('base: auction gives exactly balanced, near-optimal assignments; greedy at inference', (t) => {
  const { moe } = layer({ 'moe.router': 'base' });
  const x = tf.randomNormal([32, 8], 0, 1, 'float32', 4) as tf.Tensor2D;
  const train = moe.apply(x, { training: true, seqLen: 32, random: rng(1) });
  t.deepEqual(train.routing.load, [0.25, 0.25, 0.25, 0.25]);
  t.is(train.aux.dataSync()[0], 0, 'BASE has no auxiliary loss');
  const inf = moe.apply(x, { training: false, seqLen: 32, random: rng(1) }).routing;
  for (let n = 0; n < 32; n++) {
    const row = Array.from(inf.logits.slice(n * 4, n * 4 + 4));
    t.is(inf.expertIndex[n], row.indexOf(Math.max(...row)));
  }
  // remainder: 10 tokens over 4 experts → 3, 3, 2, 2
  const r = rng(5);
  const scores = Array.from({ length: 40 }, r);
  const a = balancedAssignment(scores, 10, 4);
  t.deepEqual(
    [0, 1, 2, 3].map((e) => a.filter((x) => x === e).length),
    [3, 3, 2, 2],
  );
  // optimality against brute force over all balanced assignments of 6 tokens to 3 experts (2 each)
  const s6 = Array.from({ length: 18 }, r);
  let best = -Infinity;
  const rec = (n: number, left: number[], total: number) => {
    if (n === 6) {
      best = Math.max(best, total);
      return;
    }
    for (let e = 0; e < 3; e++)
      if (left[e] > 0) {
        left[e]--;
        rec(n + 1, left, total + s6[n * 3 + e]);
        left[e]++;
      }
  };
  rec(0, [2, 2, 2], 0);
  const got = balancedAssignment(s6, 6, 3, 1e-6);
  const total = Array.from(got).reduce((acc, e, n) => acc + s6[n * 3 + e], 0);
  t.true(best - total < 6 * 1e-6 + 1e-9, `auction ${total} vs optimum ${best}`);
});

test('demix: routes by domain in training, mixes at inference, and needs domains', (t) => {
  const { moe } = layer({ 'moe.router': 'demix', 'moe.experts': 3 });
  t.is(moe.router, undefined, 'DEMix has no learned router');
  const x = tf.randomNormal([8, 8], 0, 1, 'float32', 6) as tf.Tensor2D; // B = 2 rows of T = 4
  const { y, routing } = moe.apply(x, { training: true, seqLen: 4, domains: Int32Array.from([2, 0]), random: rng(1) });
  t.deepEqual(Array.from(routing.expertIndex), [2, 2, 2, 2, 0, 0, 0, 0]);
  const y2 = moe.experts[2].apply(x.slice([0, 0], [4, 8]));
  t.true(tf.max(tf.abs(y.slice([0, 0], [4, 8]).sub(y2))).dataSync()[0] < 1e-6);
  // inference mixture is linear in the weights: 0.3·expert0 + 0.7·expert1
  const mix = moe.apply(x, {
    training: false,
    seqLen: 4,
    mixture: [
      [0.3, 0.7, 0],
      [1, 0, 0],
    ],
    random: rng(1),
  }).y;
  const want = moe.experts[0].apply(x).mul(0.3).add(moe.experts[1].apply(x).mul(0.7));
  t.true(tf.max(tf.abs(mix.slice([0, 0], [4, 8]).sub(want.slice([0, 0], [4, 8])))).dataSync()[0] < 1e-5);
  const err = t.throws(() => moe.apply(x, { training: true, seqLen: 4, random: rng(1) }), { instanceOf: HyperlmError });
  t.is((err as HyperlmError).code, 'MODEL_BAD_INPUT');
  t.throws(() => moe.apply(x, { training: true, seqLen: 4, domains: Int32Array.from([0, 5]), random: rng(1) }), {
    message: /domains\[1\]/,
  });
  // posterior ∝ exp(−NLL)·prior: NLLs 1 and 1 + ln 3 with a uniform prior → [0.75, 0.25]
  const post = domainPosterior([1, 1 + Math.log(3)]);
  t.true(Math.abs(post[0] - 0.75) < 1e-12 && Math.abs(post[1] - 0.25) < 1e-12);
});
