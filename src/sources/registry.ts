import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { SourceChoice } from "../config/schema.ts";
import { processRunner, type Runner } from "../run.ts";
import type { SourceName } from "../event.ts";

// The one list of log sources and how the daemon picks one. `auto` takes the journal when a
// journald runs and this user can read the system journal, and /dev/kmsg otherwise
// (containers, minimal VMs, machines without systemd). A forced choice that cannot work is
// still reported with the reason, so the user sees why nothing arrives.

export interface SourceProbe {
  usable: boolean;
  /** Why it can or cannot be used, in words (shown by the start summary and `status`). */
  reason: string;
}

export interface SourceSelection {
  name: SourceName | null;
  reason: string;
}

/** True when a live process named systemd-journal(d) runs (comm is cut to 15 characters; a zombie is not running). */
export function isJournaldRunning(procRoot = "/proc"): boolean {
  let pids: string[];
  try {
    pids = readdirSync(procRoot).filter((name) => /^\d+$/.test(name));
  } catch {
    // No /proc (not Linux): no journald to talk to.
    return false;
  }
  for (const pid of pids) {
    try {
      if (readFileSync(join(procRoot, pid, "comm"), "utf8").trim() !== "systemd-journal") continue;
      // /proc/PID/stat: "pid (comm) S ..."; the state follows the last ")".
      const stat = readFileSync(join(procRoot, pid, "stat"), "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z") return true;
    } catch {
      // The process ended while we looked.
    }
  }
  return false;
}

// journalctl 252 as a user outside systemd-journal: with a user journal of its own, a hint
// "You are currently not seeing messages from other users and the system."; without one,
// "No journal files were opened due to insufficient permissions." and exit 1.
const NO_SYSTEM_ACCESS = /not seeing messages from other users and the system|insufficient permissions/i;

const JOIN_GROUP = "add it to the systemd-journal group (sudo usermod -aG systemd-journal $USER, then log in again)";

/** Groups whose members read the system journal (file group, and systemd's tmpfiles ACLs). */
const JOURNAL_GROUPS = new Set(["systemd-journal", "adm", "wheel"]);

/**
 * Whether the user the runner runs as may read the system journal: root, or a member of a
 * journal group. Asked through the runner (`id`), so it is that user's answer, not ours; null
 * when `id` cannot say.
 */
async function journalGroupAccess(runner: Runner): Promise<boolean | null> {
  const uid = await runner.run(["id", "-u"], { timeoutMs: 5_000, maxOutputBytes: 4096 });
  if (uid.exitCode !== 0) return null;
  if (uid.stdout.trim() === "0") return true;
  const groups = await runner.run(["id", "-Gn"], { timeoutMs: 5_000, maxOutputBytes: 64 * 1024 });
  if (groups.exitCode !== 0) return null;
  return groups.stdout
    .trim()
    .split(/\s+/)
    .some((g) => JOURNAL_GROUPS.has(g));
}

export async function probeJournal(options: { journalctl?: string; runner?: Runner; procRoot?: string } = {}): Promise<SourceProbe> {
  const journalctl = options.journalctl ?? "journalctl";
  if (!isJournaldRunning(options.procRoot)) return { usable: false, reason: "journald is not running" };
  if (Bun.which(journalctl) === null) return { usable: false, reason: `${journalctl} is not installed (apt install systemd)` };
  try {
    const r = await (options.runner ?? processRunner).run([journalctl, "--lines=1", "--output=json", "--no-pager"], {
      timeoutMs: 10_000,
      maxOutputBytes: 64 * 1024,
    });
    if (r.timedOut) return { usable: false, reason: `${journalctl} did not answer within 10 s` };
    if (NO_SYSTEM_ACCESS.test(r.stderr)) {
      return { usable: false, reason: `this user sees only its own journal, not the system's: ${JOIN_GROUP}` };
    }
    if (r.exitCode !== 0)
      return { usable: false, reason: `${journalctl} failed: ${r.stderr.trim().split("\n").pop() ?? `exit code ${r.exitCode}`}` };
    if (r.stdout.trim() === "") {
      // No entry at all is what everyone sees before journald has written its first file (a
      // fresh machine, a container just started): journalctl then exits 0 with nothing, for
      // root and for a user who will never be allowed to read the file once it exists. Who
      // may read it is decided by group: journald's files belong to systemd-journal, and
      // systemd's tmpfiles.d/systemd.conf adds ACLs for adm and wheel.
      const access = await journalGroupAccess(options.runner ?? processRunner);
      if (access === false)
        return {
          usable: false,
          reason: `the system journal has no entries yet, and this user is not in a group that may read it: ${JOIN_GROUP}`,
        };
    }
    return { usable: true, reason: "journald is running and the system journal is readable" };
  } catch (error) {
    return { usable: false, reason: error instanceof Error ? error.message : String(error) };
  }
}

/** Pick the source for `[sources] use`. Pure: the probes are done by the caller. */
export function selectSource(use: SourceChoice, journal: SourceProbe, kmsg: SourceProbe): SourceSelection {
  switch (use) {
    case "journal":
      return journal.usable
        ? { name: "journal", reason: `forced by [sources] use; ${journal.reason}` }
        : { name: null, reason: `[sources] use = "journal" but ${journal.reason}` };
    case "kmsg":
      return kmsg.usable
        ? { name: "kmsg", reason: `forced by [sources] use; ${kmsg.reason}` }
        : { name: null, reason: `[sources] use = "kmsg" but ${kmsg.reason}` };
    case "auto":
      if (journal.usable) return { name: "journal", reason: journal.reason };
      if (kmsg.usable) return { name: "kmsg", reason: `journal unusable (${journal.reason}); reading the kernel log directly` };
      return { name: null, reason: `no usable source: journal: ${journal.reason}; /dev/kmsg: ${kmsg.reason}` };
  }
}
