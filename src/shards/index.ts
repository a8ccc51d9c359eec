// The shard formats: Megatron-LM MMIDIDX `.bin/.idx` files and the JSONL sidecar aligned with them.
export { IndexedDataset, IndexedDatasetWriter, splitDocument, type ShardDtype } from './megatron.js';
export { SidecarWriter, readSidecar, sidecarPath, type SidecarRecord } from './sidecar.js';
