// Training the Kneser–Ney baseline (ngram.ts) on a preprocessed folder: the shards of one split listed in
// DIR/manifest.json (read through the loader's readDataInfo, so a missing or malformed manifest fails the
// same way training does), each document's sequences streamed in order with positioned reads
// (src/shards' IndexedDataset), never a whole shard in memory. Unlike ShardLoader there is no shuffling and
// no CM3 masking: documents are counted as stored (masked already if preprocessed with --cm3-static).

import { join } from 'node:path';
import { HyperlmError } from '../../errors.js';
import { readDataInfo } from '../../model/index.js';
import { IndexedDataset } from '../../shards/index.js';
import { KneserNeyModel, resolveNgramOptions, type NgramOptions } from './ngram.js';
import { NgramTrainer } from './ngram-trainer.js';

export interface NgramShardOptions extends Partial<NgramOptions> {
  /**
   * Stop after this many tokens (the document in progress is finished): bounds memory, which grows with the
   * distinct n-grams — measured 36–48 bytes each, ~47 bytes per token on a text-like order-4 stream and
   * ~145 when every n-gram is new, so the default 5M tokens take 0.25–0.75 GB.
   */
  maxTokens?: number;
}

export interface NgramShardResult {
  model: KneserNeyModel;
  /** Documents and tokens counted, and whether maxTokens cut the split short. */
  documents: number;
  tokens: number;
  truncated: boolean;
  /** The folder's shards are CM3-masked (preprocess --cm3-static): the model has learnt masked text. */
  cm3Static: boolean;
}

/** Count every document of `split` in DIR's shards; vocabSize defaults to vocab.json's layout.size. */
export async function trainNgramFromShards(
  dataDir: string,
  split: 'train' | 'valid',
  opts: NgramShardOptions = {},
): Promise<NgramShardResult> {
  const { maxTokens = 5_000_000, ...rest } = opts;
  if (!(maxTokens > 0))
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `trainNgramFromShards: options.maxTokens must be positive, got ${maxTokens}`,
    );
  const info = await readDataInfo(dataDir);
  const o = resolveNgramOptions({ vocabSize: info.layout.size, ...rest });
  const names = info.shards.filter((s) => s.split === split).map((s) => s.name);
  if (names.length === 0)
    throw new HyperlmError(
      'INPUT_NOT_FOUND',
      `trainNgramFromShards: ${join(dataDir, 'manifest.json')} lists no ${split} shards`,
    );
  const trainer = new NgramTrainer(o);
  let documents = 0,
    tokens = 0,
    truncated = false;
  for (const name of names) {
    if (truncated) break;
    const ds = await IndexedDataset.open(join(dataDir, name));
    try {
      for (let d = 0; d < ds.documentCount; d++) {
        if (tokens >= maxTokens) {
          truncated = true;
          break;
        }
        const [first, end] = ds.documentSequences(d);
        let docTokens = 0;
        for (let s = first; s < end; s++) {
          const seq = await ds.getSequence(s);
          trainer.addTokens(seq);
          docTokens += seq.length;
        }
        trainer.endDocument();
        tokens += docTokens;
        if (docTokens > 0) documents++;
      }
    } finally {
      await ds.close();
    }
  }
  return {
    model: new KneserNeyModel(trainer.finish(), o.discountFallback),
    documents,
    tokens,
    truncated,
    cm3Static: info.cm3Static,
  };
}
