// flat-params.ts on the WASM backend, where flatten reads tensors straight off the heap and assignFlat
// hands the backend a view of the flat array: the values round-trip exactly, and a variable never aliases
// the array it was assigned from (workers assign from a shared row that changes every step).
import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/index.js';
import { heapViewF32 } from '../src/backend/wasm-kernels/wasm-heap.js';
import { assignFlat, flatten, paramLayout } from '../src/train/flat-params.js';

test.before(async () => {
  await selectBackend('wasm');
});

const shapes: Record<string, number[]> = { a: [3, 5], b: [7], c: [2, 2, 2] };

test('flatten and assignFlat round-trip on WASM without aliasing the flat array', (t) => {
  t.is(tf.getBackend(), 'wasm');
  let k = 0;
  const params = new Map(
    Object.entries(shapes).map(([n, s]) => [
      n,
      tf.variable(
        tf.tensor(
          Float32Array.from({ length: tf.util.sizeFromShape(s) }, () => (k++ * 0.37) % 1),
          s,
        ),
      ),
    ]),
  );
  const layout = paramLayout(params);
  const expected = new Float32Array(layout.total);
  layout.names.forEach((n, i) => expected.set(params.get(n)!.dataSync() as Float32Array, layout.offsets[i]));
  // flatten into a caller's array with junk in it, with one name missing (zeros there)
  const out = new Float32Array(layout.total).fill(9);
  const partial = new Map([...params].filter(([n]) => n !== 'b')) as Map<string, tf.Tensor>;
  t.is(flatten(layout, partial, out), out);
  const bAt = layout.offsets[layout.names.indexOf('b')];
  t.deepEqual([...out.subarray(bAt, bAt + 7)], Array(7).fill(0));
  t.deepEqual(flatten(layout, params as Map<string, tf.Tensor>), expected);
  // the heap view is the tensor's values
  t.deepEqual(heapViewF32(params.get('a')!), params.get('a')!.dataSync());
  t.is(heapViewF32(tf.tensor([1, 2], [2], 'int32')), undefined);

  const row = expected.map((x) => x * 2 - 1);
  assignFlat(layout, params, row);
  const back = flatten(layout, params as Map<string, tf.Tensor>);
  t.deepEqual(back, row);
  row.fill(42); // the shared row moves on: the variables keep what they were given
  t.deepEqual(flatten(layout, params as Map<string, tf.Tensor>), back);
  for (const v of params.values()) v.dispose();
});
