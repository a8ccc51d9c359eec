// Runs DocumentTasks (batches, see task.ts) on a piscina pool of worker threads, or in this thread when
// workers is 0 (tests, debugging). A document that throws, crashes its worker or exceeds the
// per-document timeout becomes a counted skip naming its source; the pool replaces the worker and the
// run goes on. A batch that times out or crashes is run again one document per task, each with its own
// timeout, so that only the guilty document is skipped — the same skips as without batching (a
// document that hangs costs two timeouts instead of one). After Megatron preprocess_data.py's
// multiprocessing.Pool.imap of an encoder; unlike it, one bad document never ends the run.
import { Piscina } from 'piscina';
import { createContext, type WorkerInit } from './context.js';
import { processTask, type DocumentResult, type DocumentTask } from './task.js';

export interface DocumentPool {
  /** One result per document of the task, in the task's order. */
  run(task: DocumentTask): Promise<DocumentResult[]>;
  close(): Promise<void>;
}

export function createPool(init: WorkerInit, workers: number, docTimeoutMs: number, workerHeapMb = 4096): DocumentPool {
  if (workers === 0) {
    const context = createContext(init);
    // Tasks may come later (the caller loads things first): a failed context is reported by each run, not as unhandled.
    context.catch(() => {});
    return {
      run: async (task) => processTask(task, await context),
      close: async () => {},
    };
  }
  const pool = new Piscina({
    filename: new URL('./worker.js', import.meta.url).href,
    workerData: init,
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: 60_000,
    // Worker heap: one document's DOM plus its images; a document that exhausts it ends its worker only.
    // Young generation 32 MB (V8 default ~16): fewer scavenges of the per-document garbage, ~14% less CPU (BENCHMARKS.md).
    resourceLimits: { maxOldGenerationSizeMb: workerHeapMb, maxYoungGenerationSizeMb: 32 },
  });
  const attempt = async (task: DocumentTask): Promise<DocumentResult[] | { failed: string; timedOut: boolean }> => {
    try {
      return (await pool.run(task, { signal: AbortSignal.timeout(docTimeoutMs) })) as DocumentResult[];
    } catch (err) {
      const timedOut =
        err instanceof Error &&
        (err.name === 'AbortError' || err.name === 'TimeoutError' || /abort/i.test(err.message));
      return { failed: err instanceof Error ? err.message : String(err), timedOut };
    }
  };
  const runOne = async (task: DocumentTask): Promise<DocumentResult[]> => {
    const res = await attempt(task);
    if (Array.isArray(res)) return res;
    if (task.docs.length === 0) return [];
    if (task.docs.length > 1)
      return (await Promise.all(task.docs.map((doc) => runOne({ docs: [doc], until: task.until })))).flat();
    const { index, source } = task.docs[0];
    return [
      res.timedOut
        ? {
            ok: false,
            index,
            reason: 'DOC_TIMEOUT',
            detail: `${source}: took longer than ${docTimeoutMs} ms (--doc-timeout-ms)`,
          }
        : { ok: false, index, reason: 'DOC_CRASHED', detail: `${source}: worker failed: ${res.failed}` },
    ];
  };
  return {
    run: runOne,
    close: () => pool.destroy(),
  };
}
