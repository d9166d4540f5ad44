import type { Entry } from "../event.ts";

// "Why did it go down": what the end of the previous boot's journal and the pstore records
// say. Pure: entries and file texts in, a verdict out.

/** systemd's "System is powering down." / "System is rebooting." (SD_MESSAGE_SHUTDOWN, sd-messages.h). */
export const SHUTDOWN_MESSAGE_ID = "98268866d1d54a499c4e98921d93bc40";

/**
 * Lines that only a shutdown that got under way writes, for journals without the MESSAGE_ID
 * (a minimal init, an older systemd): the manager reaching its final targets, and journald's
 * own last words when it is stopped for good.
 */
const SHUTDOWN_LINES = [
  /^Reached target (?:\S+ - )?(?:System Reboot|System Power ?Off|System Halt|Power-Off|Reboot|Shutdown|Final Step|reboot\.target|poweroff\.target|halt\.target|shutdown\.target|final\.target)\b/,
  /^System is (?:powering down|rebooting|halting)\b/,
  /^systemd-shutdown\b|^Syncing filesystems and block devices\.$/,
];

export interface BootEnd {
  /** True when the shutdown reached its end; false when the journal simply stops. */
  clean: boolean;
  /** The last entry's wall-clock time (µs). */
  endUs: number | null;
  /** The first entry's time of what was looked at (µs), to bound "during that boot". */
  firstUs: number | null;
  /** The last few lines, oldest first: "identifier: message". */
  lastLines: string[];
}

/** The end of a boot from its journal's tail (entries in order); null when there is none. */
export function judgeBootEnd(entries: readonly Entry[], lastLines = 5): BootEnd | null {
  if (entries.length === 0) return null;
  const clean = entries.some((e) => e.messageId === SHUTDOWN_MESSAGE_ID || SHUTDOWN_LINES.some((re) => re.test(e.message)));
  const timed = entries.filter((e) => e.realtimeUs !== null);
  return {
    clean,
    endUs: timed.at(-1)?.realtimeUs ?? null,
    firstUs: timed[0]?.realtimeUs ?? null,
    lastLines: entries.slice(-lastLines).map((e) => `${e.identifier ?? "?"}: ${e.message}`),
  };
}

export interface PstoreRecord {
  path: string;
  kind: "panic" | "oops" | "lockup" | "other";
  /** The line that says what happened ("Kernel panic - not syncing: Fatal exception"). */
  headline: string | null;
}

/** What a kept kernel log (pstore dmesg record, or systemd-pstore's dmesg.txt) says, by its worst line. */
export function parsePstoreDmesg(path: string, text: string): PstoreRecord {
  const lines = text.split("\n").map((l) =>
    l
      .replace(/^<\d+>/, "")
      .replace(/^\[\s*\d+\.\d+\]\s*/, "")
      .trim(),
  );
  const find = (re: RegExp) => lines.find((l) => re.test(l)) ?? null;
  const panic = find(/Kernel panic - not syncing/);
  if (panic)
    return { path, kind: /LOCKUP|watchdog/i.test(panic) ? "lockup" : "panic", headline: panic.slice(panic.indexOf("Kernel panic")) };
  const lockup = find(/watchdog: (?:BUG: soft lockup|Watchdog detected hard LOCKUP)|hard LOCKUP|soft lockup/);
  if (lockup) return { path, kind: "lockup", headline: lockup };
  const oops = find(/^(?:Oops|BUG: |general protection fault|Internal error: Oops)/);
  if (oops) return { path, kind: "oops", headline: oops };
  return { path, kind: "other", headline: null };
}

/** Whether a file in /sys/fs/pstore or systemd-pstore's archive holds a kernel log (not console or ftrace). */
export function isPstoreDmesgFile(name: string): boolean {
  return name === "dmesg.txt" || /^dmesg-[a-z_]+-\d+(?:\.enc\.z)?$/.test(name);
}
