// The tokenize stage's public surface: the BPE trainer and encoder, the SentencePiece model, the vocabulary
// layout, the Tokenizer, and CM3 masking. Other folders import from here.
export { trainBpe, BPE_TRAIN_DEFAULTS, type BpeTrainOptions } from './bpe-trainer.js';
export { Tokenizer, type TokenizerOptions } from './tokenizer.js';
export { BpeEncoder, BPE_ENCODER_DEFAULTS, type BpeEncoderOptions } from './bpe-encoder.js';
export { STRUCTURE_TOKENS, writeVocabJson, type VocabLayout } from './vocab.js';
export {
  cm3Transform,
  cm3Inverse,
  cm3Parse,
  applySpans,
  drawSpanCount,
  lossWeights,
  CM3_DEFAULTS,
  type Cm3Options,
  type Cm3Vocab,
  type Cm3Parsed,
} from './cm3.js';
export { cm3Window, cm3Windows, codeHeaderTokens, joinWindows, type Cm3Window, type WindowDoc } from './cm3-window.js';
