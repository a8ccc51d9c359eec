// Conv2DBackpropFilter for the WASM backend, which ships without it (the VQGAN's conv weights cannot
// be trained there otherwise). NHWC, any strides, pad 'same' | 'valid' | number | explicit, dilation 1.
// im2col + XNNPACK: for a chunk of output positions p, cols[p, (fy, fx, ci)] = x[n, oh*sh - padTop + fy,
// ow*sw - padLeft + fx, ci] (0 outside the image); then dW[(fy, fx, ci), co] += colsᵀ · dy[p, co].
// Chunking bounds the scratch to CHUNK_FLOATS whatever the batch or image size.
// Sibling kernels: batch-matmul.ts, unsorted-segment-sum.ts; heap access in wasm-heap.ts.
import * as tf from '@tensorflow/tfjs';
import { matmulAt, offsetOf, scratchF32, transposeAt, type WasmBackendLike } from './wasm-heap.js';
import { HyperlmError } from '../../errors.js';

// 4M floats = 16 MiB of im2col scratch per chunk: large enough that XNNPACK's per-call cost vanishes.
const CHUNK_FLOATS = 1 << 22;

interface Conv2DBackpropFilterAttrs {
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

export const conv2DBackpropFilter: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as WasmBackendLike;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  if (dataFormat === 'NCHW') {
    throw new HyperlmError('INTERNAL', 'Conv2DBackpropFilter (wasm): dataFormat NCHW is not supported, use NHWC');
  }
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
    throw new HyperlmError('INTERNAL', `Conv2DBackpropFilter (wasm): float32 only, got x ${x.dtype}, dy ${dy.dtype}`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const kc = fh * fw * inChannels; // rows of dW viewed as [fh*fw*Cin, Cout]
  const positions = batchSize * outHeight * outWidth;
  const chunk = Math.max(1, Math.min(positions, Math.floor(CHUNK_FLOATS / Math.max(1, kc))));

  const out = backend.makeOutput([fh, fw, inChannels, outChannels], 'float32');
  const wasm = backend.wasm;
  const outBase = offsetOf(backend, out) >>> 2;
  if (positions === 0 || kc === 0 || outChannels === 0) {
    wasm.HEAPF32.fill(0, outBase, outBase + kc * outChannels);
    return out;
  }
  const cols = scratchF32(wasm, chunk * kc); // [chunk, kc]
  const colsT = scratchF32(wasm, chunk * kc); // [kc, chunk]
  const partial = positions > chunk ? scratchF32(wasm, kc * outChannels) : null;
  try {
    const xBase = offsetOf(backend, x) >>> 2;
    const dyOff = offsetOf(backend, dy);
    for (let p0 = 0; p0 < positions; p0 += chunk) {
      const rows = Math.min(chunk, positions - p0);
      const heap = wasm.HEAPF32; // re-read: scratch mallocs may have grown the heap
      let dst = cols.offset >>> 2;
      for (let p = p0; p < p0 + rows; p++) {
        const n = Math.floor(p / (outHeight * outWidth));
        const oh = Math.floor(p / outWidth) % outHeight;
        const ow = p % outWidth;
        for (let fy = 0; fy < fh; fy++) {
          const ih = oh * sh - padTop + fy;
          for (let fx = 0; fx < fw; fx++, dst += inChannels) {
            const iw = ow * sw - padLeft + fx;
            if (ih < 0 || ih >= inHeight || iw < 0 || iw >= inWidth) {
              heap.fill(0, dst, dst + inChannels);
            } else {
              const src = xBase + ((n * inHeight + ih) * inWidth + iw) * inChannels;
              heap.copyWithin(dst, src, src + inChannels);
            }
          }
        }
      }
      transposeAt(wasm, cols.offset, colsT.offset, 1, rows, kc);
      const target = p0 === 0 ? offsetOf(backend, out) : partial!.offset;
      matmulAt(wasm, colsT.offset, dyOff + p0 * outChannels * 4, target, kc, rows, outChannels);
      if (p0 > 0) {
        const h = wasm.HEAPF32;
        const src = partial!.offset >>> 2;
        for (let i = 0; i < kc * outChannels; i++) h[outBase + i] += h[src + i];
      }
    }
  } finally {
    cols.free();
    colsT.free();
    partial?.free();
  }
  return out;
};
