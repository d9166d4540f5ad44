import type { Entry, Facts, OomReport, Severity, Tier } from "../event.ts";
import type { Assembled } from "./assemble.ts";
import { appNameFromCgroup, cgroupLeaf } from "./cgroup-name.ts";
import { xidMeaning } from "./gpu-xid.ts";
import { formatKb } from "../size.ts";
import { MESSAGE_ID } from "./systemd-ids.ts";
import { OOM_KILLED, parseOomReport } from "../parse/oom-report.ts";
import { signalName } from "./exit-status.ts";

// The built-in rule table. Rules are data: each names what it matches (MESSAGE_ID first,
// then transport / identifier, then message patterns) and how to describe a match. The
// classifier (classifier.ts) is a loop over this table with a literal prefilter.
//
// `literals` is the prefilter: a rule with a pattern runs only on messages containing one
// of its literals, so benign lines cost one combined scan. Literals are plain ASCII with
// no quote or backslash, so they also appear verbatim in a raw journal JSON line.
//
// `tier: null` marks lines we know and deliberately do not tier (look-alikes, context that
// another event already covers): they stop the search so no later rule mis-tiers them.

/** Detector groups the role table (and [detectors] in config) turn on and off. */
export type RuleGroup = "core" | "gpu" | "raid" | "file_sharing" | "containers" | "coredumps" | "memory_pressure";

/** What the classifier remembers about units across entries (a rule sees one entry at a time). */
export interface UnitHistory {
  /** "Scheduled restart job" entries for `unit` in the last `windowUs`, this entry included. */
  restartsWithin(unit: string, windowUs: number): number;
  /** Whether a "Failed with result" entry for `unit` came in the last `windowUs`. */
  failedWithin(unit: string, windowUs: number): boolean;
}

export interface RuleInput {
  /** The entry the rule looks at: the entry itself, or a report's headline. */
  entry: Entry;
  group: Assembled;
  /** The rule's pattern match against the message, when it has a pattern. */
  m: RegExpExecArray | null;
  history: UnitHistory;
}

/** A restart loop: more than this many scheduled restarts of a unit inside the window. */
export const RESTART_LOOP_MAX = 3;
export const RESTART_LOOP_WINDOW_US = 5 * 60 * 1_000_000;

export interface Match {
  summary: string;
  process?: string | null;
  pid?: number | null;
  unit?: string | null;
  facts?: Facts;
  severity?: Severity;
}

export interface RuleSpec {
  name: string;
  tier: Tier | null;
  severity: Severity;
  group: RuleGroup;
  /** One line for `--help`-style listings and the README. */
  doc: string;
  messageId?: string;
  kernel?: boolean;
  identifiers?: readonly string[];
  /** Only for this kind of assembled group (whole OOM report, segfault + Code line…). */
  assembled?: Exclude<Assembled["kind"], "entry">;
  literals?: readonly string[];
  pattern?: RegExp;
  unless?: RegExp;
  /** Return null to decline (the search goes on to the next rule). */
  describe(input: RuleInput): Match | null;
}

const CRASH_SIGNALS = new Set(["SEGV", "ABRT", "BUS", "FPE", "ILL", "TRAP", "SYS", "11", "6", "7", "8", "4", "5", "31"]);

function field(e: Entry, name: string): string | null {
  return e.fields[name] ?? null;
}

function kernelLines(group: Assembled, max = 80): string[] {
  const entries = group.kind === "entry" ? [group.entry] : group.entries;
  return entries.slice(0, max).map((e) => e.message);
}

function kernelFacts(group: Assembled, device: string | null = null): Facts {
  return { kind: "kernel", device, lines: kernelLines(group) };
}

function oomSummary(report: OomReport): Match {
  const v = report.victim;
  const memcg = report.constraint === "CONSTRAINT_MEMCG";
  if (!v) {
    const who = report.trigger ? `${report.trigger.name}${report.trigger.pid === null ? "" : ` (pid ${report.trigger.pid})`}` : "unknown task";
    return { summary: `OOM killer invoked by ${who}; report cut off before the kill`, process: report.trigger?.name ?? null, pid: report.trigger?.pid ?? null };
  }
  const rss = (v.anonRssKb ?? 0) + (v.fileRssKb ?? 0) + (v.shmemRssKb ?? 0);
  const limit = report.memcgLimitKb === null ? "" : ` of ${formatKb(report.memcgLimitKb)}`;
  const where = !memcg ? "" : report.memcg ? `, cgroup ${report.memcg} hit its limit${limit}` : ", a memory cgroup hit its limit";
  return {
    summary: `OOM kill: ${v.name} (pid ${v.pid}, ${formatKb(rss)} RSS)${where}`,
    process: v.name,
    pid: v.pid,
    unit: report.taskMemcg ? cgroupLeaf(report.taskMemcg) : null,
  };
}

export const BUILTIN_RULES: readonly RuleSpec[] = [
  // ── look-alikes and context: known, deliberately not events ────────────────────────
  {
    name: "unit-deactivated",
    tier: null,
    severity: "warning",
    group: "core",
    doc: "systemd: 'Deactivated successfully' — a clean stop",
    messageId: MESSAGE_ID.unitSuccess,
    describe: () => ({ summary: "" }),
  },
  {
    // FIELD-NOTES: Restart=always hides breakage from `systemctl --failed`, and NRestarts misses
    // loops driven from outside; the journal's restart entries see both. A unit that also logs
    // failures is a crash loop already (cooldown aggregation of unit-failed), so not twice.
    name: "unit-restart-loop",
    tier: "T3",
    severity: "medium",
    group: "core",
    doc: "systemd: more than 3 'Scheduled restart job' entries for a unit within 5 min and no failure logged — a restart loop `systemctl --failed` does not show",
    messageId: MESSAGE_ID.unitRestartScheduled,
    describe: ({ entry, history }) => {
      const unit = entry.unit;
      if (!unit) return null;
      const restarts = history.restartsWithin(unit, RESTART_LOOP_WINDOW_US);
      if (restarts <= RESTART_LOOP_MAX || history.failedWithin(unit, RESTART_LOOP_WINDOW_US)) return null;
      const counter = field(entry, "N_RESTARTS");
      return {
        summary: `Restart loop: ${unit} restarted ${restarts} times within 5 min${counter ? ` (restart counter at ${counter})` : ""}`,
        unit,
        facts: { kind: "unit", unit, result: "restart-loop", exitCode: null, exitStatus: null, restartCount: counter === null ? restarts : Number(counter) },
      };
    },
  },
  {
    name: "unit-restart-scheduled",
    tier: null,
    severity: "warning",
    group: "core",
    doc: "systemd: 'Scheduled restart job' — context; the failure before it is the event (or a restart loop, above)",
    messageId: MESSAGE_ID.unitRestartScheduled,
    describe: () => ({ summary: "" }),
  },
  {
    name: "unit-oom-notice",
    tier: null,
    severity: "warning",
    group: "core",
    doc: "systemd: 'A process of this unit has been killed by the OOM killer' — the kernel report is the event",
    messageId: MESSAGE_ID.unitOutOfMemory,
    describe: () => ({ summary: "" }),
  },
  {
    name: "oom-reaper",
    tier: null,
    severity: "warning",
    group: "core",
    doc: "kernel: 'oom_reaper: reaped process' — follows a kill already reported",
    kernel: true,
    literals: ["oom_reaper: "],
    pattern: /^oom_reaper: reaped process/,
    describe: () => ({ summary: "" }),
  },

  // ── T1: OOM kills ───────────────────────────────────────────────────────────────────
  {
    name: "kernel-memcg-oom-kill",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "kernel: OOM report of a memory cgroup that hit its own limit",
    assembled: "oom-report",
    describe: ({ group }) => {
      if (group.kind !== "oom-report" || group.report.constraint !== "CONSTRAINT_MEMCG") return null;
      return { ...oomSummary(group.report), facts: { kind: "oom-kill", oom: group.report } };
    },
  },
  {
    name: "kernel-oom-kill",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "kernel: OOM report (system-wide, cpuset or mempolicy constraint)",
    assembled: "oom-report",
    describe: ({ group }) => {
      if (group.kind !== "oom-report") return null;
      return { ...oomSummary(group.report), facts: { kind: "oom-kill", oom: group.report } };
    },
  },
  {
    name: "kernel-oom-kill-line",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "kernel: a 'Killed process' line whose report was not seen (started before reading)",
    kernel: true,
    literals: ["Killed process"],
    pattern: OOM_KILLED,
    describe: ({ entry }) => {
      // The report parser reads the one line it has; with no task table, page size is moot.
      const report = parseOomReport([entry.message], 4);
      return report.victim ? { ...oomSummary(report), facts: { kind: "oom-kill", oom: report } } : null;
    },
  },
  {
    name: "systemd-oomd-kill",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "systemd-oomd killed a cgroup under memory pressure or swap use",
    identifiers: ["systemd-oomd"],
    literals: ["Killed ", "Marked "],
    // systemd 247+: "Killed /user.slice/…/app-gnome-firefox-4521.scope due to memory pressure for /user.slice/… being 92.33% > 50.00% for > 20s with reclaim activity"
    // newer systemd also logs "Marked /… for killing due to memory pressure for …"
    pattern: /^(?:Killed|Marked) (\/\S*) (?:for killing )?due to (.+)$/,
    describe: ({ m }) => {
      const cgroup = m?.[1] as string;
      const app = appNameFromCgroup(cgroup);
      return {
        summary: `OOM kill (systemd-oomd): ${app} — ${m?.[2] as string}`,
        process: app,
        unit: cgroupLeaf(cgroup),
        facts: { kind: "userspace-oom-kill", killer: "systemd-oomd", victim: app, pid: null, cgroup },
      };
    },
  },
  {
    name: "systemd-oomd-unit-kill",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "systemd: 'systemd-oomd killed N process(es) in this unit'",
    messageId: MESSAGE_ID.unitOomdKill,
    describe: ({ entry }) => {
      const unit = entry.unit;
      const app = unit ? appNameFromCgroup(unit) : null;
      return {
        summary: `OOM kill (systemd-oomd): ${app ?? "unknown unit"} — ${entry.message}`,
        process: app,
        unit,
        facts: { kind: "userspace-oom-kill", killer: "systemd-oomd", victim: app, pid: null, cgroup: unit },
      };
    },
  },
  {
    name: "earlyoom-kill",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "earlyoom sent SIGTERM/SIGKILL to a process",
    identifiers: ["earlyoom"],
    literals: ["sending SIG", "illing process"],
    // 1.7+: sending SIGTERM to process 906175 uid 1000 "java": oom_score 1170, VmRSS 43912 MiB, cmdline "…"
    // 1.3:  sending SIGTERM to process 12006 "python3": badness 209, VmRSS 2891 MiB
    // 2019: killing process 27541 "bash" with signal 15: badness 550, VmRSS 7609 MiB
    // 2018: Killing process 'bash' with signal 15, pid: 5874, badness: 538, VmRSS: 3160 MiB
    pattern: /sending (SIGTERM|SIGKILL) to process (\d+)(?: uid \d+)? "(.*?)": (?:badness|oom_score) -?\d+, VmRSS (\d+) MiB|[Kk]illing process (\d+) "(.*?)" with signal (\d+): badness -?\d+, VmRSS (\d+) MiB|[Kk]illing process '(.*?)' with signal (\d+), pid: (\d+), badness: -?\d+, VmRSS: (\d+) MiB/,
    describe: ({ m }) => {
      const name = (m?.[3] ?? m?.[6] ?? m?.[9]) as string;
      const pid = Number(m?.[2] ?? m?.[5] ?? m?.[11]);
      const rss = (m?.[4] ?? m?.[8] ?? m?.[12]) as string;
      const signal = m?.[1] ?? (m?.[7] ?? m?.[10]) === "9" ? "SIGKILL" : "SIGTERM";
      return {
        summary: `OOM kill (earlyoom): ${name} (pid ${pid}, ${rss} MiB RSS, ${m?.[1] ?? signal})`,
        process: name,
        pid,
        facts: { kind: "userspace-oom-kill", killer: "earlyoom", victim: name, pid, cgroup: null },
      };
    },
  },
  {
    name: "nohang-kill",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "nohang / nohang-desktop acted on a victim (the victim's name is on an earlier line of nohang's report)",
    identifiers: ["nohang", "nohang-desktop"],
    literals: ["kill -", "SIGTERM", "SIGKILL"],
    // v0.1: "  Run the command: kill -TERM 12297"; v0.2: "  Send SIGTERM to the victim" / "Sending SIGKILL to <name>"
    pattern: /Run the command: kill -(TERM|KILL|15|9) (\d+)|Send(?:ing)? (SIGTERM|SIGKILL) to (?:the victim|(\S+?),?(?: Pid: (\d+))?(?:$|[ ;,]))/,
    describe: ({ m }) => {
      const pidText = m?.[2] ?? m?.[5];
      const pid = pidText === undefined ? null : Number(pidText);
      const name = m?.[4] ?? null;
      const signal = m?.[3] ?? (m?.[1] === "KILL" || m?.[1] === "9" ? "SIGKILL" : "SIGTERM");
      return {
        summary: `OOM kill (nohang): ${name ?? (pid === null ? "victim" : `pid ${pid}`)} ${signal}`,
        process: name,
        pid,
        facts: { kind: "userspace-oom-kill", killer: "nohang", victim: name, pid, cgroup: null },
      };
    },
  },

  // ── T2: process crashes ─────────────────────────────────────────────────────────────
  {
    name: "kernel-segfault",
    tier: "T2",
    severity: "high",
    group: "core",
    doc: "kernel: 'comm[pid]: segfault at …' (with its Code: line)",
    assembled: "crash",
    describe: ({ group }) => {
      if (group.kind !== "crash" || group.crash.fault !== "segfault") return null;
      const c = group.crash;
      return {
        summary: `Crash: ${c.process} (SIGSEGV)${c.object ? ` in ${c.object}` : ""}`,
        process: c.process,
        pid: c.pid,
        facts: { kind: "crash", crash: c },
      };
    },
  },
  {
    name: "kernel-trap",
    tier: "T2",
    severity: "high",
    group: "core",
    doc: "kernel: 'traps: comm[pid] trap …' (divide error, invalid opcode, int3, general protection fault)",
    assembled: "crash",
    describe: ({ group }) => {
      // Segfaults are kernel-segfault's alone, so disabling that rule silences them.
      if (group.kind !== "crash" || group.crash.fault === "segfault") return null;
      const c = group.crash;
      return {
        summary: `Crash: ${c.process} (${c.fault})${c.object ? ` in ${c.object}` : ""}`,
        process: c.process,
        pid: c.pid,
        facts: { kind: "crash", crash: c },
      };
    },
  },
  {
    name: "coredump",
    tier: "T2",
    severity: "high",
    group: "coredumps",
    doc: "systemd-coredump: 'Process N (x) of user U dumped core'",
    messageId: MESSAGE_ID.coredump,
    describe: ({ entry }) => {
      const name = field(entry, "COREDUMP_COMM") ?? /\((.*)\)/.exec(entry.message)?.[1] ?? "unknown";
      const pidText = field(entry, "COREDUMP_PID");
      const pid = pidText === null ? null : Number(pidText);
      const signal = field(entry, "COREDUMP_SIGNAL_NAME") ?? (field(entry, "COREDUMP_SIGNAL") ? `signal ${field(entry, "COREDUMP_SIGNAL")}` : "signal");
      const exe = field(entry, "COREDUMP_EXE");
      return {
        summary: `Crash: ${name} (${signal}), core dumped`,
        process: name,
        pid,
        unit: field(entry, "COREDUMP_UNIT") ?? field(entry, "COREDUMP_USER_UNIT"),
        facts: { kind: "crash", crash: { process: name, pid, fault: signal, object: exe, address: null, ip: null, code: null } },
      };
    },
  },
  {
    name: "unit-abnormal-exit",
    tier: "T2",
    severity: "high",
    group: "core",
    doc: "systemd: a unit's main process was killed by a crash signal (SEGV, ABRT, BUS, FPE, ILL…)",
    messageId: MESSAGE_ID.unitProcessExit,
    describe: ({ entry }) => {
      const code = field(entry, "EXIT_CODE");
      const status = field(entry, "EXIT_STATUS");
      if ((code !== "killed" && code !== "dumped") || status === null || !CRASH_SIGNALS.has(status)) return null;
      const unit = entry.unit;
      const signal = signalName(status) ?? `SIG${status}`;
      return {
        summary: `Crash: ${unit ?? "unit"} main process (${signal}${code === "dumped" ? ", core dumped" : ""})`,
        unit,
        process: entry.comm,
        facts: { kind: "crash", crash: { process: unit ?? "unknown", pid: null, fault: signal, object: null, address: null, ip: null, code: null } },
      };
    },
  },
  {
    name: "kernel-fatal-signal",
    tier: "T2",
    severity: "high",
    group: "core",
    doc: "kernel: 'potentially unexpected fatal signal N' (show_unhandled_signals)",
    kernel: true,
    literals: ["potentially unexpected fatal signal"],
    pattern: /^potentially unexpected fatal signal (\d+)\./,
    describe: ({ m }) => {
      const n = m?.[1] as string;
      // Crash signals by name; any other number as it is (as before the shared table).
      const signal = (CRASH_SIGNALS.has(n) ? signalName(n) : null) ?? `signal ${n}`;
      return { summary: `Crash: process killed by ${signal}`, facts: { kind: "plain" } };
    },
  },

  // ── T3: service failures ────────────────────────────────────────────────────────────
  {
    name: "unit-failed",
    tier: "T3",
    severity: "medium",
    group: "core",
    doc: "systemd: 'X.service: Failed with result …'",
    messageId: MESSAGE_ID.unitFailureResult,
    describe: ({ entry }) => {
      const unit = entry.unit ?? "unknown unit";
      const result = field(entry, "UNIT_RESULT") ?? /result '([^']+)'/.exec(entry.message)?.[1] ?? null;
      return {
        summary: `Service failed: ${unit} (${result ?? "failed"})`,
        unit,
        facts: { kind: "unit", unit, result, exitCode: null, exitStatus: null, restartCount: null },
      };
    },
  },
  {
    name: "unit-start-failed",
    tier: "T3",
    severity: "medium",
    group: "core",
    doc: "systemd: 'Failed to start X' (a start job failed)",
    messageId: MESSAGE_ID.unitStartFailed,
    describe: ({ entry }) => {
      const unit = entry.unit ?? "unknown unit";
      return {
        summary: `Service failed to start: ${unit}`,
        unit,
        facts: { kind: "unit", unit, result: field(entry, "JOB_RESULT"), exitCode: null, exitStatus: null, restartCount: null },
      };
    },
  },
  {
    name: "unit-spawn-failed",
    tier: "T3",
    severity: "medium",
    group: "core",
    doc: "systemd: could not spawn a unit's process (executable missing, bad user, …)",
    messageId: MESSAGE_ID.spawnFailed,
    describe: ({ entry }) => {
      const unit = entry.unit ?? "unknown unit";
      return {
        summary: `Service could not start: ${entry.message}`,
        unit,
        facts: { kind: "unit", unit, result: "spawn", exitCode: null, exitStatus: null, restartCount: null },
      };
    },
  },
  {
    name: "unit-failed-text",
    tier: "T3",
    severity: "medium",
    group: "core",
    doc: "systemd, as text (syslog files without MESSAGE_ID): 'X: Failed with result …'",
    identifiers: ["systemd"],
    literals: ["Failed with result"],
    pattern: /^(\S+): Failed with result '([^']+)'/,
    describe: ({ entry, m }) => {
      const unit = entry.unit ?? (m?.[1] as string);
      return {
        summary: `Service failed: ${unit} (${m?.[2] as string})`,
        unit,
        facts: { kind: "unit", unit, result: m?.[2] ?? null, exitCode: null, exitStatus: null, restartCount: null },
      };
    },
  },
  {
    name: "systemd-oomd-unit-kill-text",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "systemd, as text: 'X.scope: systemd-oomd killed N process(es) in this unit'",
    identifiers: ["systemd"],
    literals: ["systemd-oomd killed"],
    pattern: /^(\S+): systemd-oomd killed (\d+) process/,
    describe: ({ m }) => {
      const unit = m?.[1] as string;
      const app = appNameFromCgroup(unit);
      return {
        summary: `OOM kill (systemd-oomd): ${app} — ${m?.[2] as string} process(es) killed`,
        process: app,
        unit,
        facts: { kind: "userspace-oom-kill", killer: "systemd-oomd", victim: app, pid: null, cgroup: unit },
      };
    },
  },
  {
    name: "unit-start-limit-hit",
    tier: "T3",
    severity: "medium",
    group: "core",
    doc: "systemd: 'Start request repeated too quickly' — the unit gave up restarting",
    identifiers: ["systemd"],
    literals: ["Start request repeated too quickly"],
    pattern: /^(\S+): Start request repeated too quickly/,
    describe: ({ entry, m }) => {
      const unit = entry.unit ?? (m?.[1] as string);
      return {
        summary: `Service gave up restarting: ${unit} (start limit hit)`,
        unit,
        facts: { kind: "unit", unit, result: "start-limit-hit", exitCode: null, exitStatus: null, restartCount: null },
      };
    },
  },
  {
    name: "container-runtime-fatal",
    tier: "T3",
    severity: "medium",
    group: "containers",
    doc: "dockerd / containerd / podman logged a fatal error",
    identifiers: ["dockerd", "containerd", "podman", "crio"],
    literals: ["level=fatal", "level=panic"],
    pattern: /level=(?:fatal|panic) msg="([^"]*)"/,
    describe: ({ entry, m }) => ({ summary: `Container runtime ${entry.identifier ?? ""} fatal: ${m?.[1] as string}`, process: entry.identifier, unit: entry.unit }),
  },
  {
    name: "samba-panic",
    tier: "T3",
    severity: "medium",
    group: "file_sharing",
    doc: "smbd / nmbd / winbindd PANIC",
    identifiers: ["smbd", "nmbd", "winbindd", "samba"],
    literals: ["PANIC"],
    pattern: /PANIC(?: \(pid (\d+)\))?: ?(.*)/,
    describe: ({ entry, m }) => ({ summary: `Samba ${entry.identifier ?? ""} panic: ${m?.[2] as string}`, process: entry.identifier, unit: entry.unit }),
  },

  // ── T4: kernel and hardware ─────────────────────────────────────────────────────────
  {
    name: "block-io-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: block layer I/O error on a device",
    kernel: true,
    literals: ["I/O error, dev", "Buffer I/O error"],
    // 4.x: "blk_update_request: I/O error, dev sda, sector 1234"; 5.x+: "I/O error, dev sda, sector 1234 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0"
    pattern: /I\/O error, dev (\w+), sector (\d+)|Buffer I\/O error on dev(?:ice)? (\w+)/,
    describe: ({ group, m }) => {
      const dev = (m?.[1] ?? m?.[3]) as string;
      return { summary: `Disk I/O error on /dev/${dev}${m?.[2] ? ` (sector ${m[2]})` : ""}`, facts: kernelFacts(group, dev) };
    },
  },
  {
    name: "ata-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: libata command errors and link resets",
    kernel: true,
    literals: ["Emask", "failed command", "error: {", "status: {", "resetting link", "COMRESET", "SError"],
    pattern: /^(ata\d+(?:\.\d+)?): (exception Emask|failed command|error: \{|status: \{[^}]*ERR|hard resetting link|COMRESET failed|SError: \{)/,
    describe: ({ group, m }) => ({ summary: `Disk controller error on ${m?.[1] as string}: ${m?.[2] as string}`, facts: kernelFacts(group, m?.[1] ?? null) }),
  },
  {
    name: "nvme-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: NVMe timeouts, resets and command errors",
    kernel: true,
    literals: ["nvme"],
    pattern: /^nvme (nvme\d+): (I\/O \d+ (?:\(\w+\) )?QID \d+ timeout.*|controller is down.*|Device not ready.*|Removing after probe failure.*|Abort status.*|.*[Ff]ailed.*)$|^(nvme\d+n\d+): (I\/O Cmd.*status: .*)$/,
    unless: /failed to (?:get|find) .*(?:firmware|power state)/i,
    describe: ({ group, m }) => {
      const dev = (m?.[1] ?? m?.[3]) as string;
      return { summary: `NVMe error on ${dev}: ${(m?.[2] ?? m?.[4]) as string}`, facts: kernelFacts(group, dev) };
    },
  },
  {
    name: "scsi-medium-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: SCSI sense 'Medium Error' / 'Hardware Error'",
    kernel: true,
    literals: ["Sense Key"],
    // newer kernels print the key as a number: 0x3 medium error, 0x4 hardware error
    pattern: /\[(\w+)\].*Sense Key : (Medium Error|Hardware Error|0x3|0x4)\b/,
    describe: ({ group, m }) => {
      const key = m?.[2] === "0x3" ? "Medium Error" : m?.[2] === "0x4" ? "Hardware Error" : (m?.[2] as string);
      return { summary: `Disk ${key} on /dev/${m?.[1] as string}`, facts: kernelFacts(group, m?.[1] ?? null) };
    },
  },
  {
    name: "ext4-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: EXT4-fs errors and read-only remounts",
    kernel: true,
    literals: ["EXT4-fs"],
    pattern: /^EXT4-fs error \(device ([^)]+)\): (.*)|^EXT4-fs \(([^)]+)\): (Remounting filesystem read-only|.*error count since last fsck.*|I\/O error.*|.*failed.*)$|^EXT4-fs warning \(device ([^)]+)\): (.*I\/O error.*)$/,
    describe: ({ group, m }) => {
      const dev = (m?.[1] ?? m?.[3] ?? m?.[5]) as string;
      return { summary: `EXT4 error on ${dev}: ${(m?.[2] ?? m?.[4] ?? m?.[6]) as string}`, facts: kernelFacts(group, dev) };
    },
  },
  {
    name: "btrfs-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: BTRFS errors, checksum failures, device error counters",
    kernel: true,
    literals: ["BTRFS"],
    pattern: /^BTRFS(?:: error| error| critical| warning)? \(device ([^):]+)[^)]*\):? (.*(?:error|errs:|csum failed|checksum|corrupt|read-only|fail).*)$/i,
    unless: /^BTRFS info/,
    describe: ({ group, m }) => ({ summary: `BTRFS error on ${m?.[1] as string}: ${m?.[2] as string}`, facts: kernelFacts(group, m?.[1] ?? null) }),
  },
  {
    name: "xfs-error",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: XFS corruption, metadata I/O errors, shutdowns",
    kernel: true,
    literals: ["XFS ("],
    pattern: /^XFS \(([^)]+)\): (.*(?:[Cc]orrupt|I\/O [Ee]rror|[Ss]hut(?:ting)? down|xfs_repair|Internal error).*)$/,
    describe: ({ group, m }) => ({ summary: `XFS error on ${m?.[1] as string}: ${m?.[2] as string}`, facts: kernelFacts(group, m?.[1] ?? null) }),
  },
  {
    name: "zfs-error",
    tier: "T4",
    severity: "high",
    group: "raid",
    doc: "ZFS: I/O and checksum errors, faulted or degraded vdevs, suspended pools",
    literals: ["zio pool=", "pool=", "Pool '"],
    pattern: /zio pool=(\S+) vdev=(\S+) error=(\d+)|class=(checksum|io|data|deadman)\b.*pool=['"]?([^'" ]+)|class=statechange\b.*pool=['"]?([^'" ]+)['"]?.*vdev_state=(FAULTED|DEGRADED|REMOVED|UNAVAIL)|Pool '([^']+)' has encountered an uncorrectable I\/O failure/,
    describe: ({ group, m }) => {
      const pool = (m?.[1] ?? m?.[5] ?? m?.[6] ?? m?.[8]) as string;
      const what = m?.[3] ? `I/O error ${m[3]} on ${m[2] as string}` : m?.[4] ? `${m[4]} error` : m?.[7] ? `vdev ${m[7]}` : "pool suspended (uncorrectable I/O failure)";
      return { summary: `ZFS pool ${pool}: ${what}`, facts: kernelFacts(group, pool) };
    },
  },
  {
    name: "thermal-critical",
    tier: "T4",
    severity: "critical",
    group: "core",
    doc: "kernel: critical temperature reached / thermal shutdown",
    kernel: true,
    literals: ["critical temperature", "Critical temperature"],
    pattern: /(.*[Cc]ritical temperature reached.*)/,
    describe: ({ group, m }) => ({ summary: `Thermal: ${m?.[1] as string}`, facts: kernelFacts(group) }),
  },
  {
    name: "thermal-throttle",
    tier: "T4",
    severity: "warning",
    group: "core",
    doc: "kernel: CPU core/package temperature above threshold, clock throttled",
    kernel: true,
    literals: ["temperature above threshold"],
    pattern: /(?:mce: )?(CPU\d+): (Core|Package) temperature above threshold, cpu clock throttled/,
    describe: ({ group, m }) => ({ summary: `Thermal throttling on ${m?.[1] as string} (${(m?.[2] as string).toLowerCase()} temperature)`, facts: kernelFacts(group) }),
  },
  {
    name: "mce",
    tier: "T4",
    severity: "critical",
    group: "core",
    doc: "kernel: machine check exception (CPU, cache, memory bus)",
    kernel: true,
    literals: ["Hardware Error", "Machine check", "Machine Check"],
    pattern: /mce: \[Hardware Error\]: (.*)|(Machine check events logged)|(Machine Check Exception.*)/,
    describe: ({ group, m }) => ({ summary: `Machine check: ${(m?.[1] ?? m?.[2] ?? m?.[3]) as string}`, facts: kernelFacts(group) }),
  },
  {
    name: "edac-uncorrectable",
    tier: "T4",
    severity: "critical",
    group: "core",
    doc: "EDAC: uncorrectable memory error (UE)",
    kernel: true,
    literals: ["EDAC"],
    pattern: /EDAC (\S+): (\d+) UE (.*)/,
    describe: ({ group, m }) => ({ summary: `Uncorrectable memory error (${m?.[1] as string}): ${m?.[3] as string}`, facts: kernelFacts(group) }),
  },
  {
    name: "edac-correctable",
    tier: "T4",
    severity: "warning",
    group: "core",
    doc: "EDAC: corrected memory error (CE) — a DIMM may be failing",
    kernel: true,
    literals: ["EDAC"],
    pattern: /EDAC (\S+): (\d+) CE (.*)/,
    describe: ({ group, m }) => ({ summary: `Corrected memory error (${m?.[1] as string}, ${m?.[2] as string}×): ${m?.[3] as string}`, facts: kernelFacts(group) }),
  },
  {
    name: "nmi",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: unknown NMI, PCI SERR / IOCHK NMI",
    kernel: true,
    literals: ["NMI"],
    pattern: /(Uhhuh\. NMI received for unknown reason .*|NMI: PCI system error.*|NMI: IOCK error.*)/,
    describe: ({ group, m }) => ({ summary: `NMI: ${m?.[1] as string}`, facts: kernelFacts(group) }),
  },
  {
    name: "hard-lockup",
    tier: "T4",
    severity: "critical",
    group: "core",
    doc: "kernel: NMI watchdog detected a hard lockup",
    kernel: true,
    literals: ["hard LOCKUP"],
    pattern: /Watchdog detected hard LOCKUP on cpu (\d+)/,
    describe: ({ group, m }) => ({ summary: `Hard lockup on CPU ${m?.[1] as string}`, facts: kernelFacts(group) }),
  },
  {
    name: "soft-lockup",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: soft lockup (a CPU stuck in kernel mode)",
    kernel: true,
    literals: ["soft lockup"],
    pattern: /BUG: soft lockup - CPU#(\d+) stuck for (\d+)s! \[(.+):(\d+)\]/,
    describe: ({ group, m }) => ({
      summary: `Soft lockup: CPU ${m?.[1] as string} stuck for ${m?.[2] as string}s in ${m?.[3] as string}`,
      process: m?.[3] ?? null,
      pid: Number(m?.[4]),
      facts: kernelFacts(group),
    }),
  },
  {
    name: "hung-task",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: a task blocked in uninterruptible sleep (hung_task_timeout_secs)",
    kernel: true,
    literals: ["blocked for more than"],
    pattern: /INFO: task (.+):(\d+) blocked for more than (\d+) seconds/,
    describe: ({ group, m }) => ({
      summary: `Hung task: ${m?.[1] as string} (pid ${m?.[2] as string}) blocked for more than ${m?.[3] as string}s`,
      process: m?.[1] ?? null,
      pid: Number(m?.[2]),
      facts: kernelFacts(group),
    }),
  },
  {
    name: "rcu-stall",
    tier: "T4",
    severity: "high",
    group: "core",
    doc: "kernel: RCU stall detected",
    kernel: true,
    literals: ["detected stall"],
    pattern: /INFO: (rcu_\w+) (?:self-)?detected stall/,
    describe: ({ group, m }) => ({ summary: `RCU stall (${m?.[1] as string})`, facts: kernelFacts(group) }),
  },
  {
    name: "kernel-panic",
    tier: "T4",
    severity: "critical",
    group: "core",
    doc: "kernel: panic",
    kernel: true,
    literals: ["Kernel panic"],
    pattern: /Kernel panic - not syncing: ?(.*)/,
    describe: ({ group, m }) => ({ summary: `Kernel panic: ${m?.[1] as string}`, facts: kernelFacts(group) }),
  },
  {
    name: "kernel-oops",
    tier: "T4",
    severity: "critical",
    group: "core",
    doc: "kernel: BUG / Oops / kernel-mode general protection fault",
    kernel: true,
    literals: ["BUG", "Oops", "general protection fault", "Unable to handle kernel", "divide error", "invalid opcode", "stack segment", "double fault"],
    pattern: /^(BUG: .*|Oops.*|kernel BUG at .*|general protection fault.*|(?:divide error|invalid opcode|stack segment|double fault): [0-9a-f]{4} \[#\d+\].*|Unable to handle kernel .*)$/,
    describe: ({ group, m }) => ({ summary: `Kernel ${m?.[1] as string}`, facts: kernelFacts(group) }),
  },
  {
    name: "kernel-warning",
    tier: "T4",
    severity: "warning",
    group: "core",
    doc: "kernel: WARNING with a stack trace (a kernel bug that did not crash)",
    kernel: true,
    literals: ["WARNING: "],
    // 3.10 and some vendor 4.4 kernels: "WARNING: at kernel/smp.c:382 smp_call_function_many+0x2d4/0x2e0()"
    pattern: /^WARNING: (?:CPU: \d+ PID: (\d+) )?at (\S+)(?: (\S+))?/,
    describe: ({ group, m }) => ({ summary: `Kernel warning at ${m?.[2] as string}${m?.[3] ? ` ${m[3]}` : ""}`, facts: kernelFacts(group) }),
  },
  {
    name: "md-raid-degraded",
    tier: "T4",
    severity: "critical",
    group: "raid",
    doc: "md RAID: disk failure, degraded array, interrupted recovery",
    kernel: true,
    literals: ["md/raid", "md: md", "kicking non-fresh"],
    // "not clean -- starting background reconstruction" after an unclean shutdown is routine: not matched.
    pattern: /md\/raid\w*:(md\w+): (Disk failure on \w+.*|Operation continuing on \d+ devices.*|cannot start.*)|md: (md\w+): ((?:recovery|resync|data-check) interrupted.*)|md: (kicking non-fresh \w+ from array.*)/,
    describe: ({ group, m }) => {
      const md = (m?.[1] ?? m?.[3] ?? "md") as string;
      return { summary: `RAID ${md}: ${(m?.[2] ?? m?.[4] ?? m?.[5]) as string}`, facts: kernelFacts(group, md) };
    },
  },
  {
    name: "mdadm-event",
    tier: "T4",
    severity: "critical",
    group: "raid",
    doc: "mdadm --monitor: DegradedArray / Fail / DeviceDisappeared events",
    identifiers: ["mdadm"],
    literals: ["event detected"],
    pattern: /(DegradedArray|Fail|FailSpare|DeviceDisappeared|SparesMissing) event detected on md device (\S+)/,
    describe: ({ group, m }) => ({ summary: `RAID ${m?.[2] as string}: ${m?.[1] as string}`, facts: kernelFacts(group, m?.[2] ?? null) }),
  },
  {
    name: "nfs-not-responding",
    tier: "T4",
    severity: "warning",
    group: "file_sharing",
    doc: "kernel: NFS server not responding",
    kernel: true,
    literals: ["not responding"],
    pattern: /^nfs: server (\S+) not responding/,
    describe: ({ group, m }) => ({ summary: `NFS server ${m?.[1] as string} not responding`, facts: kernelFacts(group) }),
  },
  {
    name: "cifs-error",
    tier: "T4",
    severity: "warning",
    group: "file_sharing",
    doc: "kernel: CIFS/SMB client errors",
    kernel: true,
    literals: ["CIFS"],
    pattern: /^CIFS: (?:VFS: )?(.*(?:error|[Ff]ailed|reconnect|not responding).*)$/,
    describe: ({ group, m }) => ({ summary: `CIFS: ${m?.[1] as string}`, facts: kernelFacts(group) }),
  },

  // ── T4: GPU ─────────────────────────────────────────────────────────────────────────
  // Wording checked against real driver lines quoted in public bug reports
  // (tests/fixtures/real/gpu/, sources in tests/fixtures/real/README.md). One incident logs
  // several lines (timeout, reset, VRAM lost); they share a rule and no process, so the
  // cooldown folds them into one event. enrich/gpu.ts links a compositor crash to it.
  {
    name: "nvidia-xid",
    tier: "T4",
    severity: "high",
    group: "gpu",
    doc: "NVIDIA driver: `NVRM: Xid (PCI:…): N, pid=…, name=…` (meaning of common codes included)",
    kernel: true,
    literals: ["NVRM: Xid"],
    // "name=<unknown>" and "pid='<unknown>'": the fault came from no live process (driver 550+).
    pattern: /NVRM: Xid \((?:PCI:)?([^)]*)\): (\d+)(?:, pid=(\d+|'<unknown>'))?(?:, name=([^,]+))?/,
    describe: ({ group, m }) => {
      const code = Number(m?.[2]);
      const meaning = xidMeaning(code);
      const pid = m?.[3] && /^\d+$/.test(m[3]) ? Number(m[3]) : null;
      const name = m?.[4] && m[4] !== "<unknown>" ? m[4] : null;
      return {
        summary: `GPU error (NVIDIA Xid ${code}): ${meaning.meaning}${name ? ` [${name}]` : ""}`,
        severity: meaning.severity,
        process: name,
        pid,
        facts: kernelFacts(group, m?.[1] ?? null),
      };
    },
  },
  {
    // Drivers log this with an Xid 79 or, since 570 (and before ~2014), without one.
    name: "nvidia-fallen-off-bus",
    tier: "T4",
    severity: "critical",
    group: "gpu",
    doc: "NVIDIA driver: `GPU at … has fallen off the bus` / `…fallen off the bus and is not responding` without an Xid line",
    kernel: true,
    literals: ["fallen off the bus"],
    pattern: /NVRM: (?:GPU (?:at )?(?:PCI:)?([\w:.]+?):? (?:GPU )?has fallen off the bus|fallen off the bus and is not responding)/,
    unless: /NVRM: Xid/,
    describe: ({ group, m }) => ({ summary: `GPU error (NVIDIA): GPU${m?.[1] ? ` ${m[1]}` : ""} has fallen off the bus`, facts: kernelFacts(group, m?.[1] ?? null) }),
  },
  {
    name: "gpu-vram-exhausted",
    tier: "T4",
    severity: "high",
    group: "gpu",
    doc: "GPU driver could not fit a job's buffers in video memory (amdgpu `Not enough memory for command submission!`, TTM/driver allocation failures) — VRAM, not system RAM",
    kernel: true,
    literals: ["amdgpu", "radeon", "nouveau", "i915", "NVRM", "TTM"],
    pattern: /(amdgpu|radeon|nouveau|i915|NVRM|TTM)\b.*(?:Not enough memory for command submission|[Ff]ailed to allocate|[Oo]ut of memory|fail ttm_validate|-ENOMEM|VRAM (?:is )?full)/,
    describe: ({ group, m }) => ({ summary: `GPU memory (VRAM) exhausted (${m?.[1] as string})`, facts: kernelFacts(group) }),
  },
  {
    // The lines a driver logs after the hang it already reported: the reset's progress and
    // outcome. Known, and not events of their own: one amdgpu reset logs five such lines, and
    // five events of one rule inside the cooldown would read as a "crash loop" (store/events.ts
    // aggregation) when it was one hang. The hang line before them is the event.
    name: "gpu-reset-progress",
    tier: null,
    severity: "warning",
    group: "gpu",
    doc: "amdgpu `Ring … reset succeeded/failed`, `GPU reset succeeded`, `GPU reset(N) succeeded!`, `VRAM is lost due to GPU reset!`; xe `Kernel-submitted job timed out` — the progress of a reset whose hang is the event",
    kernel: true,
    literals: ["reset succeeded", "reset failed", "GPU reset(", "VRAM is lost", "Kernel-submitted job timed out"],
    pattern: /^amdgpu \S+ (?:amdgpu: )?(?:Ring \S+ reset (?:succeeded|failed)|GPU reset(?:\(\d+\))? (?:succeeded|failed)|VRAM is lost due to GPU reset)|^\[drm\] VRAM is lost due to GPU reset|^xe \S+ \[drm\] (?:Tile\d+: )?(?:GT\d+: )?Kernel-submitted job timed out/,
    describe: () => ({ summary: "" }),
  },
  {
    name: "amdgpu-fault",
    tier: "T4",
    severity: "high",
    group: "gpu",
    doc: "amdgpu: `ring … timeout`, `[gfxhub] page fault`, `GPU fault detected`, `GPU reset begin!`",
    kernel: true,
    literals: ["amdgpu"],
    // Kernel 6.8: "[drm:amdgpu_job_timedout [amdgpu]] *ERROR* ring gfx_0.0.0 timeout";
    // 6.12+: "amdgpu 0000:03:00.0: amdgpu: ring gfx_0.0.0 timeout"; 7.x drops the second
    // "amdgpu:" ("amdgpu 0000:28:00.0: ring gfx_0.0.0 timeout") and says "GPU reset begin!. Source: 1".
    // "GPU reset begin!" is its own event only when no timeout came before it (the cooldown folds it).
    pattern: /(?:\*ERROR\* |^amdgpu \S+ (?:amdgpu: )?)(?:ring (\S+) timeout|\[(\w+)\] (?:no-)?(?:retry )?page fault|(GPU fault detected)|(GPU reset begin|GPU recovery failed))/,
    describe: ({ group, m }) => {
      const what = m?.[1] ? `ring ${m[1]} timeout (GPU hang)` : m?.[2] ? `GPU page fault (${m[2]})` : m?.[3] ? "GPU page fault" : (m?.[4] as string);
      return { summary: `GPU error (amdgpu): ${what}`, facts: kernelFacts(group) };
    },
  },
  {
    name: "i915-gpu-hang",
    tier: "T4",
    severity: "high",
    group: "gpu",
    doc: "i915: `GPU HANG: ecode …, in PROCESS [PID]`, `Resetting chip for …`, `Resetting rcs0 for …`",
    kernel: true,
    literals: ["GPU HANG", "Resetting"],
    // The reset lines are only i915's when they carry its device prefix ("i915 0000:00:02.0:
    // [drm] Resetting chip for stopped heartbeat on rcs0"); other drivers reset chips too.
    pattern: /GPU HANG: ecode ([^,]+), in (.+?) \[(\d+)\]|GPU HANG: ecode ([^,]+)|^i915 \S+ (?:\[drm\] )?(?:GT\d+: )?Resetting (\w+) for (.*)|^drm\/i915: Resetting chip after gpu hang/,
    describe: ({ group, m }) => ({
      summary: m?.[5] ? `GPU error (i915): resetting ${m[5]} for ${m[6] as string}` : `GPU hang (i915)${m?.[2] ? ` in ${m[2]}` : ""}`,
      process: m?.[2] ?? null,
      pid: m?.[3] ? Number(m[3]) : null,
      facts: kernelFacts(group),
    }),
  },
  {
    name: "xe-gpu-hang",
    tier: "T4",
    severity: "high",
    group: "gpu",
    doc: "Intel xe: `Timedout job: … in PROCESS [PID]`, `Engine reset: engine_class=…`",
    kernel: true,
    literals: ["Timedout job", "Engine reset"],
    // 6.9: "xe 0000:00:02.0: [drm] Timedout job: seqno=…, guc_id=2, flags=0x0"; 6.15+ adds
    // "GT0: " (and "Tile0: ") and " in llama-bench [260404]" ("in no process [-1]" for kernel jobs).
    pattern: /^xe \S+ \[drm\] (?:Tile\d+: )?(?:GT\d+: )?(?:Timedout job: [^\n]*?(?: in (.+?) \[(-?\d+)\])?$|Engine reset: engine_class=(\w+))/m,
    describe: ({ group, m }) => {
      const process = m?.[1] && m[1] !== "no process" ? m[1] : null;
      const what = m?.[3] ? `engine reset (${m[3]})` : `job timed out (GPU hang)${process ? ` in ${process}` : ""}`;
      return { summary: `GPU error (xe): ${what}`, process, pid: process && m?.[2] ? Number(m[2]) : null, facts: kernelFacts(group) };
    },
  },
  {
    name: "nouveau-fault",
    tier: "T4",
    severity: "high",
    group: "gpu",
    doc: "nouveau: `fifo: fault … on channel N [… PROCESS[PID]]`, graphics TRAPs, `wait for idle timeout`",
    kernel: true,
    literals: ["nouveau"],
    pattern: /^nouveau \S+: (\w+): (.*(?:fault|TRAP|DATA_ERROR|ILLEGAL|timeout|SCHED_ERROR|PBDMA).*)$/,
    describe: ({ group, m }) => {
      // "… on channel 6 [00feff3000 Xwayland[1859]]": the channel's owner, when a process.
      const owner = /on channel -?\d+ \[\w+ (.+?)\[(\d+)\]\]/.exec(m?.[2] ?? "");
      return {
        summary: `GPU error (nouveau ${m?.[1] as string}): ${m?.[2] as string}`,
        process: owner?.[1] ?? null,
        pid: owner?.[2] ? Number(owner[2]) : null,
        facts: kernelFacts(group),
      };
    },
  },

  // ── T5: memory pressure seen in the logs (the PSI monitor adds its own) ─────────────
  {
    name: "page-allocation-failure",
    tier: "T5",
    severity: "warning",
    group: "memory_pressure",
    doc: "kernel: page allocation failure (memory too fragmented or exhausted)",
    kernel: true,
    literals: ["page allocation failure"],
    pattern: /^(.+?): page allocation failure: order:(\d+)/,
    describe: ({ m }) => ({ summary: `Memory pressure: page allocation failure in ${m?.[1] as string} (order ${m?.[2] as string})`, process: m?.[1] ?? null }),
  },
  {
    name: "journald-memory-pressure",
    tier: "T5",
    severity: "warning",
    group: "memory_pressure",
    doc: "systemd-journald: 'Under memory pressure, flushing caches'",
    identifiers: ["systemd-journald"],
    literals: ["Under memory pressure"],
    pattern: /Under memory pressure/,
    describe: () => ({ summary: "Memory pressure: journald flushing caches" }),
  },
];
