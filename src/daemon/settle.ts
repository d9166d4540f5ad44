import { readFileSync } from "node:fs";
import { memoryLibc } from "./libc.ts";
import { lockMemory } from "./mlock.ts";
import { trimStartupMemory, type TrimResult } from "./trim.ts";

// Back to idle after a storm. Under Bun, RSS behaves like a high-water mark: a burst of
// 100k entries grows the JS heap and touches code paths (JSON parsing, the classifier, SQLite)
// whose pages then stay resident although nothing uses them once the storm is over. When a
// burst has passed and the log has been quiet for a while, the same trim the daemon does after
// start-up gives them back: a full garbage collection (Bun.gc(true), which also returns freed
// heap pages) and MADV_PAGEOUT on the binary's clean pages (daemon/trim.ts). Cheap, and at
// most once per burst.
// Where the daemon locked its memory (mlock.ts, root), the allocator cannot give freed pages
// back at all: madvise(MADV_DONTNEED) fails with EINVAL on locked mappings (mm/madvise.c), so
// after a storm RSS stayed at its peak. Measured on a bare Bun 1.4.5 process that parsed 200k
// journal-like JSON lines: unlocked 77 → 36 MB after Bun.gc(true), locked 80 → 82 MB, locked
// with munlockall() around the collection 80 → 37 MB. So the lock is dropped for the trim and
// taken again after it (only the pages still in use are locked again: MCL_ONFAULT).

/**
 * The trim, with a memory lock lifted around it. The lock is taken again only after
 * `relockAfterMs`: the heap's freed pages go back to the kernel from the allocator's scavenger
 * thread a moment after the collection, and locking at once would pin them again. SQLite's
 * page cache and other C allocations go back through malloc_trim(0).
 */
export async function trimAfterBurst(relockAfterMs = 5_000): Promise<TrimResult> {
  let locked = false;
  let libc: ReturnType<typeof memoryLibc> | null = null;
  try {
    libc = memoryLibc();
    locked = /^VmLck:\s+[1-9]/m.test(readFileSync("/proc/self/status", "utf8"));
    if (locked) libc.munlockall();
  } catch {
    // No /proc or no libc: trim what can be trimmed.
  }
  const result = trimStartupMemory();
  libc?.malloc_trim(0);
  if (locked) {
    // Unref'd: a daemon stopping meanwhile exits without waiting for it.
    if (relockAfterMs > 0) await new Promise<void>((resolve) => setTimeout(resolve, relockAfterMs).unref());
    const relock = lockMemory();
    if (!relock.locked) return { ...result, error: `memory not locked again after the trim: ${relock.reason}` };
  }
  return result;
}

export interface SettleOptions {
  /** Entries read so far (all pipelines); polled. */
  entriesRead: () => number;
  /** A burst: at least this many entries since the last trim. Default 5,000. */
  burstEntries?: number;
  /** Quiet: no more than a trickle (`trickleRate`) for this long. Default 10 s. */
  quietMs?: number;
  /**
   * Entries per second still counted as quiet. Default 50: a busy machine's journal never
   * falls silent, and the storm is what matters. Trims are at least a minute apart anyway.
   */
  trickleRate?: number;
  /**
   * And at least this often regardless (default 30 min): JSC collects lazily, so an idle
   * daemon's heap creeps up between its rare full collections (measured: ~0.4 MB/min for the
   * first quarter hour with nothing but the heartbeat), and with the memory locked nothing freed
   * is given back without this.
   */
  everyMs?: number;
  /** Where the memory is locked, how long it stays unlocked after a trim. Default 5 s. */
  relockAfterMs?: number;
  /** Trims at least this far apart. Default 1 min. */
  minGapMs?: number;
  onTrim?: (result: TrimResult, entries: number) => void;
}

/** Starts the watch; returns the timer (the caller clears it on stop). */
export function settleAfterBursts(options: SettleOptions): ReturnType<typeof setInterval> {
  const burst = options.burstEntries ?? 5_000;
  const quietMs = options.quietMs ?? 10_000;
  const trickle = (options.trickleRate ?? 50) * (quietMs / 1000);
  const everyMs = options.everyMs ?? 1_800_000;
  const minGapMs = options.minGapMs ?? 60_000;
  let atLastTrim = options.entriesRead();
  let lastTrimMs = Date.now();
  let atLastLook = atLastTrim;
  let trimming = false;
  const timer = setInterval(() => {
    const now = options.entriesRead();
    const before = atLastTrim;
    const recent = now - atLastLook;
    atLastLook = now;
    const due = Date.now() - lastTrimMs >= everyMs;
    if (trimming || (!due && (now - atLastTrim < burst || recent > trickle || Date.now() - lastTrimMs < minGapMs))) return;
    trimming = true;
    atLastTrim = now;
    lastTrimMs = Date.now();
    void trimAfterBurst(options.relockAfterMs).then((result) => {
      trimming = false;
      options.onTrim?.(result, now - before);
    });
  }, quietMs);
  timer.unref();
  return timer;
}
