import { closeSync, constants, openSync, readFileSync, readSync } from "node:fs";
import { parseKmsgRecord } from "../parse/kmsg.ts";

// dmesg text and /dev/kmsg dumps stamp lines with the time since boot. Replayed on the boot
// that wrote them, that becomes wall time; replayed anywhere else it cannot. Whether a line is
// this boot's is read off the running kernel itself: its ring buffer still holds the line, with
// the same stamp, when it is.

export interface BootClock {
  /** Wall time of this boot's start (now minus /proc/uptime). */
  bootRealtimeUs: number;
  /** Whether the running kernel's ring buffer holds this line at this stamp. */
  wrote(monotonicUs: number, message: string): boolean;
}

const key = (monotonicUs: number, message: string) => `${monotonicUs} ${message}`;

/**
 * Read what the running kernel's ring buffer holds (every record, without waiting for new
 * ones); null when it cannot be read (no permission: dmesg_restrict, not root).
 */
export function readBootClock(nowUs: number, kmsgPath = "/dev/kmsg", uptimePath = "/proc/uptime"): BootClock | null {
  let fd: number;
  let uptimeS: number;
  try {
    uptimeS = Number(readFileSync(uptimePath, "utf8").split(" ")[0]);
    fd = openSync(kmsgPath, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  if (!Number.isFinite(uptimeS)) {
    closeSync(fd);
    return null;
  }
  const held = new Set<string>();
  const buf = Buffer.alloc(16384);
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        // EPIPE: records were overwritten while reading; the next read goes on from the oldest
        // one left. EAGAIN (or anything else): everything held has been read.
        if ((e as NodeJS.ErrnoException).code === "EPIPE") continue;
        break;
      }
      if (n <= 0) break;
      const entry = parseKmsgRecord(buf.toString("utf8", 0, n).replace(/\n$/, ""), null);
      if (entry?.monotonicUs != null) held.add(key(entry.monotonicUs, entry.message));
    }
  } finally {
    closeSync(fd);
  }
  return { bootRealtimeUs: nowUs - Math.round(uptimeS * 1_000_000), wrote: (monotonicUs, message) => held.has(key(monotonicUs, message)) };
}
