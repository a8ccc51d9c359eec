// The piscina worker: a thin entry that builds its context once (tokenizer, image tokenizer) from
// workerData and runs the same processDocument pipeline as the single-threaded library call.
import { workerData } from 'node:worker_threads';
import { HyperlmError } from '../errors.js';
import type { RawDocument } from '../tokenize/document.js';
import { DocumentContext, processDocument, minimizedText, type StageName } from './process-document.js';
import { createContext, type WorkerInit } from './context.js';

export interface DocumentTask {
  raw: RawDocument;
  /** Stop after this stage: `minimize` for the tokenizer-training pass, `cm3` for the full run. */
  until: StageName;
}

export type DocumentResult =
  | {
    ok: true;
    index: number;
    /** Pass 1: the minimized text. */
    text?: string;
    /** Pass 2: token ids without end-of-document. */
    tokens?: Int32Array;
    imagesEncoded: number;
    imagesDropped: Record<string, number>;
    minimizeStats: Record<string, { nodes: number; chars: number }>;
    ms: Record<StageName, number>;
  }
  | { ok: false; index: number; reason: string; detail: string };

let context: Promise<DocumentContext> | undefined;

export default async function run(task: DocumentTask): Promise<DocumentResult> {
  context ??= createContext(workerData as WorkerInit);
  const ctx = await context;
  return processOne(task, ctx);
}

export async function processOne(task: DocumentTask, ctx: DocumentContext): Promise<DocumentResult> {
  const { raw } = task;
  try {
    const { work, ms } = await processDocument(raw, ctx, task.until);
    const result: DocumentResult = {
      ok: true,
      index: raw.index,
      imagesEncoded: work.imagesEncoded,
      imagesDropped: work.imagesDropped,
      minimizeStats: work.minimized?.stats ?? {},
      ms,
      ...(task.until === 'minimize' ? { text: minimizedText(work.minimized!) } : { tokens: work.tokens }),
    };
    return result;
  } catch (err) {
    if (err instanceof HyperlmError) return { ok: false, index: raw.index, reason: err.code, detail: err.message };
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, index: raw.index, reason: 'DOC_CRASHED', detail: `${raw.source}: ${message}` };
  }
}
