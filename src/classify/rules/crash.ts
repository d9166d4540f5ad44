import { signalName } from "../../text/exit-status.ts";
import type { Facts } from "../../event.ts";
import type { Match, RuleSpec } from "../rule-spec.ts";
import { MESSAGE_ID } from "../systemd-ids.ts";
import { CRASH_SIGNALS, field, unitPrefix } from "./_helpers.ts";

// T2: process crashes (kernel segfault/trap lines, coredumps, units killed by a signal).

/** A crash as a journal line or coredump record tells it: no instruction pointer or code bytes, which only the kernel's own report has. */
function crashFacts(
  process: string,
  pid: number | null,
  fault: string,
  object: string | null = null,
  address: string | null = null,
): Facts {
  return { kind: "crash", crash: { process, pid, fault, object, address, ip: null, code: null } };
}

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
      const signal =
        field(entry, "COREDUMP_SIGNAL_NAME") ?? (field(entry, "COREDUMP_SIGNAL") ? `signal ${field(entry, "COREDUMP_SIGNAL")}` : "signal");
      const exe = field(entry, "COREDUMP_EXE");
      return {
        summary: `Crash: ${name} (${signal}), core dumped`,
        process: name,
        pid,
        unit: field(entry, "COREDUMP_UNIT") ?? field(entry, "COREDUMP_USER_UNIT"),
        facts: crashFacts(name, pid, signal, exe),
      };
    },
  },
  {
    name: "unit-abnormal-exit",
    tier: "T2",
    severity: "high",
    group: "core",
    doc: "systemd: a unit's main process dumped core, or was killed by a crash signal (SEGV, ABRT, BUS, FPE, ILL…)",
    messageId: MESSAGE_ID.unitProcessExit,
    describe: ({ entry }) => {
      const code = field(entry, "EXIT_CODE");
      const status = field(entry, "EXIT_STATUS");
      // Dumping core is a crash whatever the signal (SIGQUIT included); killed needs a crash signal.
      if (status === null || !(code === "dumped" || (code === "killed" && CRASH_SIGNALS.has(status)))) return null;
      const unit = entry.unit;
      const signal = signalName(status) ?? `SIG${status}`;
      return {
        summary: `Crash: ${unit ?? "unit"} main process (${signal}${code === "dumped" ? ", core dumped" : ""})`,
        unit,
        process: entry.comm,
        facts: crashFacts(unit ?? "unknown", null, signal),
      };
    },
  },
  {
    // "X: Failed with result 'core-dump'." proves the main process dumped core: a crash even
    // when the exit line before it was not read (it joins that crash's event when it was).
    name: "unit-core-dump-result",
    tier: "T2",
    severity: "high",
    group: "core",
    doc: "systemd: 'X: Failed with result 'core-dump'.' — the unit's main process dumped core",
    messageId: MESSAGE_ID.unitFailureResult,
    describe: ({ entry }) => {
      const result = field(entry, "UNIT_RESULT") ?? /result '([^']+)'/.exec(entry.message)?.[1] ?? null;
      if (result !== "core-dump") return null;
      return coreDumpResult(entry.unit ?? unitPrefix(entry.message));
    },
  },
  {
    name: "unit-core-dump-result-text",
    tier: "T2",
    severity: "high",
    group: "core",
    doc: "systemd, as text: 'X: Failed with result 'core-dump'.'",
    identifiers: ["systemd"],
    literals: ["Failed with result 'core-dump'"],
    pattern: /^(?<unit>\S+): Failed with result 'core-dump'/,
    describe: ({ entry, m }) => coreDumpResult(entry.unit ?? m?.groups?.["unit"] ?? null),
  },
  {
    name: "unit-abnormal-exit-text",
    tier: "T2",
    severity: "high",
    group: "core",
    doc: "systemd, as text (v219 lowercase too): 'X: Main process exited, code=dumped, status=6/ABRT' or killed by a crash signal",
    identifiers: ["systemd"],
    literals: ["ain process exited, code="],
    pattern: /^(?<unit>\S+): [Mm]ain process exited, code=(?<code>killed|dumped), status=(?<status>\d+)(?:\/(?<name>\w+))?/,
    describe: ({ entry, m }) => {
      const code = m?.groups?.["code"] ?? "killed";
      const status = m?.groups?.["status"] ?? "";
      if (code !== "dumped" && !CRASH_SIGNALS.has(status)) return null;
      const unit = entry.unit ?? m?.groups?.["unit"] ?? null;
      const signal = signalName(status) ?? `SIG${m?.groups?.["name"] ?? status}`;
      return {
        summary: `Crash: ${unit ?? "unit"} main process (${signal}${code === "dumped" ? ", core dumped" : ""})`,
        unit,
        facts: crashFacts(unit ?? "unknown", null, signal),
      };
    },
  },
  {
    // systemd-coredump's first entry (coredump.c, v236+), before it has written the dump; on
    // a full disk or with Storage=none it can be the only one. Syslog files also carry the
    // "dumped core." entry without its MESSAGE_ID.
    name: "coredump-text",
    tier: "T2",
    severity: "high",
    group: "coredumps",
    doc: "systemd-coredump: 'Process N (x) of user U terminated abnormally with signal 6/ABRT, processing...' / 'dumped core.' as text",
    identifiers: ["systemd-coredump"],
    literals: ["terminated abnormally", "dumped core", "processing coredump"],
    // v256+ logs its minimal metadata first: "PID 1234 (/usr/bin/foo) crashed with signal 11/SEGV, processing coredump."
    pattern:
      /^(?:Process (?<pid>\d+) \((?<comm>.*?)\) of user (?<uid>\d+) (?:terminated abnormally with signal (?<signal>\d+)(?:\/(?<name>\w+))?|dumped core)|PID (?<pid2>\d+) \((?<exe>.*?)\) crashed with signal (?<signal2>\d+)(?:\/(?<name2>\w+))?, processing coredump)/,
    describe: ({ entry, m }) => {
      const g = m?.groups ?? {};
      const name = field(entry, "COREDUMP_COMM") ?? g["comm"] ?? g["exe"]?.split("/").pop() ?? "unknown";
      const pid = Number(g["pid"] ?? g["pid2"]);
      const signum = g["signal"] ?? g["signal2"];
      const signal = signum
        ? (signalName(signum) ?? `SIG${g["name"] ?? g["name2"] ?? signum}`)
        : (field(entry, "COREDUMP_SIGNAL_NAME") ?? "signal");
      return {
        summary: `Crash: ${name} (${signal})${signum ? "" : ", core dumped"}`,
        process: name,
        pid,
        unit: field(entry, "COREDUMP_UNIT") ?? field(entry, "COREDUMP_USER_UNIT"),
        facts: crashFacts(name, pid, signal, field(entry, "COREDUMP_EXE") ?? g["exe"] ?? null),
      };
    },
  },
  {
    // PID 1 itself crashed (src/core/crash-handler.c, main.c crash() before v250):
    // "Caught <SEGV>, dumped core as pid 1234.", "Caught <ABRT>, cannot fork for core dump: …",
    // "Caught <SEGV> from PID 0." — the manager then freezes.
    name: "systemd-manager-crash",
    tier: "T2",
    severity: "critical",
    group: "core",
    doc: "systemd (PID 1 or a user manager) crashed: 'Caught <SIG>, dumped core as pid N.'",
    identifiers: ["systemd"],
    literals: ["Caught <"],
    pattern: /^Caught <(?<sig>[A-Z0-9]+)>(?<rest>.*)$/,
    describe: ({ entry, m }) => {
      const sig = `SIG${m?.groups?.["sig"] ?? "?"}`;
      const who = entry.pid === 1 || entry.pid === null ? "systemd (PID 1)" : `systemd manager (pid ${entry.pid})`;
      return {
        summary: `Crash: ${who} caught ${sig}${m?.groups?.["rest"] ?? ""}`,
        process: "systemd",
        pid: entry.pid,
        facts: crashFacts("systemd", entry.pid, sig),
      };
    },
  },
  {
    // ABRT's core hook (abrt-hook-ccpp, RHEL/Fedora), all versions seen: "Process 1234 (sleep)
    // of user 0 killed by SIGSEGV - dumping core", older "Saved core dump of pid 1234
    // (/usr/bin/sleep) to /var/spool/abrt/ccpp-…"; abrt-notification's desktop/console notice.
    name: "abrt-crash",
    tier: "T2",
    severity: "high",
    group: "coredumps",
    doc: "ABRT: abrt-hook-ccpp 'Process N (x) of user U killed by SIGx - dumping core' / 'Saved core dump of pid N'; abrt-notification 'Process N (x) crashed in …'",
    identifiers: ["abrt-hook-ccpp", "abrt-notification", "abrtd", "abrt-server"],
    literals: [
      "killed by SIG",
      "Saved core dump of pid",
      "crashed in",
      " was killed by signal ",
      "encountered an uncaught",
      "Display server ",
    ],
    // abrt-notification also says "Process N (x) of user U encountered an uncaught Python3
    // exception" (the python/java hooks) and "Display server Xorg crash in …" (node-problem-
    // detector's abrt-adaptor: CCPPCrash, UncaughtException, XorgCrash).
    pattern:
      /^(?:Process (?<pid>\d+) \((?<comm>.*?)\) of user \d+ killed by (?<sig>SIG[A-Z0-9]+)|Saved core dump of pid (?<pid2>\d+) \((?<exe>[^)]*)\)|Process (?<pid3>\d+) \((?<comm3>.*?)\) (?:crashed in (?<fn>.+)|of user \d+ encountered an uncaught (?<exc>\S+) exception)|(?<comm4>\S+) was killed by signal (?<sig4>\d+)|Display server (?<comm5>\S+) crash in (?<fn5>\S+))/,
    describe: ({ m }) => {
      const g = m?.groups ?? {};
      const name =
        g["comm"] ??
        (g["exe"] ? (g["exe"].split("/").pop() ?? g["exe"]) : undefined) ??
        g["comm3"] ??
        g["comm4"] ??
        g["comm5"] ??
        "unknown";
      const pidText = g["pid"] ?? g["pid2"] ?? g["pid3"];
      const pid = pidText === undefined ? null : Number(pidText);
      const signal =
        g["sig"] ?? (g["sig4"] ? (signalName(g["sig4"]) ?? `signal ${g["sig4"]}`) : g["exc"] ? `uncaught ${g["exc"]} exception` : "crash");
      const fn = g["fn"] ?? g["fn5"];
      return {
        summary: `Crash: ${name} (${signal}${fn ? ` in ${fn}` : ""}), caught by ABRT`,
        process: name,
        pid,
        facts: crashFacts(name, pid, signal, g["exe"] ?? null),
      };
    },
  },
  {
    // abrt-notification about the kernel: a vmcore found after a panic ("fatal error") or a
    // kernel oops ("non-fatal error") — node-problem-detector's VMcore and KernelOops.
    name: "abrt-kernel-crash",
    tier: "T4",
    severity: "high",
    group: "coredumps",
    doc: "ABRT: 'System encountered a fatal error in X' (a vmcore) / 'a non-fatal error in X' (a kernel oops)",
    identifiers: ["abrt-notification", "abrtd", "abrt-server"],
    literals: ["System encountered a "],
    pattern: /^System encountered a (?<kind>fatal|non-fatal) error in (?<where>\S+)/,
    describe: ({ m }) => {
      const fatal = m?.groups?.["kind"] === "fatal";
      const where = m?.groups?.["where"] ?? "the kernel";
      return {
        summary: fatal ? `Kernel crashed (ABRT found a vmcore): fatal error in ${where}` : `Kernel oops (reported by ABRT) in ${where}`,
        severity: fatal ? "critical" : "high",
        facts: { kind: "kernel", device: null, lines: [] },
      };
    },
  },
  {
    // Ubuntu's apport (data/apport): "called for pid 1234, signal 11, core limit 0, dump mode 1"
    // (older: "apport (pid N) <date>: called for pid M, signal S, core limit L").
    name: "apport-crash",
    tier: "T2",
    severity: "high",
    group: "coredumps",
    doc: "apport: 'called for pid N, signal S' — a crash apport was asked to report",
    identifiers: ["apport"],
    literals: ["called for pid "],
    pattern: /called for pid (?<pid>\d+), signal (?<sig>\d+)/,
    describe: ({ entry, m }) => {
      const sig = m?.groups?.["sig"] ?? "?";
      const pid = Number(m?.groups?.["pid"]);
      if (entry.identifier !== null && !/apport/.test(entry.identifier) && !entry.message.includes("apport")) return null;
      const signal = signalName(sig) ?? `signal ${sig}`;
      return {
        summary: `Crash: pid ${pid} (${signal}), caught by apport`,
        pid,
        facts: crashFacts(`pid ${pid}`, pid, signal),
      };
    },
  },
  {
    // The audit record of a core-dumping signal (kernel/auditsc.c audit_core_dumps), often
    // the only trace of an abort() where no core handler runs: "type=1701 audit(…): auid=…
    // uid=0 gid=0 ses=… pid=1234 comm="x" exe="/usr/bin/x" sig=6 res=1"; journald's audit
    // transport shows it as "ANOM_ABEND auid=… pid=… comm=… sig=6 res=1".
    name: "audit-anom-abend",
    tier: "T2",
    severity: "high",
    group: "core",
    doc: "audit: ANOM_ABEND (type=1701) — a process ended by a core-dumping signal",
    // journald's audit transport names itself "audit" (journald-audit.c); auditd and its
    // syslog plugin log as "auditd" / "audispd"; with no audit daemon the kernel prints the
    // record itself ("audit: type=1701 …"). Naming them keeps the journal filtered server-side.
    identifiers: ["audit", "auditd", "audispd", "kernel"],
    literals: ["ANOM_ABEND", "type=1701"],
    pattern:
      /(?:ANOM_ABEND|type=1701)\b.*?\bpid=(?<pid>\d+) comm=(?:"(?<comm>[^"]*)"|(?<commhex>[0-9A-F]+))(?: exe=(?:"(?<exe>[^"]*)"|\S+))?.*?\bsig=(?<sig>\d+)/,
    describe: ({ m }) => {
      const g = m?.groups ?? {};
      const name = g["comm"] ?? (g["commhex"] ? Buffer.from(g["commhex"], "hex").toString("latin1") : "unknown");
      const pid = Number(g["pid"]);
      const signal = signalName(g["sig"] ?? "") ?? `signal ${g["sig"] ?? "?"}`;
      return {
        summary: `Crash: ${name} (${signal}), seen by audit`,
        process: name,
        pid,
        facts: crashFacts(name, pid, signal, g["exe"] ?? null),
      };
    },
  },
  {
    // User faults as other architectures print them (show_signal / show_unhandled_signals):
    //   arm64 5.x+ (arch/arm64/kernel/traps.c arm64_show_signal): "a.out[1234]: unhandled exception: DABT (lower EL), ESR 0x92000006, level 2 translation fault in a.out[400000+1000]"
    //   arm64 4.x (arch/arm64/mm/fault.c __do_user_fault): "a.out[1234]: unhandled level 2 translation fault (11) at 0x00000000, esr 0x92000006"
    //   arm 32 (arch/arm/mm/fault.c): "a.out: unhandled page fault (11) at 0x00000000, code 0x017"
    //   powerpc 4.x (arch/powerpc/kernel/traps.c show_signal_msg): "a.out[1234]: unhandled signal 11 at 0000000000000000 nip 0000000010000500 lr 0000000010000550 code 30001"
    //   powerpc 4.17+: "a.out[1234]: segfault (11) at 0 nip 10000500 lr 7fff8f3c code 1 in a.out[10000000+10000]"
    //     (also "bus error (7)", "illegal instruction (4)", "floating-point exception (8)", "trap (5)")
    //   riscv (arch/riscv/kernel/traps.c do_trap): "a.out[1234]: unhandled signal 11 code 0x1 at 0x0000000000010500 in a.out[10000+1000]"
    //   s390 (arch/s390/mm/fault.c report_user_fault): "User process fault: interruption code 0011 ilc:3 in a.out[1000000+1000]"
    name: "kernel-user-fault-arch",
    tier: "T2",
    severity: "high",
    group: "core",
    doc: "kernel: a user process's fatal fault as arm64, arm, powerpc, riscv and s390 print it",
    kernel: true,
    literals: ["unhandled ", ") at ", "User process fault:"],
    pattern:
      /^(?:(?<comm>.+?)(?:\[(?<pid>\d+)\])?: (?:unhandled exception: (?<exc>.+?)(?: in (?<obj>[^[\s]+)\[[^\]]*\])?$|unhandled (?:signal (?<sig>\d+)|(?<fault>.+?) \((?<sig2>\d+)\)) (?:code \S+ )?at (?<addr>(?:0x)?[0-9a-f]+)(?:.*? in (?<obj2>[^[\s]+)\[)?|(?<fault3>segfault|bus error|illegal instruction|floating-point exception|trap|unknown signal) \((?<sig3>\d+)\) at (?<addr3>[0-9a-f]+) nip(?:.*? in (?<obj3>[^[\s]+)\[)?)|User process fault: interruption code (?<icode>[0-9a-f]+)(?: ilc:\d+)?(?: in (?<obj4>[^[\s]+)\[)?)/,
    describe: ({ m }) => {
      const g = m?.groups ?? {};
      const process = g["comm"] ?? g["obj4"] ?? "unknown";
      const pid = g["pid"] === undefined ? null : Number(g["pid"]);
      const sig = g["sig"] ?? g["sig2"] ?? g["sig3"] ?? (g["exc"] || g["icode"] ? "11" : "?");
      const fault =
        g["exc"] ?? g["fault"] ?? g["fault3"] ?? (g["icode"] ? `interruption code ${g["icode"]}` : (signalName(sig) ?? `signal ${sig}`));
      const object = g["obj"] ?? g["obj2"] ?? g["obj3"] ?? g["obj4"] ?? null;
      return {
        summary: `Crash: ${process} (${fault})${object ? ` in ${object}` : ""}`,
        process,
        pid,
        facts: crashFacts(process, pid, fault, object, g["addr"] ?? g["addr3"] ?? null),
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
    pattern: /^potentially unexpected fatal signal (?<signal>\d+)\./,
    describe: ({ m }) => {
      const n = m?.groups?.["signal"] ?? "?";
      // Crash signals by name; any other number as it is (as before the shared table).
      const signal = (CRASH_SIGNALS.has(n) ? signalName(n) : null) ?? `signal ${n}`;
      return { summary: `Crash: process killed by ${signal}`, facts: { kind: "plain" } };
    },
  },
];

function coreDumpResult(unit: string | null): Match {
  return {
    summary: `Crash: ${unit ?? "unit"} main process dumped core`,
    unit,
    facts: crashFacts(unit ?? "unknown", null, "core dumped"),
  };
}
