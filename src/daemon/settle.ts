import { readFileSync } from "node:fs";
import { memoryLibc } from "./libc.ts";
import { lockMemory, readSwaps, swapActive } from "./mlock.ts";
import { trimStartupMemory, type TrimResult } from "./trim.ts";

// Back to idle after a storm. Under Bun, RSS behaves like a high-water mark: a burst of
// 100k entries grows the JS heap and touches code paths (JSON parsing, the classifier, SQLite)
// whose pages then stay resident although nothing uses them once the storm is over. When a
// burst has passed and the log has been quiet for a while, the same trim the daemon does after
// start-up gives them back: a full garbage collection (Bun.gc(true), which also returns freed
// heap pages) and MADV_PAGEOUT on the binary's clean pages (daemon/trim.ts). Cheap, and at
// most once per burst.
// Where the daemon locked its memory (mlock.ts, root), the allocator cannot give freed pages
// back from a locked mapping: madvise(MADV_DONTNEED) fails with EINVAL there (mm/madvise.c),
// and MADV_PAGEOUT too. Measured on a bare Bun 1.4.5 process that parsed 200k journal-like JSON
// lines: unlocked 77 → 36 MB after Bun.gc(true), locked 80 → 82 MB, locked with munlockall()
// around the collection 80 → 37 MB. Without swap only the file mappings are locked, so the heap
// gives pages back by itself as the storm ends (measured: anon 36 → 19 MB in the 10 s before
// the trim); the lock is still lifted around the trim for MADV_PAGEOUT on the binary, and taken
// again after it (only the pages still resident are locked again: ONFAULT).

/**
 * The trim, with a memory lock lifted around it: MADV_PAGEOUT refuses locked mappings as
 * madvise(MADV_DONTNEED) does. `release` runs first: it drops caches the daemon keeps (SQLite's
 * page cache), whose memory malloc_trim(0) then hands back with the other C allocations.
 * Where only the file-backed mappings are locked (no swap, mlock.ts), the lock is taken again at
 * once: the pages just paged out are not resident, so they are not pinned again, and the
 * heap is not locked at all. Where everything is locked (swap on), it is taken again only after
 * `relockAfterMs`: the heap's freed pages go back to the kernel from the allocator's scavenger
 * thread a moment after the collection, and locking at once would pin them again.
 */
export async function trimAfterBurst(relockAfterMs = 5_000, release?: () => void): Promise<TrimResult> {
  let locked = false;
  let libc: ReturnType<typeof memoryLibc> | null = null;
  try {
    libc = memoryLibc();
    locked = /^VmLck:\s+[1-9]/m.test(readFileSync("/proc/self/status", "utf8"));
    if (locked) libc.munlockall();
  } catch {
    // No /proc or no libc: trim what can be trimmed.
  }
  let releaseError: string | null = null;
  try {
    release?.();
  } catch (error) {
    releaseError = `caches not released: ${error instanceof Error ? error.message : String(error)}`;
  }
  const trimmed = trimStartupMemory();
  const result = releaseError ? { ...trimmed, error: [trimmed.error, releaseError].filter(Boolean).join("; ") } : trimmed;
  libc?.malloc_trim(0);
  if (locked) {
    // Unref'd: a daemon stopping meanwhile exits without waiting for it.
    if (relockAfterMs > 0 && swapActive(readSwaps())) await new Promise<void>((resolve) => setTimeout(resolve, relockAfterMs).unref());
    const relock = lockMemory();
    if (!relock.locked) return { ...result, error: `memory not locked again after the trim: ${relock.reason}` };
  }
  return result;
}

/**
 * One line on where the memory is, for the debug log after a trim: RSS split into anonymous
 * (JS heap, malloc) and file-backed (the binary), what is locked, and JSC's own heap figures.
 */
export async function memoryNote(): Promise<string> {
  const kb = (text: string, field: string) => statusKb(text, field) ?? NaN;
  const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const { heapStats } = await import("bun:jsc");
    const heap = heapStats();
    return `RSS anon ${mb(kb(status, "RssAnon") * 1024)}, file ${mb(kb(status, "RssFile") * 1024)}, locked ${mb(kb(status, "VmLck") * 1024)}; JS heap ${mb(heap.heapSize)} of ${mb(heap.heapCapacity)}, extra ${mb(heap.extraMemorySize)}, ${heap.objectCount} objects`;
  } catch (error) {
    return `memory figures unavailable: ${error instanceof Error ? error.message : String(error)}`;
  }
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
   * falls silent, and the storm is what matters. Trims are at least 30 s apart anyway.
   */
  trickleRate?: number;
  /**
   * And at least this often regardless (default 30 min): JSC collects lazily, so an idle
   * daemon's heap creeps up between its rare full collections (measured: ~0.4 MB/min for the
   * first quarter hour with nothing but the heartbeat), and where all memory is locked (swap on)
   * nothing freed is given back without this.
   */
  everyMs?: number;
  /** Where all memory is locked (swap on), how long it stays unlocked after a trim. Default 5 s. */
  relockAfterMs?: number;
  /** Drops the daemon's caches before each trim (SQLite's page cache); its error is reported, not thrown. */
  release?: () => void;
  /**
   * Trims at least this far apart. Default 30 s: a trim is a full collection of a heap of a few
   * MB and a few madvise calls, but a reader that pauses mid-storm (a restarted journalctl) looks
   * quiet for a moment, and with a minute's gap the trim after the storm's real end came up to a
   * minute late (measured in bun scripts/bench-footprint.ts).
   */
  minGapMs?: number;
  onTrim?: (result: TrimResult, entries: number) => void;
}

/** Starts the watch; returns the timer (the caller clears it on stop). */
export function settleAfterBursts(options: SettleOptions): ReturnType<typeof setInterval> {
  const burst = options.burstEntries ?? 5_000;
  const quietMs = options.quietMs ?? 10_000;
  const trickle = (options.trickleRate ?? 50) * (quietMs / 1000);
  const everyMs = options.everyMs ?? 1_800_000;
  const minGapMs = options.minGapMs ?? 30_000;
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
    void trimAfterBurst(options.relockAfterMs, options.release).then((result) => {
      trimming = false;
      options.onTrim?.(result, now - before);
    });
  }, quietMs);
  timer.unref();
  return timer;
}

/** Resident memory from /proc/self/status, kB: all of it, and the anonymous part. */
export interface MemoryReading {
  rssKb: number;
  anonKb: number;
}

/** Pure: one "<field>:   <n> kB" line of a /proc/PID/status text, in kB; null when it is missing. */
function statusKb(statusText: string, field: string): number | null {
  const value = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(statusText)?.[1];
  return value === undefined ? null : Number(value);
}

/** Pure: VmRSS and RssAnon of a /proc/PID/status text; null when either is missing. */
export function parseMemoryReading(statusText: string): MemoryReading | null {
  const rssKb = statusKb(statusText, "VmRSS");
  const anonKb = statusKb(statusText, "RssAnon");
  return rssKb === null || anonKb === null ? null : { rssKb, anonKb };
}

export function readMemory(): MemoryReading | null {
  try {
    return parseMemoryReading(readFileSync("/proc/self/status", "utf8"));
  } catch {
    // No /proc: nothing to compare, so no restart for memory.
    return null;
  }
}

/** What a storm may leave behind before the daemon restarts in place to give it back. */
const LEFT_FRACTION = 0.1;
const LEFT_MIN_KB = 2048;

/**
 * Pure: whether a storm left memory behind that the runtime will not give back: after the
 * settle trim's full collection, anonymous memory (the heap; file pages are the binary's and
 * come and go) is still above its idle floor by more than a tenth of the idle RSS, and at least
 * 2 MB. The daemon then restarts in place (restart.ts).
 */
export function stormLeftMemory(idle: MemoryReading, now: MemoryReading): boolean {
  return now.anonKb - idle.anonKb > Math.max(LEFT_MIN_KB, idle.rssKb * LEFT_FRACTION);
}

/** The idle floor: the reading with the least anonymous memory seen, once start-up has settled. */
export class IdleFloor {
  private floor: MemoryReading | null = null;

  observe(reading: MemoryReading | null): void {
    if (reading && (this.floor === null || reading.anonKb < this.floor.anonKb)) this.floor = reading;
  }

  get(): MemoryReading | null {
    return this.floor;
  }
}
