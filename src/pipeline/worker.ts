// The piscina worker: a thin entry that builds its context (tokenizer, image tokenizer) from workerData
// and runs the same processTask as the in-thread pool. The context is built while piscina loads this
// module, before the worker reports ready: the workers of a pool start up in parallel, as soon as the
// pool exists, instead of each on its first task. A context that fails to build fails every task
// sent to this worker with its error (counted as skips naming it), as building it on first use did.
// The role of Megatron preprocess_data.py's Encoder.initializer (one tokenizer per pool process).
import { workerData } from 'node:worker_threads';
import { createContext, type WorkerInit } from './context.js';
import { processTask, type DocumentResult, type DocumentTask } from './task.js';

type Handler = (task: DocumentTask) => Promise<DocumentResult[]>;

// piscina awaits a promised default export before marking the worker ready.
const handler: Promise<Handler> = createContext(workerData as WorkerInit).then(
  (ctx): Handler =>
    (task) =>
      processTask(task, ctx),
  (err: unknown): Handler =>
    () =>
      Promise.reject(err),
);

export default handler;
