// Picks the tfjs compute backend for training and says, in one log line, which backend and device run
// and why. Order for 'auto': tfjs-node-gpu (only if a CUDA device is really in use) → tfjs-node (native
// TensorFlow on CPU) → WASM with SIMD from the npm package (with our kernels, see wasm-kernels/) →
// never the pure-JS 'cpu' backend, the reference, whose matmul is more than an order of magnitude slower.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { HyperlmError } from '../errors.js';
import { blasStatus, loadBlas } from './blas.js';
import { registerWasmKernels } from './wasm-kernels/register.js';
import { BACKEND_CHOICES, type BackendChoice } from './choices.js';

export { BACKEND_CHOICES, type BackendChoice } from './choices.js';

export interface SelectedBackend {
  /** tfjs backend name now active: 'tensorflow' | 'wasm' | 'cpu'. */
  name: string;
  /** What executes the kernels, e.g. 'gpu', 'cpu (native TensorFlow)', 'cpu (wasm simd, 1 thread)'. */
  device: string;
  /** Why this backend was chosen, including what was tried and failed. */
  why: string;
}

let current: { choice: BackendChoice; result: SelectedBackend } | undefined;
let wasmPathsSet = false;

/** Activates a backend; idempotent (a repeated call with the same choice returns the same result). */
export async function selectBackend(choice: BackendChoice, log?: (line: string) => void): Promise<SelectedBackend> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `backend must be one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(choice)}`,
    );
  }
  if (current?.choice === choice && tf.getBackend() === current.result.name) return current.result;
  // PROD silences tfjs's console advice (e.g. the cpu backend's "install our node backend" banner on first
  // use); the start-up line below already says which backend runs and why.
  tf.env().set('PROD', true);
  const result = await choose(choice);
  current = { choice, result };
  log?.(`backend: ${result.name} on ${result.device} — ${result.why}`);
  return result;
}

async function choose(choice: BackendChoice): Promise<SelectedBackend> {
  switch (choice) {
    case 'cpu':
      await activate('cpu');
      return { name: 'cpu', device: 'cpu (pure JS)', why: 'requested; pure-JS reference backend, slowest' };
    case 'wasm':
      const wasm = await activateWasm();
      return { name: wasm.name, device: wasm.device, why: `requested; ${wasm.blas}` };
    case 'tensorflow': {
      const tried: string[] = [];
      const found = await tryTensorflow(tried, false);
      if (found) return found;
      throw new HyperlmError(
        'BACKEND_UNAVAILABLE',
        `backend 'tensorflow' needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu installed (${tried.join('; ')})`,
      );
    }
    case 'auto': {
      const tried: string[] = [];
      const found = await tryTensorflow(tried, true);
      if (found) return found;
      const wasm = await activateWasm();
      return {
        name: wasm.name,
        device: wasm.device,
        why: `auto: ${tried.join('; ')}; WASM is ~30× the pure-JS cpu backend; ${wasm.blas}`,
      };
    }
  }
}

/** tfjs-node-gpu first (kept only with a GPU when `needGpuForGpuPackage`), then tfjs-node. */
async function tryTensorflow(tried: string[], needGpuForGpuPackage: boolean): Promise<SelectedBackend | undefined> {
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    const loaded = await importOptional(pkg);
    if (loaded !== true) {
      tried.push(`${pkg} not loadable (${loaded})`);
      continue;
    }
    if (!(await activate('tensorflow'))) {
      tried.push(`${pkg} loaded but backend 'tensorflow' failed to initialise`);
      continue;
    }
    // NodeJSKernelBackend exposes the binding's answer to "is a GPU device in use".
    const gpu = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice === true;
    if (pkg.endsWith('-gpu') && !gpu && needGpuForGpuPackage) {
      tried.push(`${pkg} loaded but no GPU device is in use`);
      continue;
    }
    const device = gpu ? 'gpu' : 'cpu (native TensorFlow)';
    return { name: 'tensorflow', device, why: `${[...tried, `${pkg} loaded`].join('; ')}` };
  }
  return undefined;
}

async function importOptional(pkg: string): Promise<true | string> {
  try {
    await import(pkg);
    return true;
  } catch (err) {
    const code = (err as { code?: string }).code;
    return code ?? (err instanceof Error ? err.message.split('\n')[0] : String(err));
  }
}

async function activate(name: string): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

async function activateWasm(): Promise<Omit<SelectedBackend, 'why'> & { blas: string }> {
  if (!wasmPathsSet) {
    // Point Emscripten at the .wasm files inside the npm package as a file path, so nothing is fetched.
    const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    setWasmPaths(path.dirname(main) + path.sep);
    wasmPathsSet = true;
  }
  registerWasmKernels();
  const blas = await loadBlas();
  if (!(await activate('wasm'))) {
    throw new HyperlmError(
      'BACKEND_UNAVAILABLE',
      'backend wasm failed to initialise from @tensorflow/tfjs-backend-wasm/dist',
    );
  }
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = getThreadsCount();
  const matmul = blas ? `, matmuls on ${blas.library}` : '';
  return {
    name: 'wasm',
    device: `cpu (wasm${simd ? ' simd' : ''}, ${threads} thread${threads === 1 ? '' : 's'}${matmul})`,
    blas: blasStatus(),
  };
}
