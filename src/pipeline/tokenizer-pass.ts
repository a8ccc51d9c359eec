// Pass 1 of preprocessing: the tokenizer. A given one is copied into the output folder; otherwise the
// minimized text of the first `tokenizerSampleMb` of documents (input order) trains a BPE model
// (tokenize/bpe-trainer.ts, SentencePiece-compatible). A text too small for the vocabulary asked for
// trains the largest vocabulary it allows, with a warning naming the flags, instead of stopping: the
// size actually trained is what the manifest and vocab.json record and what every reader uses.
// Sharded runs never come here without --tokenizer (each shard would train its own).
// After SentencePiece's spm_train on a sample (--input_sentence_size); unlike it, the sample is the first
// megabytes in input order (deterministic, resumable), not a random draw from all of the input.
import { readFile, stat } from 'node:fs/promises';
import { HyperlmError } from '../errors.js';
import { readSources, newSourceStats } from '../data/sources.js';
import { trainBpe } from '../tokenize/bpe-trainer.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { Progress, formatCount } from '../io/progress.js';
import type { PreprocessConfig } from './config.js';
import { createPool } from './pool.js';
import { OrderedRunner } from './reorder.js';
import { batchDocuments, type DocumentResult } from './task.js';
import type { StageName } from './process-document.js';

export interface TokenizerPassHooks {
  log?: (line: string) => void;
  /** Warnings (a capped vocabulary); default: `log`. */
  warn?: (line: string) => void;
  progress?: boolean;
}

/**
 * Batches submitted and not yet written. Results are written in input order, so one slow batch holds
 * back the finished ones behind it and they count against this limit: with 2 per worker a worker sat
 * idle part of the run. 8 per worker bounds the memory to a few MB of pages and tokens (BATCH_LIMITS).
 */
export function inFlight(workers: number): number {
  return Math.max(8, workers * 8);
}

/** Pass 1: copy a given tokenizer, reuse one trained by an earlier (interrupted) run, or train one. */
export async function ensureTokenizer(
  config: PreprocessConfig,
  tokenizerPath: string,
  hooks: TokenizerPassHooks,
): Promise<boolean> {
  if (config.tokenizer) {
    await writeFileAtomic(
      tokenizerPath,
      await readFile(config.tokenizer).catch((err: unknown) => {
        throw new HyperlmError('INPUT_NOT_FOUND', `--tokenizer ${config.tokenizer}: ${(err as Error).message}`);
      }),
    );
    return false;
  }
  if (await exists(tokenizerPath)) return true;
  const log = hooks.log ?? (() => {});
  const warn = hooks.warn ?? log;
  const budget = config.tokenizerSampleMb * 1e6;
  const texts: string[] = [];
  let chars = 0;
  let full = false;
  const pool = createPool({ config }, config.workers, config.docTimeoutMs, config.workerHeapMb);
  const progress = hooks.progress ? new Progress({ label: 'tokenizer sample', total: budget }) : undefined;
  const runner = new OrderedRunner<DocumentResult[]>(inFlight(config.workers), (results) => {
    for (const res of results) {
      if (full || !res.ok || !res.text) continue;
      texts.push(res.text);
      chars += res.text.length;
      full = chars >= budget;
    }
    progress?.update(chars, { docs: String(texts.length) });
  });
  try {
    // Pass 1 stops after minimization (no images), so it is batched whatever --images says, and WARC
    // pages need not carry their images (one streaming pass over each file).
    for await (const docs of batchDocuments(
      readSources(config.inputs, {
        stats: newSourceStats(),
        maxFileBytes: config.maxDocBytes,
        warc: { images: false },
      }),
    )) {
      if (full) break;
      const until: StageName = 'minimize';
      await runner.submit(() => pool.run({ docs, until }));
    }
    await runner.finish();
  } finally {
    await pool.close();
  }
  progress?.finish({ docs: String(texts.length), chars: formatCount(chars) });
  if (texts.length === 0)
    throw new HyperlmError(
      'INPUT_NOT_FOUND',
      `no usable documents in ${config.inputs.join(', ')} to train a tokenizer on`,
    );
  log(
    `training a ${config.vocabSize}-piece BPE tokenizer on ${formatCount(chars)} characters of ${texts.length} documents`,
  );
  const trainProgress = hooks.progress ? new Progress({ label: 'train tokenizer', total: 1 }) : undefined;
  const train = (vocabSize: number): Uint8Array =>
    trainBpe(texts, {
      vocabSize,
      maxMasks: config.maxMasks,
      imageCodes: config.imageCodes,
      onProgress: trainProgress
        ? (phase, done, total) => trainProgress.update(done / Math.max(1, total), { phase, done: `${done}/${total}` })
        : undefined,
    });
  let model: Uint8Array;
  try {
    model = train(config.vocabSize);
  } catch (err) {
    const cap = cappedVocabSize(err, config.vocabSize);
    if (cap === undefined) throw err;
    warn(
      `warning: ${formatCount(chars)} characters allow only ${cap} of the ${config.vocabSize} pieces asked for; training ${cap} ` +
        '(pass --vocab-size N to choose the size, or --tokenizer FILE to use a tokenizer trained on more text)',
    );
    model = train(cap);
  }
  trainProgress?.finish();
  await writeFileAtomic(tokenizerPath, model);
  return true;
}

/**
 * The vocabulary the text allows when `err` is the trainer running out of merges
 * ("only M of T merges possible"): the size asked for less the merges that could not be made.
 */
export function cappedVocabSize(err: unknown, asked: number): number | undefined {
  if (!(err instanceof HyperlmError) || err.code !== 'CONFIG_BAD_VALUE') return undefined;
  const m = /only (\d+) of (\d+) merges possible/.exec(err.message);
  if (!m) return undefined;
  return asked - (Number(m[2]) - Number(m[1]));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
