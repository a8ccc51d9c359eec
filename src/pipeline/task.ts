// The unit of work for the pool: a batch of consecutive documents in, one result per document out
// (after datatrove's per-task document lists; Megatron's preprocess_data.py hands a pool one line each).
// `processOne` never throws: a document that fails any stage becomes `{ ok: false, reason }`, which the
// writer counts as a skip. Shared by the worker entry (worker.ts) and the in-thread pool (`--workers 0`).
// Why batches: every pool task costs main-thread CPU (postMessage, wake-up, timeout timer, response),
// which with 2 workers on 2 cores is taken from the workers; batching divides it by the batch length.
// Batches are cut from the input order and the config alone (batchLimitsFor), never by worker count or timing.
import { HyperlmError } from '../errors.js';
import type { RawDocument } from '../data/document.js';
import { processDocument, minimizedText, type DocumentContext, type StageName } from './process-document.js';
import type { PreprocessConfig } from './config.js';
import type { DedupKeys } from '../filter/dedup.js';

export interface DocumentTask {
  /** Consecutive documents of the input (usually several; one when a batch is retried document by document). */
  docs: RawDocument[];
  /** Stop after this stage: `minimize` for the tokenizer-training pass, `cm3` for the full run. */
  until: StageName;
}

export type DocumentResult =
  | {
      ok: true;
      index: number;
      /** Pass 1: the minimized text. */
      text?: string;
      /** Pass 2: token ids without end-of-document (with it, when cut into static CM3 windows). */
      tokens?: Int32Array;
      /** Static windowed CM3: the window lengths, one sequence each. */
      windows?: number[];
      imagesEncoded: number;
      imagesDropped: Record<string, number>;
      minimizeStats: Record<string, { nodes: number; chars: number }>;
      ms: Record<StageName, number>;
      /** Pass 2: characters of the minimized document, its language (with a language filter) and dedup keys. */
      chars?: number;
      lang?: string;
      dedup?: DedupKeys;
    }
  /** `chars` and `lang` are set when a filter (not a failure) removed the document. */
  | { ok: false; index: number; reason: string; detail: string; chars?: number; lang?: string };

/**
 * How many documents go in one task: 16 documents or 256 KiB, whichever comes first (a larger document
 * goes alone). Large enough that the per-task cost is a small share of the work, small enough that the
 * last batches still spread over the workers and a batch never nears the per-document timeout.
 */
export const BATCH_LIMITS = { docs: 16, bytes: 256 * 1024 };

/**
 * The batch limits for a run. With `--images vqgan` image encoding dominates a page's cost, so the
 * per-task cost does not matter and one page per task keeps a batch of image-heavy pages from nearing
 * the per-document timeout.
 */
export function batchLimitsFor(config: Pick<PreprocessConfig, 'images'>): { docs: number; bytes: number } {
  return config.images === 'vqgan' ? { docs: 1, bytes: 0 } : BATCH_LIMITS;
}

/** Groups a document stream into batches of consecutive documents within BATCH_LIMITS. */
export async function* batchDocuments(
  docs: AsyncIterable<RawDocument>,
  limits = BATCH_LIMITS,
): AsyncGenerator<RawDocument[]> {
  let batch: RawDocument[] = [];
  let bytes = 0;
  for await (const doc of docs) {
    if (batch.length > 0 && (batch.length >= limits.docs || bytes + doc.bytes.length > limits.bytes)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push(doc);
    bytes += doc.bytes.length;
  }
  if (batch.length > 0) yield batch;
}

export async function processTask(task: DocumentTask, ctx: DocumentContext): Promise<DocumentResult[]> {
  const results: DocumentResult[] = [];
  for (const raw of task.docs) results.push(await processOne(raw, task.until, ctx));
  return results;
}

export async function processOne(raw: RawDocument, until: StageName, ctx: DocumentContext): Promise<DocumentResult> {
  try {
    const { work, ms } = await processDocument(raw, ctx, until);
    if (work.rejected) return { ok: false, index: raw.index, ...work.rejected, chars: work.chars, lang: work.lang };
    return {
      ok: true,
      index: raw.index,
      imagesEncoded: work.imagesEncoded,
      imagesDropped: work.imagesDropped,
      minimizeStats: work.minimized?.stats ?? {},
      ms,
      ...(until === 'minimize'
        ? { text: minimizedText(work.minimized!) }
        : {
            tokens: work.tokens,
            chars: work.chars,
            lang: work.lang,
            dedup: work.dedup,
            ...(work.windows ? { windows: work.windows } : {}),
          }),
    };
  } catch (err) {
    if (err instanceof HyperlmError) return { ok: false, index: raw.index, reason: err.code, detail: err.message };
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, index: raw.index, reason: 'DOC_CRASHED', detail: `${raw.source}: ${message}` };
  }
}
