// The inference engine behind every protocol: N slots, each one row of a single HostDecoder (decode.ts) and
// the token list its keys/values hold (its prompt cache), a bounded queue, and one loop that interleaves
// work so that nobody waits long and all decoding is batched (llama.cpp's continuous batching, on CPU):
//   each iteration = assign queued jobs to free slots → drop cancelled jobs → one prefill chunk of one job
//   (rewind to the longest token prefix shared with the slot's cache, then `extend` with at most prefillChunk
//   tokens) → one `stepRows` over every generating slot at once → `await setImmediate`, where HTTP events run
//   (so a client that disconnects is cancelled within one iteration, and its slot is free for the next job).
// Sampling is sampling.ts's, seeded per job as generate.ts seeds its batch, so a greedy or seeded job gives the
// tokens generate() gives for the same prompt (up to float rounding between prefill and step paths).

import { HyperlmError } from '../errors.js';
import { HostDecoder } from '../model/decode.js';
import type { GPT } from '../model/gpt.js';
import { Rng } from '../rng.js';
import { sampleToken } from '../model/sampling.js';

export interface JobRequest {
  prompt: number[];
  /** Tokens to generate at most; 0 evaluates the prompt into the cache only (an editor's warm-up). */
  maxTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  /** Sampling one of these ends the job (it is not passed to onToken). */
  stopTokens: readonly number[];
  /** Reuse the slot's cached prefix (llama.cpp cache_prompt). */
  cachePrompt: boolean;
  /** A specific slot (llama.cpp id_slot); the job waits for it. */
  slot?: number;
  signal?: AbortSignal;
  /** Each generated non-stop token; return false to end the job (text rules: stop strings, n_indent…). */
  onToken: (token: number) => boolean;
  /** Called once when the prompt is evaluated (before the first token). */
  onPromptDone?: () => void;
}

export type JobEnd = 'stop-token' | 'rule' | 'limit' | 'context' | 'cancelled' | 'shutdown';

export interface JobResult {
  slot: number;
  end: JobEnd;
  /** Generated tokens, stop token excluded. */
  tokens: number[];
  /** Tokens sampled, a final stop token included (llama.cpp's tokens_predicted). */
  predicted: number;
  promptTokens: number;
  /** Prompt tokens reused from the slot's cache. */
  cachedTokens: number;
  promptMs: number;
  predictedMs: number;
}

export interface EngineOptions {
  parallel: number;
  /** Positions per slot (≤ the model's blockSize). */
  ctx: number;
  maxQueue: number;
  prefillChunk: number;
}

/** Monotonic counters, for tests, /metrics-style inspection and logs. */
export interface EngineCounters {
  submitted: number;
  completed: number;
  cancelled: number;
  rejected: number;
  failed: number;
  promptTokens: number;
  cachedTokens: number;
  predictedTokens: number;
  /** stepRows calls, and how many rows they carried in total (rows / steps = mean batch). */
  steps: number;
  stepRows: number;
  maxBatch: number;
}

interface Slot {
  id: number;
  /** Tokens whose keys/values the decoder row holds, in order. */
  cached: number[];
  job?: Job;
  lastUsed: number;
}

interface Job {
  id: number;
  req: JobRequest;
  slot?: Slot;
  /** Next prompt index to evaluate. */
  promptPos: number;
  /** Sampled token not yet fed to the decoder. */
  pending?: number;
  tokens: number[];
  predicted: number;
  cachedTokens: number;
  random: () => number;
  stops: Set<number>;
  tStart: number;
  tPromptDone: number;
  resolve: (r: JobResult) => void;
  reject: (e: unknown) => void;
  done: boolean;
}

const commonPrefix = (a: readonly number[], b: readonly number[]): number => {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
};

export class InferenceEngine {
  readonly counters: EngineCounters = {
    submitted: 0,
    completed: 0,
    cancelled: 0,
    rejected: 0,
    failed: 0,
    promptTokens: 0,
    cachedTokens: 0,
    predictedTokens: 0,
    steps: 0,
    stepRows: 0,
    maxBatch: 0,
  };
  private readonly decoder: HostDecoder;
  private readonly slots: Slot[];
  private readonly queue: Job[] = [];
  private readonly V: number;
  private running = false;
  private closed = false;
  private nextId = 1;
  private tick = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    model: GPT,
    readonly opts: EngineOptions,
  ) {
    this.decoder = new HostDecoder(model, opts.parallel, opts.ctx, {});
    this.slots = Array.from({ length: opts.parallel }, (_, id) => ({ id, cached: [], lastUsed: 0 }));
    this.V = model.config.vocabSize;
  }

  /** Slots busy, jobs queued. */
  get load(): { busy: number; queued: number } {
    return { busy: this.slots.filter((s) => s.job).length, queued: this.queue.length };
  }

  /** Per slot: id, busy, cached tokens (llama.cpp's /slots, reduced). */
  slotInfo(): Array<{ id: number; is_processing: boolean; n_cached: number }> {
    return this.slots.map((s) => ({ id: s.id, is_processing: s.job !== undefined, n_cached: s.cached.length }));
  }

  /**
   * Queues a job; resolves when it ends (cancellation included). Rejects with SERVE_BUSY when every slot is
   * busy and the queue is full, SERVE_UNAVAILABLE after close(), MODEL_BAD_INPUT for a prompt that cannot fit.
   */
  submit(req: JobRequest): Promise<JobResult> {
    if (this.closed) return Promise.reject(new HyperlmError('SERVE_UNAVAILABLE', 'the server is shutting down'));
    if (req.prompt.length === 0 || req.prompt.length > this.opts.ctx) {
      return Promise.reject(
        new HyperlmError(
          'PROMPT_TOO_LONG',
          `the prompt has ${req.prompt.length} tokens; a slot holds 1..${this.opts.ctx}`,
        ),
      );
    }
    if (req.slot !== undefined && !(Number.isInteger(req.slot) && req.slot >= 0 && req.slot < this.slots.length)) {
      return Promise.reject(
        new HyperlmError(
          'SERVE_BAD_REQUEST',
          `id_slot ${req.slot} is not a slot (0..${this.slots.length - 1}, or -1 for any)`,
        ),
      );
    }
    const free = this.slots.some((s) => !s.job && (req.slot === undefined || s.id === req.slot));
    if (!free && this.queue.length >= this.opts.maxQueue) {
      this.counters.rejected++;
      return Promise.reject(
        new HyperlmError(
          'SERVE_BUSY',
          `all ${this.slots.length} slots are busy and ${this.queue.length} requests are queued`,
        ),
      );
    }
    return new Promise<JobResult>((resolve, reject) => {
      const job: Job = {
        id: this.nextId++,
        req,
        promptPos: 0,
        tokens: [],
        predicted: 0,
        cachedTokens: 0,
        random: Rng.fromSeed(req.seed).uniformFn(),
        stops: new Set(req.stopTokens),
        tStart: performance.now(),
        tPromptDone: 0,
        resolve,
        reject,
        done: false,
      };
      this.counters.submitted++;
      this.queue.push(job);
      req.signal?.addEventListener('abort', () => this.wake(), { once: true });
      this.wake();
    });
  }

  /** Stops accepting jobs; waits up to graceMs for running and queued ones, then ends them as 'shutdown'. */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    if (this.running) {
      await Promise.race([
        new Promise<void>((r) => this.idleWaiters.push(r)),
        new Promise((r) => setTimeout(r, graceMs).unref()),
      ]);
    }
    for (const job of [...this.queue, ...this.slots.flatMap((s) => (s.job ? [s.job] : []))])
      this.finish(job, 'shutdown');
  }

  private wake(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(() => void this.loop());
  }

  private async loop(): Promise<void> {
    try {
      while (this.queue.length > 0 || this.slots.some((s) => s.job)) {
        this.tick++;
        this.assign();
        for (const job of [...this.queue, ...this.slots.flatMap((s) => (s.job ? [s.job] : []))]) {
          if (job.req.signal?.aborted) this.finish(job, 'cancelled');
        }
        this.prefillOne();
        this.stepAll();
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.running = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Queued jobs (FIFO) to free slots: the asked-for slot, else the free slot sharing the longest prefix, else the least recently used. */
  private assign(): void {
    for (let i = 0; i < this.queue.length;) {
      const job = this.queue[i];
      const free = this.slots.filter((s) => !s.job && (job.req.slot === undefined || s.id === job.req.slot));
      if (free.length === 0) {
        i++;
        continue;
      }
      const score = (s: Slot) => (job.req.cachePrompt ? commonPrefix(s.cached, job.req.prompt) : 0);
      const slot = free.reduce((a, b) =>
        score(b) > score(a) || (score(b) === score(a) && b.lastUsed < a.lastUsed) ? b : a,
      );
      this.queue.splice(i, 1);
      slot.job = job;
      slot.lastUsed = this.tick;
      job.slot = slot;
      const { prompt, maxTokens, cachePrompt } = job.req;
      // keep the shared prefix, but evaluate at least the last prompt token when its logits are needed
      const keep = Math.min(
        cachePrompt ? commonPrefix(slot.cached, prompt) : 0,
        maxTokens > 0 ? prompt.length - 1 : prompt.length,
      );
      this.decoder.rewind(slot.id, keep);
      slot.cached.length = keep;
      job.promptPos = keep;
      job.cachedTokens = keep;
      job.tStart = performance.now();
    }
  }

  /** One prefill chunk for the oldest job still evaluating its prompt. */
  private prefillOne(): void {
    const job = this.slots
      .map((s) => s.job)
      .filter((j): j is Job => j !== undefined && j.pending === undefined && j.promptPos < j.req.prompt.length)
      .sort((a, b) => a.id - b.id)[0];
    const waiting = this.slots
      .map((s) => s.job)
      .filter((j): j is Job => j !== undefined && j.pending === undefined && j.promptPos >= j.req.prompt.length);
    for (const j of waiting) this.promptDone(j, undefined); // fully cached warm-ups
    if (!job) return;
    const slot = job.slot!;
    const ids = job.req.prompt.slice(job.promptPos, job.promptPos + this.opts.prefillChunk);
    let logits: Float32Array;
    try {
      logits = this.decoder.extend(slot.id, ids);
    } catch (err) {
      return this.fail([job], err);
    }
    slot.cached.push(...ids);
    job.promptPos += ids.length;
    if (job.promptPos === job.req.prompt.length) this.promptDone(job, logits);
  }

  private promptDone(job: Job, logits: Float32Array | undefined): void {
    job.tPromptDone = performance.now();
    this.counters.promptTokens += job.req.prompt.length;
    this.counters.cachedTokens += job.cachedTokens;
    job.req.onPromptDone?.();
    if (job.req.maxTokens === 0 || logits === undefined) return this.finish(job, 'limit');
    this.accept(job, sampleToken(logits, job.req, job.random));
  }

  /** A sampled token: stop, hand it to the job's rules, or keep it pending for the next step. */
  private accept(job: Job, token: number): void {
    job.predicted++;
    this.counters.predictedTokens++;
    if (job.stops.has(token)) return this.finish(job, 'stop-token');
    job.tokens.push(token);
    let more: boolean;
    try {
      more = job.req.onToken(token);
    } catch (err) {
      return this.fail([job], err);
    }
    if (!more) return this.finish(job, 'rule');
    if (job.tokens.length >= job.req.maxTokens) return this.finish(job, 'limit');
    if (job.req.prompt.length + job.tokens.length >= this.opts.ctx) return this.finish(job, 'context'); // prompt + generated fill the slot
    job.pending = token;
  }

  /** One decode step for every slot with a pending token, in one batch. */
  private stepAll(): void {
    const jobs = this.slots.map((s) => s.job).filter((j): j is Job => j !== undefined && j.pending !== undefined);
    if (jobs.length === 0) return;
    let logits: Float32Array;
    try {
      logits = this.decoder.stepRows(
        jobs.map((j) => j.slot!.id),
        jobs.map((j) => j.pending!),
      );
    } catch (err) {
      return this.fail(jobs, err);
    }
    this.counters.steps++;
    this.counters.stepRows += jobs.length;
    this.counters.maxBatch = Math.max(this.counters.maxBatch, jobs.length);
    jobs.forEach((job, i) => {
      job.slot!.cached.push(job.pending!);
      job.pending = undefined;
      this.accept(job, sampleToken(logits.subarray(i * this.V, (i + 1) * this.V), job.req, job.random));
    });
  }

  private finish(job: Job, end: JobEnd): void {
    if (job.done) return;
    job.done = true;
    const q = this.queue.indexOf(job);
    if (q >= 0) this.queue.splice(q, 1);
    if (job.slot) job.slot.job = undefined;
    if (end === 'cancelled') this.counters.cancelled++;
    else this.counters.completed++;
    const now = performance.now();
    const promptEnd = job.tPromptDone || now;
    job.resolve({
      slot: job.slot?.id ?? -1,
      end,
      tokens: job.tokens,
      predicted: job.predicted,
      promptTokens: job.req.prompt.length,
      cachedTokens: job.cachedTokens,
      promptMs: promptEnd - job.tStart,
      predictedMs: job.tPromptDone ? now - job.tPromptDone : 0,
    });
  }

  /** A decoder error: the jobs fail, their slots keep only what the decoder row still holds. */
  private fail(jobs: Job[], err: unknown): void {
    for (const job of jobs) {
      if (job.done) continue;
      job.done = true;
      const slot = job.slot!;
      slot.job = undefined;
      slot.cached.length = Math.min(slot.cached.length, this.decoder.length(slot.id));
      this.counters.failed++;
      job.reject(err);
    }
  }
}
