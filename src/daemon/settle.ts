import { trimStartupMemory, type TrimResult } from "./trim.ts";

// Back to idle after a storm. Under Bun, RSS behaves like a high-water mark: a burst of
// 100k entries grows the JS heap and touches code paths (JSON parsing, the classifier, SQLite)
// whose pages then stay resident although nothing uses them once the storm is over. When a
// burst has passed and the log has been quiet for a while, the same trim the daemon does after
// start-up gives them back: a full garbage collection (Bun.gc(true), which also returns freed
// heap pages) and MADV_PAGEOUT on the binary's clean pages (daemon/trim.ts). Cheap, and at
// most once per burst.

export interface SettleOptions {
  /** Entries read so far (all pipelines); polled. */
  entriesRead: () => number;
  /** A burst: at least this many entries since the last trim. Default 5,000. */
  burstEntries?: number;
  /** Quiet: no more than a trickle (1 entry/s) for this long. Default 10 s. */
  quietMs?: number;
  onTrim?: (result: TrimResult, entries: number) => void;
}

/** Starts the watch; returns the timer (the caller clears it on stop). */
export function settleAfterBursts(options: SettleOptions): ReturnType<typeof setInterval> {
  const burst = options.burstEntries ?? 5_000;
  const quietMs = options.quietMs ?? 10_000;
  let atLastTrim = options.entriesRead();
  let atLastLook = atLastTrim;
  const timer = setInterval(() => {
    const now = options.entriesRead();
    const recent = now - atLastLook;
    atLastLook = now;
    if (now - atLastTrim < burst || recent > quietMs / 1000) return;
    const result = trimStartupMemory();
    options.onTrim?.(result, now - atLastTrim);
    atLastTrim = now;
  }, quietMs);
  timer.unref();
  return timer;
}
