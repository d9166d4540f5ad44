/** Resolves after `ms`, or at once when `signal` aborts (never rejects): a backoff or poll wait that shutdown cuts short. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * A wait that a wake-up cuts short: a loop idles with `idle` between looks at its work and
 * `wake` says there is new work. A wake-up that comes while the loop is busy is kept for its
 * next idle (`clear` forgets it, at the start of a look). `sleep` waits for the time alone: a
 * retry's backoff is not cut short by new work.
 */
export class Wakeable {
  private wakeUp: (() => void) | null = null;
  private woken = false;

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  clear(): void {
    this.woken = false;
  }

  idle(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted || this.woken) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      this.wakeUp = done;
    });
  }
}
