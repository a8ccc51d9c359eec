// The image tokenizer's public surface: config and presets, the ViT-VQGAN model, image loading and listing,
// metrics, training (in this thread or data-parallel over workers), checkpoints, evaluation, bundles and
// loading trained tokenizers. Internals (encoder/decoder/ViT blocks, losses, the training step, replicas)
// are imported from their files by the modules that need them.
export {
  VQGAN_PRESETS,
  resolveVqganConfig,
  checkVqganConfig,
  codeGrid,
  type VqganConfig,
  type VqganPresetName,
} from './config.js';
export {
  DEFAULT_VQGAN_TRAIN,
  resolveVqganRun,
  checkVqganRun,
  type VqganTrainConfig,
  type VqganRunConfig,
} from './train-config.js';
export type { ImageTokenizer } from './image-tokenizer.js';
export {
  defaultImageLoadOptions,
  configureSharpForWorkers,
  loadImage,
  saveRgbPng,
  type ImageLoadOptions,
  type ImageDrop,
  type LoadedImage,
} from './images.js';
export {
  IMAGE_EXTENSIONS,
  newImageListStats,
  describeImageList,
  isImagePath,
  pageImageSources,
  listImageFiles,
  readImageBytes,
  isHeldOut,
  splitImageFiles,
  type ImageFile,
  type ImageListStats,
} from './image-files.js';
export { ImageBatcher, type BatcherState, type BatcherOptions } from './image-batches.js';
export { psnr, ssim } from './metrics.js';
export { codeUsage, type CodeUsage } from './quantizer.js';
export { Vqgan, type TrainStepResult, type NamedTensor } from './vqgan.js';
export {
  adamPowers,
  saveVqganCheckpoint,
  readVqganCheckpointState,
  loadVqganCheckpoint,
  type VqganCheckpointState,
} from './checkpoint.js';
export { trainVqgan, type VqganTrainOptions, type VqganTrainResult } from './train.js';
export {
  PSNR_CAP,
  loadEvalImages,
  reconstructionMetrics,
  shrinkAndEnlarge,
  baselineMetrics,
  type ReconstructionReport,
  type BaselineReport,
} from './evaluate.js';
export { vqganWeightsPath, loadVqgan, loadImageTokenizer, readVqganRunConfig } from './load.js';
export { encodeHalfSafetensors, decodeAnySafetensors, exportBundle } from './bundle.js';
export { sideBySide, writeReconstructions, type ReconstructionFile } from './reconstruct.js';
