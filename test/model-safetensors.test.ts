// safetensors: write → read round trip, an independent reader in Python/numpy, model save/load parity,
// and corrupt files rejected with CHECKPOINT_CORRUPT.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import test from 'ava';
import { HyperlmError } from '../src/errors.js';
import { GPT, loadGPTWeights, resolveModelConfig, saveGPT } from '../src/model/index.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../src/train/index.js';

test.before(async () => {
  await tf.setBackend('cpu');
});

const dir = mkdtempSync(join(tmpdir(), 'hyperlm-st-'));

const reader = `
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
out = {'__metadata__': header.pop('__metadata__', {})}
for name, h in header.items():
    b, e = h['data_offsets']
    dt = {'F32': '<f4', 'I32': '<i4'}[h['dtype']]
    a = np.frombuffer(raw[8 + n + b:8 + n + e], dtype=dt).reshape(h['shape'])
    out[name] = {'shape': list(a.shape), 'values': a.reshape(-1).tolist()}
print(json.dumps(out))
`;

test('python + numpy read our file and see the same values', async (t) => {
  const tensors = new Map<string, SafeTensor>([
    ['a.weight', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1.5, -2.25, 3e-8, 1e20, 0, -0]) }],
    ['b.ids', { dtype: 'I32', shape: [4], data: Int32Array.from([0, -1, 2147483647, 42]) }],
    ['scalar', { dtype: 'F32', shape: [], data: Float32Array.from([7]) }],
  ]);
  const file = join(dir, 'x.safetensors');
  await writeSafetensors(file, tensors, { note: 'héllo' });
  writeFileSync(join(dir, 'reader.py'), reader);
  const py = JSON.parse(execFileSync('python3', [join(dir, 'reader.py'), file], { encoding: 'utf8' }));
  t.deepEqual(py.__metadata__, { note: 'héllo' });
  for (const [name, tns] of tensors) {
    t.deepEqual(py[name].shape, tns.shape, name);
    t.deepEqual(py[name].values, Array.from(tns.data), name);
  }
  const back = await readSafetensors(file);
  t.deepEqual(back.metadata, { note: 'héllo' });
  for (const [name, tns] of tensors) t.deepEqual(back.tensors.get(name), tns);
});

test('a saved model loads into a fresh model with identical logits', async (t) => {
  const config = resolveModelConfig('tiny', { vocabSize: 30 });
  const a = new GPT(config, 1);
  const b = new GPT(config, 2);
  const file = join(dir, 'model.safetensors');
  await saveGPT(a, file, { step: '10' });
  const meta = await loadGPTWeights(b, file);
  t.deepEqual(JSON.parse(meta.config), config);
  t.is(meta.step, '10');
  const ids = tf.tensor2d([[1, 2, 3, 4]], undefined, 'int32');
  const la = a.forward(ids).logits,
    lb = b.forward(ids).logits;
  t.deepEqual(Array.from(la.dataSync()), Array.from(lb.dataSync()));
  const wrong = new GPT(resolveModelConfig('tiny', { vocabSize: 31 }), 1);
  const err = await t.throwsAsync(loadGPTWeights(wrong, file), { instanceOf: HyperlmError });
  t.regex(err!.message, /transformer\.wte\.weight has shape \[30,32\]/);
  tf.dispose([ids, la, lb]);
  [a, b, wrong].forEach((m) => m.dispose());
});

test('truncated or garbled files are CHECKPOINT_CORRUPT', async (t) => {
  const file = join(dir, 'bad.safetensors');
  writeFileSync(file, Buffer.from([200, 0, 0, 0, 0, 0, 0, 0, 123]));
  const e1 = await t.throwsAsync(readSafetensors(file), { instanceOf: HyperlmError });
  t.is((e1 as HyperlmError).code, 'CHECKPOINT_CORRUPT');
  const header = Buffer.from(JSON.stringify({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  writeFileSync(file, Buffer.concat([len, header, Buffer.alloc(8)]));
  await t.throwsAsync(readSafetensors(file), { message: /w data_offsets/ });
});
