// Identity for the WASM backend without a copy. tfjs runs Identity for every tf.clone — the engine
// clones each tensor a gradient saves, and casts to the same dtype clone too — and the published kernel
// memcpy's the data (~500 copies per training step of dense-small). Tensors are immutable and the
// backend reference-counts data (its Reshape already shares the input's buffer), so the output can
// share the input's dataId. Strings keep the shipped kernel. Sibling kernels: batch-matmul.ts, fused-ops.ts.
import * as tf from '@tensorflow/tfjs';

interface RefCounting {
  incRef(dataId: object): void;
}

export function makeIdentity(shipped: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return shipped(args);
    (args.backend as unknown as RefCounting).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  };
}
