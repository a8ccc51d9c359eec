// Where the time of a tfjs computation goes, per kernel: tf.profile records every kernel with its
// input shapes and, on synchronous backends (wasm, cpu), wall time around the kernel call. Totals are
// grouped by kernel name and by name + input shapes. Kernels run inside a custom gradient's forward
// appear twice (the "unnamed scope" around them, and themselves), so the sum over kernels can exceed the
// wall time. Used by `npm run bench:train -- --profile`.
import * as tf from '@tensorflow/tfjs';

export interface KernelTime {
  /** Kernel name, or name + JSON input shapes for the by-shape table. */
  key: string;
  calls: number;
  ms: number;
}

export interface KernelProfile {
  wallMs: number;
  byKernel: KernelTime[];
  byShape: KernelTime[];
}

function group(entries: Array<{ key: string; ms: number }>): KernelTime[] {
  const out = new Map<string, KernelTime>();
  for (const e of entries) {
    const g = out.get(e.key) ?? { key: e.key, calls: 0, ms: 0 };
    g.calls++;
    g.ms += e.ms;
    out.set(e.key, g);
  }
  return [...out.values()].sort((a, b) => b.ms - a.ms);
}

/** Runs `f` once under tf.profile; kernel times sorted, largest first. */
export async function profileKernels(f: () => void | Promise<void>): Promise<KernelProfile> {
  const t0 = performance.now();
  const info = await tf.profile(f as () => tf.TensorContainer);
  const wallMs = performance.now() - t0;
  const entries = await Promise.all(
    info.kernels.map(async (k) => {
      const ms = await k.kernelTimeMs;
      return { name: k.name, shapes: JSON.stringify(k.inputShapes), ms: typeof ms === 'number' ? ms : 0 };
    }),
  );
  return {
    wallMs,
    byKernel: group(entries.map((e) => ({ key: e.name, ms: e.ms }))),
    byShape: group(entries.map((e) => ({ key: `${e.name} ${e.shapes}`, ms: e.ms }))),
  };
}
