// hyperlm's library API: one import for the whole data flow — inputs → minimize → tokenize → shards →
// preprocessing job → model / image tokenizer → prompts. Each stage is also importable from its folder's index.
export * from './errors.js';
export * from './data/index.js';
export * from './minimize/index.js';
export * from './tokenize/index.js';
export * from './shards/index.js';
export * from './filter/index.js';
export * from './pipeline/index.js';
export * from './backend/index.js';
export * from './nn/index.js';
export * from './train/index.js';
export * from './io/index.js';
export * from './model/index.js';
export * as vqgan from './vqgan/index.js';
export * from './prompts/index.js';
