// The image tokenizer's public surface: config and presets, the ViT-VQGAN model, image loading,
// metrics, training (in this thread or data-parallel over workers), checkpoints, evaluation and loading trained tokenizers.
export * from './config.js';
export * from './train-config.js';
export * from './image-tokenizer.js';
export * from './images.js';
export * from './image-files.js';
export * from './image-batches.js';
export * from './metrics.js';
export * from './vqgan.js';
export * from './checkpoint.js';
export * from './train-step.js';
export * from './step-workers.js';
export * from './train.js';
export * from './evaluate.js';
export * from './load.js';
export * from './bundle.js';
export * from './reconstruct.js';
