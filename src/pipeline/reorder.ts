// Runs tasks with bounded concurrency and hands their results back in submission order.
// Readers are paused while `limit` tasks are in flight (backpressure), and a result waits in the
// buffer until every earlier one has been delivered, so output order never depends on scheduling.
// The semantics of Python's multiprocessing Pool.imap (ordered results, as Megatron's preprocess_data.py
// uses), with a bound on results held: imap buffers without limit when the consumer is slower.

export class OrderedRunner<R> {
  private readonly pending = new Map<number, R>();
  private nextToDeliver = 0;
  private submitted = 0;
  private inFlight = 0;
  private wake: (() => void) | undefined;
  private failure: unknown;

  constructor(
    private readonly limit: number,
    private readonly deliver: (result: R) => Promise<void> | void,
  ) {}

  /** Starts a task; resolves once there is room for another (backpressure for the caller's loop). */
  async submit(task: () => Promise<R>): Promise<void> {
    if (this.failure) throw this.failure;
    const seq = this.submitted++;
    this.inFlight++;
    task().then(
      (r) => {
        this.pending.set(seq, r);
        this.inFlight--;
        this.wake?.();
      },
      (err) => {
        this.failure ??= err;
        this.inFlight--;
        this.wake?.();
      },
    );
    await this.drain(this.limit - 1);
  }

  /** Waits until every submitted task is delivered. */
  async finish(): Promise<void> {
    await this.drain(0);
  }

  private async drain(maxInFlight: number): Promise<void> {
    for (;;) {
      while (this.pending.has(this.nextToDeliver)) {
        const r = this.pending.get(this.nextToDeliver)!;
        this.pending.delete(this.nextToDeliver++);
        await this.deliver(r);
      }
      if (this.failure) throw this.failure;
      // Undelivered results also hold memory: count them against the limit too.
      if (this.inFlight + this.pending.size <= maxInFlight) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }
}
