import { signalName } from "../../text/exit-status.ts";
import type { RuleSpec } from "../rule-spec.ts";
import { MESSAGE_ID } from "../systemd-ids.ts";
import { CRASH_SIGNALS, field } from "./_helpers.ts";

// T2: process crashes (kernel segfault/trap lines, coredumps, units killed by a signal).

export const CRASH_RULES: readonly RuleSpec[] = [
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

];
