// Runs DocumentTasks on a piscina pool of worker threads, or in this thread when workers is 0 (tests,
// debugging). A document that throws, crashes its worker or exceeds the per-document timeout becomes a
// counted skip naming its source; the pool replaces the worker and the run goes on.
import { Piscina } from 'piscina';
import { createContext, type WorkerInit } from './context.js';
import { processOne, type DocumentResult, type DocumentTask } from './worker.js';

export interface DocumentPool {
  run(task: DocumentTask): Promise<DocumentResult>;
  close(): Promise<void>;
}

export function createPool(init: WorkerInit, workers: number, docTimeoutMs: number, workerHeapMb = 4096): DocumentPool {
  if (workers === 0) {
    const context = createContext(init);
    return {
      run: async (task) => processOne(task, await context),
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
    resourceLimits: { maxOldGenerationSizeMb: workerHeapMb },
  });
  return {
    async run(task) {
      const { index, source } = task.raw;
      try {
        return await pool.run(task, { signal: AbortSignal.timeout(docTimeoutMs) }) as DocumentResult;
      } catch (err) {
        const timedOut = err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError' || /abort/i.test(err.message));
        return timedOut
          ? { ok: false, index, reason: 'DOC_TIMEOUT', detail: `${source}: took longer than ${docTimeoutMs} ms (--doc-timeout-ms)` }
          : { ok: false, index, reason: 'DOC_CRASHED', detail: `${source}: worker failed: ${err instanceof Error ? err.message : String(err)}` };
      }
    },
    close: () => pool.destroy(),
  };
}
