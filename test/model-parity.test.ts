// Forward-pass parity with an independent numpy implementation (test/fixtures/gpt_reference.py):
// the fixture holds weights, ids and float64 logits for a dense (learned positions) and a Switch-MoE
// (rotary) model in eval mode.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { GPT, resolveModelConfig } from '../src/model/index.js';

interface Case {
  name: string;
  config: object;
  ids: number[][];
  weights: Record<string, { shape: number[]; data: number[] }>;
  logits: number[];
}
const fixture = JSON.parse(readFileSync(new URL('../../test/fixtures/gpt-forward.json', import.meta.url), 'utf8')) as {
  cases: Case[];
};

test.before(async () => {
  await tf.setBackend('cpu');
});

for (const c of fixture.cases) {
  test(`logits match the numpy reference: ${c.name}`, (t) => {
    const model = new GPT(resolveModelConfig(c.config), 0);
    const weights = new Map(
      Object.entries(c.weights).map(([k, v]) => [k, { shape: v.shape, data: Float32Array.from(v.data) }]),
    );
    t.is(weights.size, model.params().size, 'fixture and model have the same parameter names');
    model.loadWeights(weights, c.name);
    const ids = tf.tensor2d(c.ids, undefined, 'int32');
    const { logits, aux, routing } = model.forward(ids, { training: false });
    if (routing.length > 0)
      t.true(routing[0].load.filter((l) => l > 0).length >= 2, 'the MoE case exercises several experts');
    const got = logits.dataSync();
    let maxErr = 0;
    for (let i = 0; i < c.logits.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i] - c.logits[i]));
    // float32 vs float64 with |logits| up to ~6 and 6 printed significant digits: 1e-4 is ~100× the observed error.
    t.true(maxErr < 2e-4, `max |Δlogit| = ${maxErr}`);
    t.is(got.length, c.logits.length);
    t.log(`max |Δlogit| = ${maxErr.toExponential(2)}`);
    tf.dispose([ids, logits, aux]);
    model.dispose();
  });
}
