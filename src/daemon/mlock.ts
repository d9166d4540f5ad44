import { readFileSync } from "node:fs";
import { memoryLibc } from "./libc.ts";

// Lock the daemon's memory so that, when the machine is thrashing towards an OOM kill, the
// reporter is not the process waiting on page-ins: it has to stay small and responsive under
// memory pressure, when it matters most. MCL_ONFAULT matters: MCL_CURRENT alone faults in every mapped page — the whole
// 110 MB binary and JSC's reservations — while with MCL_ONFAULT only pages actually touched
// are locked, so the daemon locks its working set and RSS stays where the start-up trim left it
// (measured in bun run bench). With MCL_FUTURE every later allocation counts against
// RLIMIT_MEMLOCK and fails past it — and the limit counts locked *virtual* size, which for JSC
// is gigabytes — so we lock only when the limit is unlimited or CAP_IPC_LOCK lifts it, never
// under a default 8 MB limit. A user unit's LimitMEMLOCK=infinity cannot raise the limit above
// the user manager's own (8 MB on Debian 12, checked on a real user manager): there the daemon
// says so and runs unlocked; the system unit (install.sh --system) can lock.

const MCL_CURRENT = 1;
const MCL_FUTURE = 2;
const MCL_ONFAULT = 4;

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

export type MlockResult = { locked: true } | { locked: false; reason: string };

export function lockMemory(
  limitsText = readFileSync("/proc/self/limits", "utf8"),
  statusText = readFileSync("/proc/self/status", "utf8"),
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
  if (libc.mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) === 0) return { locked: true };
  // EINVAL before Linux 4.4 (no MCL_ONFAULT): without it MCL_CURRENT would pin the whole binary.
  return { locked: false, reason: "mlockall(MCL_CURRENT|MCL_FUTURE|MCL_ONFAULT) failed (kernel before 4.4, or not permitted)" };
}
