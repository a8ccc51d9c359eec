// Validation perplexity per data domain (code, html, …) of a model on a preprocessed folder's valid split,
// in two objectives: the CM3 objective the model trained on (spans moved to the end, sentinel targets
// unweighted, as `npm run train` evaluates) and plain left to right (no spans), the number comparable
// with other language models. Like fairseq's per-subset validation, rows are packed per domain (the
// loader's DEMix packing), so every scored token belongs to exactly one domain; the spans and the document
// order are fixed by the seed, so two models are compared on the same tokens.

import * as tf from '@tensorflow/tfjs';
import { HyperlmError } from '../errors.js';
import { softmaxCrossEntropy } from '../nn/fused.js';
import { CM3_DEFAULTS, type Cm3Options } from '../tokenize/cm3.js';
import { readDataInfo } from './data-info.js';
import { ShardLoader, batchOf, type Row } from './loader.js';
import type { GPT } from './gpt.js';

export interface DomainPerplexity {
  domain: string;
  /** Scored (weighted) target tokens. */
  tokens: number;
  loss: number;
  ppl: number;
}

export interface PerplexityReport {
  objective: 'cm3' | 'ltr';
  domains: DomainPerplexity[];
  /** All domains together, token-weighted. */
  all: DomainPerplexity;
}

export interface PerplexityOptions {
  /** Rows scored at most per domain (the first ones of the valid split's order in each domain). */
  rows: number;
  batchSize: number;
  seed: number;
  /** CM3 options of the `cm3` objective (the run's own, when known). */
  cm3?: Cm3Options;
}

/**
 * Per-domain cross-entropy of `model` on DIR's valid split. Throws INPUT_NOT_FOUND (from the loader) when
 * the folder has no valid documents, TRAIN_VOCAB_MISMATCH when the data's vocabulary is larger than the model's.
 */
export async function domainPerplexity(
  model: GPT,
  dataDir: string,
  objective: 'cm3' | 'ltr',
  opts: PerplexityOptions,
): Promise<PerplexityReport> {
  const info = await readDataInfo(dataDir);
  if (info.layout.size > model.config.vocabSize) {
    throw new HyperlmError(
      'TRAIN_VOCAB_MISMATCH',
      `${dataDir}/vocab.json has ${info.layout.size} ids; the model has ${model.config.vocabSize}`,
    );
  }
  if (objective === 'ltr' && info.cm3Static) {
    throw new HyperlmError(
      'CONFIG_BAD_VALUE',
      `${dataDir}: shards were CM3-masked at preprocess time (--cm3-static), so left-to-right perplexity cannot be measured on them`,
    );
  }
  const cm3 = objective === 'ltr' ? { ...(opts.cm3 ?? CM3_DEFAULTS), ltrFraction: 1 } : (opts.cm3 ?? CM3_DEFAULTS);
  const T = model.config.blockSize;
  const loader = await ShardLoader.open(dataDir, {
    split: 'valid',
    blockSize: T,
    seed: opts.seed,
    byDomain: true,
    domainOf: (d) => d,
    cm3,
    shuffle: false,
  });
  try {
    return await score(model, loader, info.domains, objective, opts.rows, opts.batchSize);
  } finally {
    await loader.close();
  }
}

async function score(
  model: GPT,
  loader: ShardLoader,
  domainIds: Record<string, number>,
  objective: 'cm3' | 'ltr',
  rows: number,
  batchSize: number,
): Promise<PerplexityReport> {
  const T = model.config.blockSize;
  const sums = new Map<number, { loss: number; tokens: number }>();
  const taken = new Map<number, number>(); // rows scored per domain
  const full = (): boolean => Object.values(domainIds).every((id) => (taken.get(id) ?? 0) >= rows);
  const scoreBatch = (batch: Row[]): void => {
    const B = batch.length;
    const { ids, targets } = batchOf(batch, T);
    // per-token losses, so each row's tokens go to its own domain
    const perToken = tf.tidy(() => {
      const { logits } = model.forward(tf.tensor2d(ids, [B, T], 'int32'), { training: false });
      return softmaxCrossEntropy(logits.reshape([B * T, logits.shape[2]]) as tf.Tensor2D, targets);
    });
    const ce = perToken.dataSync() as Float32Array;
    perToken.dispose();
    batch.forEach((row, r) => {
      const s = sums.get(row.domain) ?? { loss: 0, tokens: 0 };
      for (let t = 0; t < T; t++) {
        s.loss += ce[r * T + t] * row.weight[t];
        s.tokens += row.weight[t];
      }
      sums.set(row.domain, s);
    });
  };
  let batch: Row[] = [];
  for await (const row of loader.epochRows()) {
    const n = taken.get(row.domain) ?? 0;
    if (n >= rows) continue; // this domain has its rows: read on to the others
    taken.set(row.domain, n + 1);
    batch.push(row);
    if (batch.length === batchSize) {
      scoreBatch(batch);
      batch = [];
    }
    if (full()) break;
  }
  if (batch.length > 0) scoreBatch(batch);
  const nameOf = new Map(Object.entries(domainIds).map(([k, id]) => [id, k]));
  const row = (domain: string, s: { loss: number; tokens: number }): DomainPerplexity => {
    const loss = s.tokens > 0 ? s.loss / s.tokens : NaN;
    return { domain, tokens: s.tokens, loss, ppl: Math.exp(loss) };
  };
  const domains = [...sums].sort((a, b) => a[0] - b[0]).map(([id, s]) => row(nameOf.get(id) ?? String(id), s));
  const total = [...sums.values()].reduce((a, s) => ({ loss: a.loss + s.loss, tokens: a.tokens + s.tokens }), {
    loss: 0,
    tokens: 0,
  });
  return { objective, domains, all: row('all', total) };
}
