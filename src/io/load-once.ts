// Load-once caches for things read from disk and kept for the life of the process (a thread, in a worker):
// the first caller under a key starts the load and every later caller shares its promise, so concurrent
// callers never load twice; a failed load is forgotten, so the next call tries again instead of replaying
// the error. Python's functools.cache applied to promises (as there, a call that raised is not kept), with
// no eviction: the callers (src/prompts/target.ts's models, src/vqgan/load.ts's VQGANs) hold a handful of
// entries, whose values must not be disposed while cached.

/** Promises of loaded values by key; `get` starts `load` only when the key has none (or its load failed). */
export class LoadOnce<T> {
  private readonly loads = new Map<string, Promise<T>>();

  get(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.loads.get(key);
    if (!p) {
      p = load();
      p.catch(() => this.loads.delete(key));
      this.loads.set(key, p);
    }
    return p;
  }
}
