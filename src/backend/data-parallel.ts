// CPU data parallelism with worker_threads: N workers, each with its own tfjs engine and WASM backend,
// hold identical model replicas. Per step each computes loss and gradients on its slice of the batch,
// the gradients are averaged through a SharedArrayBuffer in a fixed order, and every replica applies
// the SAME averaged gradient, so replicas stay bit-identical (as in PyTorch DDP: all-reduce, then an
// identical optimizer step everywhere). Unlike DDP there is no ring all-reduce: worker i sums shard i
// (a contiguous range of the flat params) over all slots, in slot order. For ZeRO-1 (Rajbhandari et al.
// 2020) a replica may own the optimizer state of its shard: `accumulate` leaves the gradient sum in shared
// memory, the replica updates its shard of the shared params in place (via `map`), `loadParams` makes
// every replica read the new params. This file is also the worker entry (see the bottom).
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { HyperlmError } from '../errors.js';
import { selectBackend, type BackendChoice } from './select.js';

export interface DataParallelOptions {
  /** Number of worker threads (replicas); one per core is the useful maximum. */
  workers: number;
  /** Module implementing the replica contract above. */
  modulePath: string;
  /** Passed to `createReplica` in every worker; must build identical replicas. */
  init: unknown;
  /** Backend inside each worker; 'wasm' by default since tfjs-node shares one native pool anyway. */
  backend?: BackendChoice;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
}

export interface GradientsResult {
  /** Per worker, in slice order. */
  losses: number[];
  /** Per worker: the replica's `info` (e.g. loss parts and MoE routing statistics). */
  infos: unknown[];
  /** Σ over workers of their gradients, in getParams order (a copy the caller owns). */
  grads: Float32Array;
}

interface WorkerSetup {
  hyperlmDataParallel: true;
  index: number;
  workers: number;
  modulePath: string;
  init: unknown;
  backend: BackendChoice;
}
/** How `accumulate` folds this pass's gradient sum s into the shared gradient g: g = (first ? 0 : g) + s / divide. */
export interface AccumulateOptions {
  first: boolean;
  divide: number;
  /** Flat ranges [lo, hi) whose squares count in the returned sum of squares (default: all params). */
  normRanges?: Array<[number, number]>;
}

type Request =
  | { type: 'grads'; slice: unknown }
  | { type: 'reduce'; lo: number; hi: number; mean: boolean; accumulate?: AccumulateOptions }
  | { type: 'apply'; step: number }
  | { type: 'set' }
  | { type: 'run'; request: unknown }
  | { type: 'params' };

/**
 * Contract for `modulePath` (an ES module, absolute path or file: URL), which the model and training
 * engineers supply:
 *   export async function createReplica(init: unknown): Promise<Replica>
 *   interface Replica {
 *     getParams(): Float32Array;                       // all trainable params, flat, fixed order
 *     lossAndGrads(slice: unknown, out?: Float32Array): Promise<{ loss: number; grads: Float32Array; info?: unknown }>;
 *                                                      // grads in getParams order, written into `out` (this worker's shared slot) when given
 *     applyGrads?(meanGrads: Float32Array, step: number): Promise<void> | void;      // the optimizer update (for `step`)
 *     setParams?(params: Float32Array): Promise<void> | void;                        // overwrite all params (for `setParams`)
 *     run?(request: unknown): Promise<unknown> | unknown;                            // anything else (for `map`)
 *     attachShared?(views: SharedViews): void;   // once at start: the shared gradient and params rows and this worker's shard
 *   }
 * Two ways to drive it. `step`: replicated optimizer — each worker applies the SAME mean gradient with its
 * own deterministic `applyGrads`. `gradients` + `setParams`: the optimizer lives in the caller — workers
 * return the SUM of their gradients (each replica pre-scales its slice's share, e.g. by its fraction of
 * the batch's loss weight, so the sum is exactly the full-batch gradient), the caller updates the flat
 * params and broadcasts them through the same shared buffer; replicas then hold the caller's bytes.
 * ZeRO-1: `accumulate` + `map` + `loadParams` — the summed gradient stays in shared memory, each replica's
 * `run` updates its shard [lo, hi) of the shared params row in place with its own optimizer state, and
 * after every shard is done all replicas load the whole row, so no thread touches all parameters.
 * `init` must be structured-cloneable and build identical params in every worker (seeded init, or
 * params passed inside `init`); `start` checks this byte for byte. `map` sends one request per worker to
 * the replica's `run` and returns the answers unreduced: per-slice statistics a caller needs before the
 * gradient pass (the VQGAN's adaptive GAN weight is a function of the whole batch). With `step`, slices
 * should hold equal numbers of examples: losses and gradients are averaged with equal weight.
 */
/** Wall ms of the last `accumulate`/`gradients`/`step`'s two phases (for `bench:train -- --phases`). */
export interface PhaseTimes {
  /** Every worker's forward + backward, until the slowest is done. */
  grads: number;
  /** The shards' sums over the slots. */
  reduce: number;
}

export class DataParallel {
  private steps = 0;
  /** Phase times of the last gradient pass. */
  readonly lastPhases: PhaseTimes = { grads: 0, reduce: 0 };
  private shared!: Float32Array; // [workers + 2, numParams]: a gradient slot per worker, the reduced gradient, the params
  private constructor(
    private readonly pool: Worker[],
    readonly numParams: number,
  ) {}

  get workers(): number {
    return this.pool.length;
  }

  /** Starts the workers, builds a replica in each and checks that all replicas start byte-identical. */
  static async start(opts: DataParallelOptions): Promise<DataParallel> {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) {
      throw new HyperlmError('CONFIG_BAD_VALUE', `options.workers must be a positive integer, got ${opts.workers}`);
    }
    const modulePath = opts.modulePath.startsWith('file:') ? opts.modulePath : pathToFileURL(opts.modulePath).href;
    const pool = Array.from(
      { length: opts.workers },
      (_, index) =>
        new Worker(new URL(import.meta.url), {
          workerData: {
            hyperlmDataParallel: true,
            index,
            workers: opts.workers,
            modulePath,
            init: opts.init,
            backend: opts.backend ?? 'wasm',
          } satisfies WorkerSetup,
        }),
    );
    const ready = await Promise.all(pool.map((w) => reply<{ numParams: number }>(w)));
    const dp = new DataParallel(pool, ready[0].numParams);
    // One shared buffer: a gradient slot per worker, the reduced gradient, the params. Layout [workers + 2, numParams].
    const shared = new SharedArrayBuffer(4 * dp.numParams * (opts.workers + 2));
    dp.shared = new Float32Array(shared);
    await Promise.all(pool.map((w) => call(w, { type: 'buffer', shared })));
    const params = await dp.params();
    if (!params.every((p) => Buffer.from(p.buffer).equals(Buffer.from(params[0].buffer)))) {
      await dp.close();
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `data parallel: replicas built from options.init by ${opts.modulePath} differ; seed the initialisation`,
      );
    }
    return dp;
  }

  /** One synchronous data-parallel step; `slices[i]` goes to worker i. */
  async step(slices: unknown[]): Promise<StepResult> {
    if (slices.length !== this.pool.length) {
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `data parallel: step needs ${this.pool.length} batch slices, got ${slices.length}`,
      );
    }
    const { losses, sq } = await this.computeAndReduce(slices, true);
    this.steps++;
    await Promise.all(this.pool.map((w) => call(w, { type: 'apply', step: this.steps })));
    return { loss: losses.reduce((a, b) => a + b, 0) / losses.length, gradNorm: Math.sqrt(sq) };
  }

  /** Gradients of every worker's slice, summed (in slot order, so the result is deterministic). */
  async gradients(slices: unknown[]): Promise<GradientsResult> {
    if (slices.length !== this.pool.length) {
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `data parallel: gradients needs ${this.pool.length} batch slices, got ${slices.length}`,
      );
    }
    const { losses, infos } = await this.computeAndReduce(slices, false);
    return { losses, infos, grads: this.shared.slice(this.pool.length * this.numParams) };
  }

  /** Overwrite every replica's params with `params` (getParams order), e.g. after the caller's optimizer step. */
  async setParams(params: Float32Array): Promise<void> {
    if (params.length !== this.numParams) {
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `data parallel: setParams got ${params.length} values for ${this.numParams} params`,
      );
    }
    this.paramsView().set(params);
    await this.loadParams();
  }

  /** The shared params row (getParams order, a live view): what `setParams` and `loadParams` give the replicas, and what ZeRO shards update in place. */
  paramsView(): Float32Array {
    return this.shared.subarray((this.pool.length + 1) * this.numParams, (this.pool.length + 2) * this.numParams);
  }

  /** Every replica overwrites its params with the shared params row (after the shards' in-place updates). */
  async loadParams(): Promise<void> {
    await Promise.all(this.pool.map((w) => call(w, { type: 'set' })));
  }

  /** Worker i's shard [lo, hi) of the flat params: it reduces that range, and a ZeRO replica updates it. */
  shardRanges(): Array<[number, number]> {
    return shardRanges(this.numParams, this.pool.length);
  }

  /**
   * Gradients of every worker's slice, summed in slot order into the shared gradient row, folded into it
   * as `opts` says (gradient accumulation without leaving shared memory); returns the losses, infos and Σ g²
   * of the folded gradient (each shard's float64 sum, added in shard order), nothing of size numParams.
   */
  async accumulate(
    slices: unknown[],
    opts: AccumulateOptions,
  ): Promise<{ losses: number[]; infos: unknown[]; sq: number }> {
    if (slices.length !== this.pool.length) {
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `data parallel: accumulate needs ${this.pool.length} batch slices, got ${slices.length}`,
      );
    }
    if (!(opts.divide > 0))
      throw new HyperlmError('CONFIG_BAD_VALUE', `data parallel: accumulate needs divide > 0, got ${opts.divide}`);
    return this.computeAndReduce(slices, false, opts);
  }

  /** `requests[i]` to worker i's `replica.run`; the answers in worker order (nothing is reduced). */
  async map(requests: unknown[]): Promise<unknown[]> {
    if (requests.length !== this.pool.length) {
      throw new HyperlmError(
        'CONFIG_BAD_VALUE',
        `data parallel: map needs ${this.pool.length} requests, got ${requests.length}`,
      );
    }
    return Promise.all(this.pool.map((w, i) => call<unknown>(w, { type: 'run', request: requests[i] })));
  }

  private async computeAndReduce(
    slices: unknown[],
    mean: boolean,
    accumulate?: AccumulateOptions,
  ): Promise<{ losses: number[]; infos: unknown[]; sq: number }> {
    const t0 = performance.now();
    const out = await Promise.all(
      this.pool.map((w, i) => call<{ loss: number; info: unknown }>(w, { type: 'grads', slice: slices[i] })),
    );
    const t1 = performance.now();
    // Each worker reduces its shard of the parameters over all slots, in slot order.
    const ranges = this.shardRanges();
    const sq = await Promise.all(
      this.pool.map((w, i) =>
        call<number>(w, { type: 'reduce', lo: ranges[i][0], hi: ranges[i][1], mean, accumulate }),
      ),
    );
    this.lastPhases.grads = t1 - t0;
    this.lastPhases.reduce = performance.now() - t1;
    return { losses: out.map((o) => o.loss), infos: out.map((o) => o.info), sq: sq.reduce((a, b) => a + b, 0) };
  }

  /** Current params of every replica (for checkpoints and for checking they agree). */
  async params(): Promise<Float32Array[]> {
    return Promise.all(this.pool.map((w) => call<Float32Array>(w, { type: 'params' })));
  }

  async close(): Promise<void> {
    await Promise.all(this.pool.map((w) => w.terminate()));
  }
}

/** Contiguous shards of n params over `workers`: ⌈n / workers⌉ each, the last ones shorter or empty. */
function shardRanges(n: number, workers: number): Array<[number, number]> {
  const per = Math.ceil(n / workers);
  return Array.from({ length: workers }, (_, i) => [Math.min(i * per, n), Math.min((i + 1) * per, n)]);
}

function reply<T>(w: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: { ok: boolean; value?: T; error?: string }) => {
      w.off('error', onError);
      if (m.ok) resolve(m.value as T);
      else reject(new HyperlmError('TRAIN_NON_FINITE', `data parallel worker failed: ${m.error}`));
    };
    const onError = (err: Error) => {
      w.off('message', onMessage);
      reject(err);
    };
    w.once('message', onMessage);
    w.once('error', onError);
  });
}

function call<T>(w: Worker, msg: Request | { type: 'buffer'; shared: SharedArrayBuffer }): Promise<T> {
  const p = reply<T>(w);
  w.postMessage(msg);
  return p;
}

interface Replica {
  getParams(): Float32Array;
  lossAndGrads(slice: unknown, out?: Float32Array): Promise<{ loss: number; grads: Float32Array; info?: unknown }>;
  applyGrads?(meanGrads: Float32Array, step: number): Promise<void> | void;
  setParams?(params: Float32Array): Promise<void> | void;
  run?(request: unknown): Promise<unknown> | unknown;
  attachShared?(views: SharedViews): void;
}

/** What a replica's `attachShared` gets: live views of the shared gradient and params rows, and its shard. */
export interface SharedViews {
  grads: Float32Array;
  params: Float32Array;
  lo: number;
  hi: number;
}

/**
 * Worker i's share of the all-reduce: g[j] = Σ_slots slot[j] for j in [lo, hi), summed in slot order in
 * float64 and rounded once to float32 (÷ slots for `mean`), then folded into the shared gradient as `acc`
 * says; returns Σ g² of the stored values (over acc.normRanges when given). Plain indexed loops, one per
 * case, with the two-slot case (2 workers, the usual CPU run) unrolled: this pass reads every slot and runs
 * while the other workers wait, so it is kept to memory speed (was 61 ms per dense-small step, for-of
 * over the slots and the accumulate branch inside the loop).
 */
export function reduceShard(
  slots: Float32Array[],
  g: Float32Array,
  lo: number,
  hi: number,
  mean: boolean,
  acc?: AccumulateOptions,
): number {
  const k = slots.length;
  const sum = (j: number): number => {
    let s = 0;
    for (let w = 0; w < k; w++) s += slots[w][j];
    return s;
  };
  const fold = acc !== undefined && !acc.first;
  const divide = acc?.divide ?? 1;
  let sq = 0;
  if (k === 2 && !fold && divide === 1 && !acc?.normRanges) {
    // the common case, with Σ g² in the same pass: (a + b) / 2 and a + b round once, as sum() / k does
    const a = slots[0],
      b = slots[1],
      d = mean ? 2 : 1;
    for (let j = lo; j < hi; j++) {
      g[j] = (a[j] + b[j]) / d;
      const v = g[j]; // the stored float32 (an assignment expression's value is the unrounded double)
      sq += v * v;
    }
    return sq;
  }
  if (!acc) {
    for (let j = lo; j < hi; j++) g[j] = mean ? sum(j) / k : sum(j);
  } else {
    // acc: g = (first ? 0 : g) + round32(Σ, ÷ k for mean) / divide, stored as float32
    for (let j = lo; j < hi; j++) {
      const s = Math.fround(mean ? sum(j) / k : sum(j));
      g[j] = (fold ? g[j] : 0) + s / divide;
    }
  }
  const ranges = acc?.normRanges ?? [[lo, hi]];
  for (const [a, b] of ranges) {
    for (let j = Math.max(a, lo), end = Math.min(b, hi); j < end; j++) sq += g[j] * g[j];
  }
  return sq;
}

async function runWorker(setup: WorkerSetup): Promise<void> {
  const port = parentPort!;
  const answer = async (f: () => Promise<unknown> | unknown) => {
    try {
      port.postMessage({ ok: true, value: await f() });
    } catch (err) {
      port.postMessage({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  };
  let replica: Replica | undefined;
  let n = 0; // params per replica, fixed at creation (getParams may copy every weight; call it once)
  await answer(async () => {
    await selectBackend(setup.backend);
    const mod = (await import(setup.modulePath)) as { createReplica(init: unknown): Promise<Replica> };
    replica = await mod.createReplica(setup.init);
    n = replica.getParams().length;
    return { numParams: n };
  });
  let slots: Float32Array[] = [];
  let mean: Float32Array = new Float32Array(0);
  let paramsRow: Float32Array = new Float32Array(0);
  port.on(
    'message',
    (msg: Request | { type: 'buffer'; shared: SharedArrayBuffer }) =>
      void answer(async () => {
        const r = replica!;
        switch (msg.type) {
          case 'buffer': {
            slots = Array.from({ length: setup.workers }, (_, i) => new Float32Array(msg.shared, 4 * n * i, n));
            mean = new Float32Array(msg.shared, 4 * n * setup.workers, n);
            paramsRow = new Float32Array(msg.shared, 4 * n * (setup.workers + 1), n);
            const [lo, hi] = shardRanges(n, setup.workers)[setup.index];
            r.attachShared?.({ grads: mean, params: paramsRow, lo, hi });
            return null;
          }
          case 'grads': {
            const slot = slots[setup.index];
            const { loss, grads, info } = await r.lossAndGrads(msg.slice, slot);
            if (grads.length !== n)
              throw new HyperlmError('INTERNAL', `lossAndGrads returned ${grads.length} gradients for ${n} params`);
            if (grads !== slot) slot.set(grads);
            return { loss, info };
          }
          case 'reduce':
            return reduceShard(slots, mean, msg.lo, msg.hi, msg.mean, msg.accumulate);
          case 'apply':
            if (!r.applyGrads)
              throw new HyperlmError(
                'INTERNAL',
                `${setup.modulePath}: the replica has no applyGrads, needed by DataParallel.step`,
              );
            await r.applyGrads(mean.slice(), msg.step);
            return null;
          case 'set':
            if (!r.setParams)
              throw new HyperlmError(
                'INTERNAL',
                `${setup.modulePath}: the replica has no setParams, needed by DataParallel.setParams`,
              );
            await r.setParams(paramsRow); // the contract: setParams copies what it keeps (flat-params.ts assignFlat)
            return null;
          case 'run':
            if (!r.run)
              throw new HyperlmError(
                'INTERNAL',
                `${setup.modulePath}: the replica has no run, needed by DataParallel.map`,
              );
            return r.run(msg.request);
          case 'params':
            return r.getParams().slice();
        }
      }),
  );
}

if (!isMainThread && (workerData as WorkerSetup | undefined)?.hyperlmDataParallel === true) {
  void runWorker(workerData as WorkerSetup);
}
