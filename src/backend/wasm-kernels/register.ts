// Installs our WASM kernels into tfjs's global kernel registry — explicitly, never as an import side
// effect. BatchMatMul replaces the published kernel (kept as the fallback for dtypes and tiny shapes);
// UnsortedSegmentSum and Conv2DBackpropFilter fill gaps the published backend has; the fused ops
// (fused-ops.ts: softmax cross-entropy, GELU and their gradients) are kernels of our own; Identity
// shares its input's buffer instead of copying (identity.ts); Sum over leading axes is one pass (sum.ts); GatherV2 of table rows copies rows (gather.ts). Idempotent;
// `useShippedWasmKernels` undoes it so benchmarks and tests can compare shipped vs patched.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { makeBatchMatMul } from './batch-matmul.js';
import { conv2DBackpropFilter } from './conv2d-backprop-filter.js';
import { FUSED_WASM_KERNELS } from './fused-ops.js';
import { makeGather } from './gather.js';
import { makeIdentity } from './identity.js';
import { makeSum } from './sum.js';
import { unsortedSegmentSum } from './unsorted-segment-sum.js';
import { HyperlmError } from '../../errors.js';

const BACKEND = 'wasm';
let shippedBatchMatMul: tf.KernelConfig | undefined;
let shippedIdentity: tf.KernelConfig | undefined;
let shippedSum: tf.KernelConfig | undefined;
let shippedGather: tf.KernelConfig | undefined;
let installed = false;

function replace(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, BACKEND) !== undefined) tf.unregisterKernel(config.kernelName, BACKEND);
  tf.registerKernel(config);
}

/** Names of the kernels `registerWasmKernels` installs. */
export const PATCHED_WASM_KERNELS = [
  tf.BatchMatMul,
  tf.Identity,
  tf.Sum,
  tf.GatherV2,
  tf.UnsortedSegmentSum,
  tf.Conv2DBackpropFilter,
  ...FUSED_WASM_KERNELS.map((k) => k.kernelName),
] as const;

/** Registers our kernels for backend 'wasm'. Safe to call before or after the backend initialises. */
export function registerWasmKernels(): void {
  if (installed) return;
  shippedBatchMatMul ??= tf.getKernel(tf.BatchMatMul, BACKEND);
  shippedIdentity ??= tf.getKernel(tf.Identity, BACKEND);
  shippedSum ??= tf.getKernel(tf.Sum, BACKEND);
  shippedGather ??= tf.getKernel(tf.GatherV2, BACKEND);
  if (
    shippedBatchMatMul === undefined ||
    shippedIdentity === undefined ||
    shippedSum === undefined ||
    shippedGather === undefined
  ) {
    throw new HyperlmError(
      'INTERNAL',
      'registerWasmKernels: @tensorflow/tfjs-backend-wasm registered no BatchMatMul, Identity, Sum or GatherV2 kernel',
    );
  }
  // The shipped setupFunc cwraps the C function the fallback path calls; keep it running at init.
  replace({
    kernelName: tf.BatchMatMul,
    backendName: BACKEND,
    setupFunc: shippedBatchMatMul.setupFunc,
    kernelFunc: makeBatchMatMul(shippedBatchMatMul.kernelFunc),
  });
  replace({ kernelName: tf.Identity, backendName: BACKEND, kernelFunc: makeIdentity(shippedIdentity.kernelFunc) });
  replace({
    kernelName: tf.Sum,
    backendName: BACKEND,
    setupFunc: shippedSum.setupFunc,
    kernelFunc: makeSum(shippedSum.kernelFunc),
  });
  replace({
    kernelName: tf.GatherV2,
    backendName: BACKEND,
    setupFunc: shippedGather.setupFunc,
    kernelFunc: makeGather(shippedGather.kernelFunc),
  });
  replace({ kernelName: tf.UnsortedSegmentSum, backendName: BACKEND, kernelFunc: unsortedSegmentSum });
  replace({ kernelName: tf.Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: conv2DBackpropFilter });
  for (const k of FUSED_WASM_KERNELS) replace(k);
  installed = true;
}

/** Restores the published kernel set (BatchMatMul as shipped; the missing and fused kernels absent again). */
export function useShippedWasmKernels(): void {
  if (!installed) return;
  replace(shippedBatchMatMul!);
  replace(shippedIdentity!);
  replace(shippedSum!);
  replace(shippedGather!);
  tf.unregisterKernel(tf.UnsortedSegmentSum, BACKEND);
  tf.unregisterKernel(tf.Conv2DBackpropFilter, BACKEND);
  for (const k of FUSED_WASM_KERNELS) tf.unregisterKernel(k.kernelName, BACKEND);
  installed = false;
}
