// The evaluation metrics' public surface: ROUGE (rouge-score's definition, NLTK's Porter stemmer), exact
// match and edit similarity for infill, BLEU-4 and CIDEr-D for captions. Pure functions of strings.
export { porterStem } from './porter-stemmer.js';
export {
  rouge,
  rougeCorpus,
  rougeTokens,
  lcsLength,
  ROUGE_DEFAULTS,
  type RougeOptions,
  type RougeScore,
  type RougeScores,
} from './rouge.js';
export { exactMatch, editSimilarity, levenshtein, normalizeWhitespace } from './edit-distance.js';
export { captionTokens } from './caption-tokens.js';
export {
  bleuCorpus,
  bleuSentence,
  BLEU_DEFAULTS,
  type BleuOptions,
  type BleuResult,
  type BleuSmoothing,
  type References,
} from './bleu.js';
export { ciderD, CIDER_DEFAULTS, type CiderOptions, type CiderResult } from './cider.js';
