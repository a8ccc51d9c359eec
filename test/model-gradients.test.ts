// Training maths of the GPT on the cpu backend: analytic gradients against central finite differences,
// a tiny model overfitting one batch, and no tensor leaks across forward + backward.
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { GPT, resolveModelConfig, type ModelConfig } from '../src/model/index.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

function batch(B: number, T: number, V: number, seed: number) {
  let s = seed;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) % V;
  const rows = Array.from({ length: B }, () => Array.from({ length: T + 1 }, rnd));
  const ids = tf.tensor2d(
    rows.map((r) => r.slice(0, T)),
    [B, T],
    'int32',
  );
  const targets = tf.tensor2d(
    rows.map((r) => r.slice(1)),
    [B, T],
    'int32',
  );
  const weights = tf.tensor2d(
    rows.map((r) => r.slice(1).map((_, j) => (j === 2 ? 0 : 1))),
    [B, T],
  ); // one masked target per row
  return { ids, targets, weights };
}

/**
 * Directional finite difference per parameter: (L(θ + h·v) − L(θ − h·v)) / 2h vs ∇L·v, v ~ N(0, 1).
 * float32 loss ≈ 4 carries ~1e-6 rounding, so with h = 2e-3 the FD noise floor is ~5e-4; truncation error
 * is O(h²). Hence tolerance 3% relative + 3e-4 absolute. Routing must not change under the perturbation
 * (a flip makes the loss non-smooth), which the check asserts.
 */
function checkGradients(t: import('ava').ExecutionContext, config: ModelConfig, seed: number, names: RegExp) {
  const model = new GPT(config, seed);
  const { ids, targets, weights } = batch(2, 8, config.vocabSize, 11);
  const opts = { training: true };
  const { grads, routing } = model.lossAndGrads(ids, targets, weights, opts);
  const lossAt = () => {
    const r = model.loss(ids, targets, weights, opts);
    const value = r.loss.dataSync()[0];
    const experts = r.routing.map((x) => Array.from(x.expertIndex).join(',')).join('|');
    tf.dispose([r.loss, r.ce, r.aux]);
    return { value, experts };
  };
  const base = routing.map((x) => Array.from(x.expertIndex).join(',')).join('|');
  const h = 2e-3;
  let checked = 0;
  for (const [name, p] of model.params()) {
    if (!names.test(name)) continue;
    const g = grads.get(name);
    const v = tf.randomNormal(p.shape, 0, 1, 'float32', checked + 1);
    const analytic = g ? tf.sum(g.mul(v)).dataSync()[0] : 0;
    const orig = p.clone();
    p.assign(orig.add(v.mul(h)));
    const plus = lossAt();
    p.assign(orig.sub(v.mul(h)));
    const minus = lossAt();
    p.assign(orig);
    tf.dispose([v, orig]);
    t.is(plus.experts, base, `${name}: routing flipped under +h`);
    t.is(minus.experts, base, `${name}: routing flipped under -h`);
    const fd = (plus.value - minus.value) / (2 * h);
    if (Math.abs(fd - analytic) > 0.01 * Math.abs(analytic)) t.log(name, fd, analytic);
    t.true(
      Math.abs(fd - analytic) <= 0.03 * Math.abs(analytic) + 3e-4,
      `${name}: finite difference ${fd} vs analytic ${analytic}`,
    );
    checked++;
  }
  tf.dispose([...grads.values(), ids, targets, weights]);
  model.dispose();
  return checked;
}

const small = { vocabSize: 20, dModel: 16, nHead: 2, nLayer: 2, dFF: 32, blockSize: 16, initStd: 0.3 };

test('gradients match finite differences: dense, learned positions, untied head', (t) => {
  const n = checkGradients(
    t,
    resolveModelConfig(small, { positions: 'learned', tieEmbeddings: false, 'moe.every': 0 }),
    3,
    /wte|wpe|h\.0\.(ln_1|attn)|h\.1\.mlp\.c_fc\.weight|ln_f\.bias|lm_head/,
  );
  t.is(n, 11);
});

test('gradients match finite differences: switch MoE with rotary (incl. aux and z losses)', (t) => {
  const n = checkGradients(
    t,
    resolveModelConfig(small, {
      positions: 'rotary',
      'moe.every': 2,
      'moe.capacityFactor': 4,
      'moe.auxLossWeight': 0.5,
      'moe.zLossWeight': 0.1,
      'moe.routerInitScale': 4,
    }),
    13, // seed 13: top-2 router prob gap ≥ 0.15 on every token, all 4 experts used
    /wte|h\.0\.attn\.c_attn\.weight|h\.0\.mlp\.c_fc\.weight|router|experts\.[0-3]\.c_fc\.weight|h\.1\.ln_2\.weight/,
  );
  t.is(n, 9);
});

test('a tiny model overfits one batch', (t) => {
  const model = new GPT(resolveModelConfig('tiny', { vocabSize: 40 }), 5);
  const { ids, targets, weights } = batch(4, 16, 40, 7);
  const opt = tf.train.adam(3e-3);
  let first = 0,
    last = 0;
  for (let step = 0; step < 150; step++) {
    const r = model.lossAndGrads(ids, targets, weights, { training: true });
    if (step === 0) first = r.ce;
    last = r.ce;
    opt.applyGradients(model.toVariableNames(r.grads));
    tf.dispose([...r.grads.values()]);
  }
  t.log(`cross-entropy ${first.toFixed(3)} → ${last.toFixed(4)}`);
  t.true(first > 3, 'starts near ln(40)');
  t.true(last < 0.1, `final cross-entropy ${last}`);
  opt.dispose();
  tf.dispose([ids, targets, weights]);
  model.dispose();
});

test('forward + backward leaks no tensors', (t) => {
  for (const router of ['switch', 'top2', 'base', 'demix'] as const) {
    const model = new GPT(resolveModelConfig('tiny', { vocabSize: 30, 'moe.router': router }), 1);
    const { ids, targets, weights } = batch(2, 8, 30, 3);
    const step = () => {
      const r = model.lossAndGrads(ids, targets, weights, { training: true, domains: [1, 3] });
      tf.dispose([...r.grads.values()]);
      const f = model.forward(ids, { training: false, domains: [1, 3] });
      tf.dispose([f.logits, f.aux]);
    };
    step();
    const before = tf.memory().numTensors;
    step();
    step();
    t.is(tf.memory().numTensors, before, `${router}: tensors after = tensors before`);
    tf.dispose([ids, targets, weights]);
    model.dispose();
  }
});
