// The host decoder's per-row prefix reuse (src/model/decode.ts: rewind, extend, stepRows), which the infill
// server's prompt cache and slot batching are built on, against GPT.forward over each whole sequence: rows
// of different lengths stepped together, a prompt prefilled in chunks, a row rewound to a shared prefix and
// extended with other tokens — the next-token logits equal the full forward pass at that position (dense with
// rotary and learned positions, and a switch MoE). Nothing leaks; bad rows and lengths are named errors.
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { selectBackend } from '../src/backend/index.js';
import { HyperlmError } from '../src/errors.js';
import { HostDecoder } from '../src/model/decode.js';
import { GPT, resolveModelConfig } from '../src/model/index.js';

test.before(async () => {
  await selectBackend('wasm');
});

const V = 30;

/** Next-token logits of GPT.forward over `seq` at its last position. */
function reference(model: GPT, seq: number[]): Float32Array {
  const ids = tf.tensor2d([seq], [1, seq.length], 'int32');
  const r = model.forward(ids);
  const all = r.logits.dataSync() as Float32Array;
  tf.dispose([ids, r.logits, r.aux]);
  return all.slice((seq.length - 1) * V, seq.length * V);
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const cases: Array<[string, Record<string, unknown>]> = [
  ['dense, rotary', { 'moe.every': 0 }],
  ['dense, learned positions, untied head', { 'moe.every': 0, positions: 'learned', tieEmbeddings: false }],
  ['switch MoE', { 'moe.router': 'switch' }],
];

for (const [name, overrides] of cases) {
  test(`rewind, chunked extend and stepRows over rows of different lengths equal the full forward pass: ${name}`, (t) => {
    const model = new GPT(resolveModelConfig('tiny', { vocabSize: V, initStd: 0.2, ...overrides }), 11);
    const dec = new HostDecoder(model, 3, 24, {});
    // seqs[row] is what row holds after the call being checked (set before it)
    const seqs: number[][] = [[1, 2, 3, 4], [9, 8, 7], []];
    let worst = 0;
    const check = (row: number, got: Float32Array) => {
      worst = Math.max(worst, maxDiff(got, reference(model, seqs[row])));
    };
    check(0, dec.extend(0, [1, 2, 3, 4])); // a prompt in two chunks
    seqs[0].push(5, 6, 7, 8, 9);
    check(0, dec.extend(0, [5, 6, 7, 8, 9]));
    check(1, dec.extend(1, [9, 8, 7]));
    t.is(dec.length(0), 9);
    t.is(dec.length(1), 3);
    // rows 0 and 1 (lengths 9 and 3) step together, twice
    for (const [a, b] of [
      [10, 11],
      [12, 13],
    ]) {
      seqs[1].push(a);
      seqs[0].push(b);
      const out = dec.stepRows([1, 0], [a, b]);
      check(1, out.subarray(0, V));
      check(0, out.subarray(V, 2 * V));
    }
    // row 0 keeps its first 6 positions and goes on with other tokens (a cache hit on a shared prefix)
    dec.rewind(0, 6);
    seqs[0] = [...seqs[0].slice(0, 6), 20, 21];
    check(0, dec.extend(0, [20, 21]));
    // a single-token extend after a rewind to length 1, and a fresh row joining a step
    dec.rewind(1, 1);
    seqs[1] = [seqs[1][0], 4];
    check(1, dec.extend(1, [4]));
    seqs[2] = [7];
    check(2, dec.extend(2, [7]));
    [0, 1, 2].forEach((row, i) => seqs[row].push(i + 1));
    const out = dec.stepRows([0, 1, 2], [1, 2, 3]);
    [0, 1, 2].forEach((row, i) => check(row, out.subarray(i * V, (i + 1) * V)));
    t.true(worst < 1e-4, `max |Δlogit| ${worst}`);
    model.dispose();
  });
}

test('reuse leaks no tensors, and bad rows, lengths and capacities are named errors', (t) => {
  const model = new GPT(resolveModelConfig('tiny', { vocabSize: V, initStd: 0.2, 'moe.every': 0 }), 3);
  const dec = new HostDecoder(model, 2, 8, {});
  dec.extend(0, [1, 2, 3]);
  dec.stepRows([0], [4]);
  const before = tf.memory().numTensors;
  dec.rewind(0, 2);
  dec.extend(0, [5, 6]);
  dec.stepRows([0, 1], [1, 2]);
  dec.extend(1, [3, 3]);
  t.is(tf.memory().numTensors, before);
  const code = (f: () => unknown) => {
    const err = t.throws(f);
    t.true(err instanceof HyperlmError && err.code === 'MODEL_BAD_INPUT', String(err));
    return err!.message;
  };
  t.regex(
    code(() => dec.rewind(0, 9)),
    /row 0 has 5 positions, cannot keep 9/,
  );
  t.regex(
    code(() => dec.extend(1, [1, 2, 3, 4, 5, 6])),
    /6 ids after 3 cached positions \(capacity 8\)/,
  );
  t.regex(
    code(() => dec.stepRows([2], [1])),
    /row 2 is outside \[0, 2\)/,
  );
  t.regex(
    code(() => dec.stepRows([0, 0], [1, 1])),
    /distinct rows/,
  );
  dec.extend(0, [1, 1, 1]);
  t.regex(
    code(() => dec.stepRows([0], [1])),
    /row 0 cache full \(8 positions\)/,
  );
  model.dispose();
});
