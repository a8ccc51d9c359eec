// hyperlm's library API: one import for the whole data flow — inputs → preprocessing → tokenizer →
// shards → model → generation. Each stage is also importable from its own folder's index.
export * from './errors.js';
export * from './data/index.js';
export * from './tokenize/index.js';
export * from './pipeline/index.js';
export * as vqgan from './vqgan/index.js';
export * from './backend/index.js';
export * from './model/index.js';
export { train, readRunConfig, type TrainOptions, type TrainResult } from './model/train.js';
export { resolveRunConfig, type RunConfig, type TrainConfig } from './model/train-config.js';
export { readDataInfo, ShardLoader } from './model/loader.js';
export { latestCheckpoint, loadCheckpoint, saveCheckpoint } from './model/checkpoint.js';
