import { readFileSync } from "node:fs";
import { memoryLibc } from "./libc.ts";

// Lock the daemon's memory so that, when the machine is thrashing towards an OOM kill, the
// reporter is not the process waiting on page-ins: it has to stay small and responsive under
// memory pressure, when it matters most. What pressure can take from a process depends on swap:
// - Without swap (the common server case) anonymous memory — the JS heap, malloc — cannot be
//   paged out at all; reclaim can only drop file-backed pages, here the binary's code and
//   embedded modules and the shared libraries, which a thrashing machine then reads back from
//   disk on every call. So only the file-backed mappings are locked (mlock2 per mapping), and
//   the heap stays unlocked, free to give pages back: a locked page cannot be (madvise
//   MADV_DONTNEED fails with EINVAL on locked mappings, mm/madvise.c), and with the whole
//   process locked RSS stayed near its peak after a log storm (bun scripts/bench-footprint.ts:
//   +58 % over idle 60 s after, against +12–26 % with the files alone locked).
//   Dropping MCL_FUTURE alone would not do: a storm's heap grows inside the runtime's 1 GB
//   reservation made at start-up (seen in /proc/PID/smaps), which MCL_CURRENT already covers.
// - With swap, anonymous pages can be swapped out too, so everything is locked:
//   mlockall(MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT), and settle.ts unlocks around its trim.
// MLOCK_ONFAULT / MCL_ONFAULT matter: without them the whole mapped range is faulted in — the
// 110 MB binary and JSC's reservations — while with them only pages actually touched are
// locked, so the daemon locks its working set and RSS stays where the start-up trim left it.
// Locking counts against RLIMIT_MEMLOCK, and the limit counts locked *virtual* size (110 MB of
// binary; gigabytes of JSC reservations with mlockall), so we lock only when the limit is
// unlimited or CAP_IPC_LOCK lifts it, never under a default 8 MB limit. A user unit's
// LimitMEMLOCK=infinity cannot raise the limit above the user manager's own (8 MB on Debian 12,
// checked on a real user manager): there the daemon says so and runs unlocked; the system unit
// (install.sh --system) can lock. Mappings made after the lock (none of the binary's) are not
// locked; a swap area turned on later is not noticed until the next trim relocks.

const MCL_CURRENT = 1;
const MCL_FUTURE = 2;
const MCL_ONFAULT = 4;
const MLOCK_ONFAULT = 1;

/** Whether CAP_IPC_LOCK (bit 14) is in the effective set, from /proc/self/status text. Pure. */
export function hasIpcLock(statusText: string): boolean {
  const m = /^CapEff:\s+([0-9a-f]+)/m.exec(statusText);
  return m !== null && (BigInt(`0x${m[1]}`) & (1n << 14n)) !== 0n;
}

/** RLIMIT_MEMLOCK's soft limit from /proc/self/limits text: bytes, "unlimited", or null. Pure. */
export function memlockLimit(limitsText: string): number | "unlimited" | null {
  const m = /^Max locked memory\s+(\S+)\s+\S+\s+bytes/m.exec(limitsText);
  if (!m) return null;
  return m[1] === "unlimited" ? "unlimited" : Number(m[1]);
}

/** Whether any swap area is active, from /proc/swaps text (a header line, then one per area). Pure. */
export function swapActive(swapsText: string): boolean {
  return swapsText
    .split("\n")
    .slice(1)
    .some((line) => line.trim() !== "");
}

/**
 * The file-backed mappings in /proc/self/maps text: the binary, the shared libraries. Device
 * and memfd mappings and deleted files are left out. Pure.
 */
export function fileMappings(mapsText: string): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  for (const line of mapsText.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ [1-9]\d*\s+(\/.+)$/.exec(line);
    const path = m?.[3];
    if (!m || !path || path.startsWith("/dev/") || path.startsWith("/memfd:") || path.endsWith(" (deleted)")) continue;
    out.push([BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`)]);
  }
  return out;
}

export type MlockResult = { locked: true; what: "files" | "all" } | { locked: false; reason: string };

export function lockMemory(
  limitsText = readFileSync("/proc/self/limits", "utf8"),
  statusText = readFileSync("/proc/self/status", "utf8"),
  swapsText = readSwaps(),
): MlockResult {
  const limit = memlockLimit(limitsText);
  // CAP_IPC_LOCK (root, or a system unit granting it) is not bound by the limit.
  if (limit !== "unlimited" && !hasIpcLock(statusText)) {
    const shown = limit === null ? "unknown" : `${Math.round(limit / 1024)} kB`;
    return { locked: false, reason: `RLIMIT_MEMLOCK is ${shown}; memory not locked (the systemd unit sets LimitMEMLOCK=infinity)` };
  }
  let libc: ReturnType<typeof memoryLibc>;
  try {
    libc = memoryLibc();
  } catch (error) {
    return { locked: false, reason: `no libc mlockall: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (!swapActive(swapsText)) {
    const ranges = fileMappings(readFileSync("/proc/self/maps", "utf8"));
    let failed = 0;
    for (const [start, end] of ranges) if (libc.mlock2(start, end - start, MLOCK_ONFAULT) !== 0) failed++;
    if (failed === 0) return { locked: true, what: "files" };
    libc.munlockall();
    return { locked: false, reason: `mlock2(MLOCK_ONFAULT) failed on ${failed} of ${ranges.length} mappings (kernel before 4.4?)` };
  }
  if (libc.mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) === 0) return { locked: true, what: "all" };
  // EINVAL before Linux 4.4 (no MCL_ONFAULT): without it MCL_CURRENT would pin the whole binary.
  return { locked: false, reason: "mlockall(MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT) failed (kernel before 4.4, or not permitted)" };
}

/** /proc/swaps' text, or "" where the kernel has no swap support. */
export function readSwaps(): string {
  try {
    return readFileSync("/proc/swaps", "utf8");
  } catch {
    // No /proc/swaps: no swap support in the kernel.
    return "";
  }
}
