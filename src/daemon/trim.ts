import { readFileSync, realpathSync } from "node:fs";
import { memoryLibc } from "./libc.ts";

// Give back start-up memory once the daemon runs. The compiled binary is ~110 MB of mapped
// code and embedded modules; start-up (config parsing, citty, valibot, the rule compiler,
// Bun's Node-compat modules) touches ~20 MB of it that the steady state never runs again, and
// those clean file-backed pages would stay counted in RSS until the kernel needed the memory.
// MADV_PAGEOUT (Linux 5.4+) drops them now; whatever the read loop, SQLite and the heartbeat
// use is faulted straight back in from the page cache, so what stays resident is the working
// set. Bun.gc(true) first, so the JS heap's start-up garbage goes too.

const MADV_PAGEOUT = 21;

/** Mapped ranges of `file` in /proc/self/maps text: [start, end) pairs. Pure. */
export function mappingsOf(mapsText: string, file: string): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  for (const line of mapsText.split("\n")) {
    // 00400000-0b2c2000 r-xp 00000000 fd:01 1234   /usr/local/bin/logtriage
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s+(.+)$/.exec(line);
    if (m && m[3] === file) out.push([BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`)]);
  }
  return out;
}

export interface TrimResult {
  /** Mappings advised, or null when madvise is unavailable (reason in `error`). */
  ranges: number | null;
  error: string | null;
}

export function trimStartupMemory(): TrimResult {
  Bun.gc(true);
  let libc: ReturnType<typeof memoryLibc>;
  try {
    libc = memoryLibc();
  } catch (error) {
    return { ranges: null, error: `no libc madvise: ${error instanceof Error ? error.message : String(error)}` };
  }
  const exe = realpathSync(process.execPath);
  const ranges = mappingsOf(readFileSync("/proc/self/maps", "utf8"), exe);
  let failed = 0;
  for (const [start, end] of ranges) if (libc.madvise(start, end - start, MADV_PAGEOUT) !== 0) failed++;
  return {
    ranges: ranges.length - failed,
    error: failed ? `madvise failed on ${failed} of ${ranges.length} mappings (kernel before 5.4?)` : null,
  };
}
