// AdamWShard (src/train/optimizer.ts, ZeRO-1): shards that cut parameters in the middle, updating one
// flat params array in place, give byte for byte what AdamW.applyFlat gives over the whole layout, with
// clipping, weight decay and a DEMix-style selection; flatState / setFlatState round-trip the moments.
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { AdamW, AdamWShard, defaultOptimConfig } from '../src/train/optimizer.js';
import { paramLayout } from '../src/train/flat-params.js';

const shapes: Record<string, number[]> = {
  'h.0.attn.weight': [5, 7],
  'h.0.ln.bias': [7],
  'wte.weight': [9, 3],
  'h.1.mlp.experts.1.weight': [4, 6],
};
const layout = paramLayout(new Map(Object.entries(shapes).map(([k, s]) => [k, tf.zeros(s)])));
const rand = (seed: number, n: number) => {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);
};

for (const selected of [undefined, layout.names.map((n) => n.includes('.experts.1.'))]) {
  test(`3 shards equal AdamW over the whole layout${selected ? ' (one expert selected)' : ''}`, (t) => {
    const config = { ...defaultOptimConfig, clipNorm: 0.5 };
    const ref = new AdamW(config);
    const pRef = rand(1, layout.total),
      pShard = pRef.slice();
    const cuts = [0, 17, 40, layout.total]; // 17 and 40 fall inside parameters
    const shards = cuts.slice(1).map((hi, i) => new AdamWShard(config, layout, cuts[i], hi));
    for (let step = 1; step <= 3; step++) {
      const g = rand(10 + step, layout.total);
      const norm = Math.hypot(...g);
      ref.applyFlat(layout, pRef, g, 1e-2, norm, selected ? (n) => selected[layout.names.indexOf(n)] : undefined);
      for (const s of shards) s.update(pShard, g, 1e-2, norm, step, selected);
    }
    t.true(Buffer.from(pShard.buffer).equals(Buffer.from(pRef.buffer)), 'params differ');
    const m = new Float32Array(layout.total),
      v = new Float32Array(layout.total);
    shards.forEach((s) => {
      m.set(s.m, s.lo);
      v.set(s.v, s.lo);
    });
    const flat = ref.flatState(layout);
    t.true(
      Buffer.from(m.buffer).equals(Buffer.from(flat.m.buffer)) &&
        Buffer.from(v.buffer).equals(Buffer.from(flat.v.buffer)),
      'moments differ',
    );
    const back = new AdamW(config);
    back.setFlatState(layout, m, v, (n) => ref.m.has(n));
    t.deepEqual([...back.stateTensors().keys()], [...ref.stateTensors().keys()]);
  });
}

test('a shard outside the layout is a named error', (t) => {
  t.throws(() => new AdamWShard(defaultOptimConfig, layout, 10, layout.total + 1), { message: /not inside/ });
});
