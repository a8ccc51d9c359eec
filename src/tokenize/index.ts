// The tokenize stage's public surface: minimization, code documents, the tokenizer and its trainer,
// CM3 masking, Megatron shards and their sidecar. Other folders import from here.
export type { DocKind, RawDocument, MinimizedDocument, ImageRef } from './document.js';
export { documentIdentity } from './document.js';
export { decodeHtmlBytes, decodeCodeBytes } from './charset.js';
export { minimizeHtml } from './minimize.js';
export { DEFAULT_MINIMIZE, resolveMinimizeOptions, type MinimizeOptions } from './minimize-config.js';
export { codeDocumentText, parseCodeDocument, languageForPath } from './code-document.js';
export { trainBpe, BPE_TRAIN_DEFAULTS, type BpeTrainOptions } from './bpe-trainer.js';
export { Tokenizer, type TokenizerOptions } from './tokenizer.js';
export { BpeEncoder, BPE_ENCODER_DEFAULTS, type BpeEncoderOptions } from './bpe-encoder.js';
export { STRUCTURE_TOKENS, writeVocabJson, type VocabLayout } from './vocab.js';
export { cm3Transform, cm3Inverse, cm3Parse, lossWeights, CM3_DEFAULTS, type Cm3Options, type Cm3Vocab } from './cm3.js';
export { IndexedDataset, IndexedDatasetWriter, splitDocument, type ShardDtype } from './megatron.js';
export { SidecarWriter, readSidecar, type SidecarRecord } from './sidecar.js';
