// Document filters run between minimization and tokenization: exact and MinHash near-duplicate
// removal and language identification, each reported in the manifest as a step (documents and
// characters removed), like the minimization rules.
export {
  DEFAULT_MINHASH,
  type MinhashConfig,
  words,
  shingles,
  signature,
  bandKeys,
  estimatedJaccard,
} from './minhash.js';
export {
  DedupIndex,
  packKeys,
  unpackKeys,
  type DedupMode,
  type DedupKeys,
  type DedupVerdict,
  type KeptKeys,
} from './dedup.js';
export {
  loadLanguageDetector,
  parseLanguages,
  ELD_LANGUAGES,
  UNDETERMINED,
  type LanguageDetector,
} from './language.js';
export { visibleText, canonicalDocument } from './visible-text.js';
