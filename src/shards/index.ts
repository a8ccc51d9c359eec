// The shard formats: Megatron-LM MMIDIDX `.bin/.idx` files (and their concatenation) and the JSONL sidecar aligned with them.
export { IndexedDataset, IndexedDatasetWriter, encodeIndex, splitDocument, type ShardDtype } from './megatron.js';
export { DatasetConcatenator, type AddedIndex } from './merge-datasets.js';
export { SidecarWriter, readSidecar, sidecarPath, type SidecarRecord } from './sidecar.js';
