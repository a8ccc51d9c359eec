// The baselines' public surface: the interpolated modified Kneser–Ney n-gram model over token ids, trained
// from documents in memory or from a preprocessed folder's shards.
export {
  KneserNeyModel,
  trainNgram,
  estimateDiscounts,
  resolveNgramOptions,
  NGRAM_DEFAULTS,
  type NgramOptions,
  type Discounts,
  type GreedyResult,
} from './ngram.js';
export { NgramTrainer, type NgramTrainerOptions, type NgramCountData } from './ngram-trainer.js';
export { trainNgramFromShards, type NgramShardOptions, type NgramShardResult } from './ngram-shards.js';
