// All trainable weights as one flat Float32Array in a fixed order (the model's parameter order), the
// layout the data-parallel workers exchange gradients in (src/backend/data-parallel.ts) and the one the
// optimizer updates in a single JS loop (optimizer.ts). A layout is the names, shapes and offsets.

import * as tf from '@tensorflow/tfjs';
import { heapViewF32 } from '../backend/wasm-kernels/wasm-heap.js';

export interface ParamLayout {
  names: string[];
  shapes: number[][];
  /** Start of each parameter in the flat array (elements). */
  offsets: number[];
  sizes: number[];
  total: number;
}

export function paramLayout(params: Map<string, tf.Variable | tf.Tensor>): ParamLayout {
  const names = [...params.keys()];
  const shapes = names.map((n) => params.get(n)!.shape.slice());
  const sizes = shapes.map((s) => tf.util.sizeFromShape(s));
  const offsets: number[] = [];
  let total = 0;
  for (const s of sizes) {
    offsets.push(total);
    total += s;
  }
  return { names, shapes, offsets, sizes, total };
}

/**
 * Tensors by name → one flat array in layout order (`out`, e.g. a worker's shared gradient slot); a missing
 * name leaves zeros (an expert without tokens). On the WASM backend each tensor is read straight off the
 * heap: one copy per tensor, where `dataSync` would make a second.
 */
export function flatten(
  layout: ParamLayout,
  tensors: Map<string, tf.Tensor>,
  out: Float32Array = new Float32Array(layout.total),
): Float32Array {
  layout.names.forEach((n, i) => {
    const t = tensors.get(n);
    if (t) out.set(heapViewF32(t) ?? (t.dataSync() as Float32Array), layout.offsets[i]);
    else out.fill(0, layout.offsets[i], layout.offsets[i] + layout.sizes[i]);
  });
  return out;
}

/**
 * Write a flat array into the variables. Never aliases `flat` (a shared row that changes under them): the
 * WASM backend copies a new tensor's values onto its heap, so it gets a view; other backends (the cpu one
 * would keep the passed array) get a copy.
 */
export function assignFlat(layout: ParamLayout, params: Map<string, tf.Variable>, flat: Float32Array): void {
  const copiesItself = tf.getBackend() === 'wasm';
  layout.names.forEach((n, i) => {
    const o = layout.offsets[i],
      end = o + layout.sizes[i];
    const values = copiesItself ? flat.subarray(o, end) : flat.slice(o, end);
    tf.tidy(() => params.get(n)!.assign(tf.tensor(values, layout.shapes[i], 'float32')));
  });
}

/** ‖g‖₂ of a flat gradient, accumulated in float64. */
export function flatNorm(g: Float32Array): number {
  let sq = 0;
  for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  return Math.sqrt(sq);
}
