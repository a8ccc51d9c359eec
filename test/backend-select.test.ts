// selectBackend (src/backend/select.ts): which backend runs, the one-line log, idempotence, the clear
// error when native TensorFlow is asked for but not installed, and that choosing WASM installs our
// kernels. The native packages' presence is probed independently with require.resolve, so each test
// asserts the branch this machine actually takes.
import test from 'ava';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/index.js';
import { HyperlmError } from '../src/errors.js';

const require = createRequire(import.meta.url);
function installed(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}
const hasNative = installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu');

test.serial('wasm: activates SIMD WASM, logs one line, installs the missing kernels', async (t) => {
  const lines: string[] = [];
  const r = await selectBackend('wasm', (l) => lines.push(l));
  t.is(r.name, 'wasm');
  t.is(tf.getBackend(), 'wasm');
  t.regex(r.device, /wasm simd, 1 thread/);
  t.is(lines.length, 1);
  t.regex(lines[0], /^backend: wasm on cpu \(wasm simd/);
  t.truthy(tf.getKernel('UnsortedSegmentSum', 'wasm'));
  t.truthy(tf.getKernel('Conv2DBackpropFilter', 'wasm'));
  t.deepEqual(await tf.tensor1d([1, 2, 3]).square().array(), [1, 4, 9]);
});

test.serial('repeated selection is idempotent: same result, no second log line', async (t) => {
  const first = await selectBackend('wasm');
  const lines: string[] = [];
  const again = await selectBackend('wasm', (l) => lines.push(l));
  t.is(again, first);
  t.deepEqual(lines, []);
  t.is(tf.getBackend(), 'wasm');
});

test.serial('cpu: the pure-JS reference backend', async (t) => {
  const r = await selectBackend('cpu');
  t.is(r.name, 'cpu');
  t.is(tf.getBackend(), 'cpu');
});

test.serial('tensorflow: clear BACKEND_UNAVAILABLE error without tfjs-node, else native backend', async (t) => {
  if (hasNative) {
    const r = await selectBackend('tensorflow');
    t.is(r.name, 'tensorflow');
    return;
  }
  const err = await t.throwsAsync(selectBackend('tensorflow'), { instanceOf: HyperlmError });
  t.is((err as HyperlmError).code, 'BACKEND_UNAVAILABLE');
  t.regex(err!.message, /@tensorflow\/tfjs-node/);
});

test.serial('auto: falls back to WASM and says why when no native TensorFlow is installed', async (t) => {
  const lines: string[] = [];
  const r = await selectBackend('auto', (l) => lines.push(l));
  if (hasNative) {
    t.is(r.name, 'tensorflow');
    return;
  }
  t.is(r.name, 'wasm');
  t.is(tf.getBackend(), 'wasm');
  t.regex(r.why, /tfjs-node-gpu not loadable/);
  t.regex(r.why, /tfjs-node not loadable/);
  t.is(lines.length, 1);
});

test.serial('an unknown choice is a CONFIG_BAD_VALUE naming the value', async (t) => {
  const err = await t.throwsAsync(selectBackend('webgpu' as never), { instanceOf: HyperlmError });
  t.is((err as HyperlmError).code, 'CONFIG_BAD_VALUE');
  t.regex(err!.message, /webgpu/);
});
