// The preprocessing job as a library: `preprocess(config)`, sharded runs and their merge, and the readers of its output.
export { preprocess, type PreprocessHooks } from './preprocess.js';
export { DEFAULT_PREPROCESS, type PreprocessConfig, type ImagesMode, type DomainBy } from './config.js';
export type { Manifest } from './manifest.js';
export { readManifest, readStoredDocument, imageCodeRuns, type StoredDocument } from './read-document.js';
export { createPool } from './pool.js';
export { ensureTokenizer } from './tokenizer-pass.js';
export { loadConfiguredImageTokenizer } from './context.js';
export { processDocument, type DocumentContext } from './process-document.js';
export { mergeShards, type MergeOptions } from './merge.js';
export { resolveShard, shardFolder, shardOf, type ShardSpec } from './shard.js';
export type { FilterStats } from './chunk.js';
