import { OOM_KILLED, parseOomReport } from "../../parse/oom-report.ts";
import { appNameFromCgroup, cgroupLeaf } from "../cgroup-name.ts";
import type { RuleSpec } from "../rule-spec.ts";
import { signalName } from "../../text/exit-status.ts";
import { MESSAGE_ID } from "../systemd-ids.ts";
import type { Match } from "../rule-spec.ts";
import type { OomReport } from "../../event.ts";
import { field, oomSummary, unitPrefix } from "./_helpers.ts";

// T1: OOM kills, by the kernel and by userspace killers (systemd-oomd, earlyoom, nohang).

export const OOM_RULES: readonly RuleSpec[] = [
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
    // 4.19+ prints this summary of the kill just before "Killed process"; inside a container
    // or with a ratelimited report it may be the only line read (mm/oom_kill.c dump_oom_summary).
    name: "kernel-oom-kill-summary",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "kernel: a lone 'oom-kill:constraint=…,task=x,pid=N' summary line",
    kernel: true,
    literals: ["oom-kill:"],
    pattern: /^oom-kill:.*?(?:,|^)task=(?<task>.*),pid=(?<pid>\d+),uid=(?<uid>\d+)\s*$/,
    describe: ({ entry, m }) => {
      const report = parseOomReport([entry.message], 4);
      const task = m?.groups?.["task"] ?? "unknown";
      const pid = Number(m?.groups?.["pid"]);
      return { ...loneOom(report, task, pid, "killed"), facts: { kind: "oom-kill", oom: report } };
    },
  },
  {
    // 2.6–4.x: the victim chosen, before its "Killed process" line (mm/oom_kill.c oom_kill_process).
    name: "kernel-oom-kill-choice",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "kernel (2.6–4.x): a lone 'Out of memory: Kill process N (x) score N or sacrifice child' (2.6.24–2.6.35: 'kill process … or a child')",
    kernel: true,
    literals: ["or sacrifice child", "or a child"],
    // mm/oom_kill.c oom_kill_process(): "%s: kill process %d (%s) score %li or a child" until 2.6.35.
    pattern:
      /^(?:(?<scope>[^:]*[Oo]ut of memory[^:]*): )?[Kk]ill process (?<pid>\d+) \((?<task>.*)\) score (?<score>-?\d+) or (?:sacrifice|a) child/,
    describe: ({ entry, m }) => {
      const report = parseOomReport([entry.message], 4);
      const memcg = /memory cgroup/i.test(m?.groups?.["scope"] ?? "");
      const match = loneOom(report, m?.groups?.["task"] ?? "unknown", Number(m?.groups?.["pid"]), "chosen to be killed");
      return {
        ...match,
        summary: memcg ? `${match.summary}, a memory cgroup hit its limit` : match.summary,
        facts: { kind: "oom-kill", oom: report },
      };
    },
  },
  {
    // 3.x/4.x memcg reports name the cgroup that hit its limit (mem_cgroup_print_oom_info).
    name: "kernel-memcg-oom-limit",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "kernel (3.x/4.x): a lone 'Task in X killed as a result of limit of Y'",
    kernel: true,
    literals: ["killed as a result of limit of"],
    pattern: /^Task in (?<task>\S+) killed as a result of limit of (?<limit>\S+)/,
    describe: ({ entry, m }) => {
      const report = parseOomReport([entry.message], 4);
      const taskMemcg = m?.groups?.["task"] ?? "/";
      const limit = m?.groups?.["limit"] ?? taskMemcg;
      return {
        summary: `OOM kill in cgroup ${taskMemcg}: a task was killed, ${limit} hit its memory limit`,
        unit: taskMemcg === "/" ? null : cgroupLeaf(taskMemcg),
        facts: { kind: "oom-kill", oom: { ...report, constraint: "CONSTRAINT_MEMCG" } },
      };
    },
  },
  {
    // Nothing could be killed: 3.x–4.x panic with it, 4.x+ memcg and sysrq print it as a warning.
    name: "kernel-oom-no-victim",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "kernel: 'Out of memory and no killable processes...'",
    kernel: true,
    literals: ["no killable processes"],
    pattern: /Out of memory and no killable processes/,
    describe: ({ entry }) => ({
      summary: `Out of memory and nothing left to kill${/panic/i.test(entry.message) ? " (kernel panic)" : ""}`,
      facts: { kind: "oom-kill", oom: parseOomReport([entry.message], 4) },
    }),
  },
  {
    // Printed once the reaper freed the victim's memory; a kill whose report was missed.
    name: "oom-reaper",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "kernel: 'oom_reaper: reaped process N (x)' — proves an OOM kill; joins its report when both are read",
    kernel: true,
    literals: ["oom_reaper: "],
    pattern: /^oom_reaper: reaped process (?<pid>\d+) \((?<task>.*)\)/,
    describe: ({ entry, m }) => {
      const report = parseOomReport([entry.message], 4);
      return {
        ...loneOom(report, m?.groups?.["task"] ?? "unknown", Number(m?.groups?.["pid"]), "killed"),
        facts: { kind: "oom-kill", oom: report },
      };
    },
  },
  {
    // systemd 243+ (unit.c unit_check_oom): MESSAGE_ID fe6faa94…; the unit's own trace of a kill.
    name: "unit-oom-notice",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "systemd: 'X: A process of this unit has been killed by the OOM killer.'",
    messageId: MESSAGE_ID.unitOutOfMemory,
    describe: ({ entry }) => unitOom(entry.unit ?? unitPrefix(entry.message), "a process of the unit was killed by the OOM killer"),
  },
  {
    name: "unit-oom-notice-text",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "systemd, as text: 'X: A process of this unit has been killed by the OOM killer.'",
    identifiers: ["systemd"],
    literals: ["killed by the OOM killer"],
    pattern: /^(?<unit>\S+): A process of this unit has been killed by the OOM killer/,
    describe: ({ entry, m }) => unitOom(entry.unit ?? m?.groups?.["unit"] ?? null, "a process of the unit was killed by the OOM killer"),
  },
  {
    // systemd 243+: a unit whose process the kernel OOM-killed fails with result 'oom-kill'
    // (OOMPolicy=stop, the default for services).
    name: "unit-oom-result",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "systemd: 'X: Failed with result 'oom-kill'.'",
    messageId: MESSAGE_ID.unitFailureResult,
    describe: ({ entry }) => {
      const result = field(entry, "UNIT_RESULT") ?? /result '([^']+)'/.exec(entry.message)?.[1] ?? null;
      return result === "oom-kill" ? unitOom(entry.unit ?? unitPrefix(entry.message), "failed with result 'oom-kill'") : null;
    },
  },
  {
    name: "unit-oom-result-text",
    tier: "T1",
    severity: "critical",
    group: "core",
    doc: "systemd, as text: 'X: Failed with result 'oom-kill'.'",
    identifiers: ["systemd"],
    literals: ["Failed with result 'oom-kill'"],
    pattern: /^(?<unit>\S+): Failed with result 'oom-kill'/,
    describe: ({ entry, m }) => unitOom(entry.unit ?? m?.groups?.["unit"] ?? null, "failed with result 'oom-kill'"),
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
    pattern: /^(?:Killed|Marked) (?<cgroup>\/\S*) (?:for killing )?due to (?<why>.+)$/,
    describe: ({ m }) => {
      const g = m?.groups ?? {};
      const cgroup = g["cgroup"] ?? "/";
      const app = appNameFromCgroup(cgroup);
      return {
        summary: `OOM kill (systemd-oomd): ${app} — ${g["why"] ?? "memory pressure"}`,
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
    doc: "earlyoom sent a signal (SIGTERM, SIGKILL, or the one configured) to a process",
    identifiers: ["earlyoom"],
    literals: ["sending SIG", "illing process"],
    // 1.7+: sending SIGTERM to process 906175 uid 1000 "java": oom_score 1170, VmRSS 43912 MiB, cmdline "…"
    // 1.3:  sending SIGTERM to process 12006 "python3": badness 209, VmRSS 2891 MiB
    // 2019: killing process 27541 "bash" with signal 15: badness 550, VmRSS 7609 MiB
    // 2018: Killing process 'bash' with signal 15, pid: 5874, badness: 538, VmRSS: 3160 MiB
    // 1.8+: … "java": oom_score 1146, oom_score_adj 0, VmRSS 23007 MiB, cmdline "…"
    pattern:
      /sending (?<sig>SIG[A-Z0-9]+) to process (?<pid>\d+)(?: uid \d+)? "(?<name>.*?)": (?:badness|oom_score) -?\d+,(?: oom_score_adj -?\d+,)? VmRSS (?<rss>\d+) MiB|[Kk]illing process (?<pid2>\d+) "(?<name2>.*?)" with signal (?<signum>\d+): badness -?\d+, VmRSS (?<rss2>\d+) MiB|[Kk]illing process '(?<name3>.*?)' with signal (?<signum3>\d+), pid: (?<pid3>\d+), badness: -?\d+, VmRSS: (?<rss3>\d+) MiB/,
    describe: ({ m }) => {
      const g = m?.groups ?? {};
      const name = g["name"] ?? g["name2"] ?? g["name3"] ?? "unknown";
      const pid = Number(g["pid"] ?? g["pid2"] ?? g["pid3"]);
      const rss = g["rss"] ?? g["rss2"] ?? g["rss3"] ?? "?";
      const signum = g["signum"] ?? g["signum3"];
      const signal = g["sig"] ?? (signum === undefined ? "SIGTERM" : (signalName(signum) ?? `signal ${signum}`));
      return {
        summary: `OOM kill (earlyoom): ${name} (pid ${pid}, ${rss} MiB RSS, ${signal})`,
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
    literals: ["kill -", "Send SIG", "Sending SIG"],
    // v0.1: "  Run the command: kill -TERM 12297"; v0.2: "  Send SIGTERM to the victim" / "Sending SIGKILL to <name>"
    pattern:
      /Run the command: kill -(?<cmdsig>[A-Z]+|\d+) (?<pid>\d+)|Send(?:ing)? (?<sig>SIG[A-Z0-9]+) to (?:the victim|(?<name>\S+?),?(?: Pid: (?<pid2>\d+))?(?:$|[ ;,]))/,
    describe: ({ m }) => {
      const g = m?.groups ?? {};
      const pidText = g["pid"] ?? g["pid2"];
      const pid = pidText === undefined ? null : Number(pidText);
      const name = g["name"] ?? null;
      const cmdsig = g["cmdsig"];
      const signal = g["sig"] ?? (cmdsig === undefined ? "SIGTERM" : (signalName(cmdsig) ?? `SIG${cmdsig}`));
      return {
        summary: `OOM kill (nohang): ${name ?? (pid === null ? "victim" : `pid ${pid}`)} ${signal}`,
        process: name,
        pid,
        facts: { kind: "userspace-oom-kill", killer: "nohang", victim: name, pid, cgroup: null },
      };
    },
  },
];

/** A kill known from one line: the victim's name and pid, and its cgroup when the line names it. */
function loneOom(report: OomReport, task: string, pid: number, verb: string): Match {
  const where = report.taskMemcg ? ` in ${report.taskMemcg}` : "";
  return {
    summary: `OOM kill: ${task} (pid ${pid}) ${verb}${where}`,
    process: task,
    pid,
    unit: report.taskMemcg ? cgroupLeaf(report.taskMemcg) : null,
  };
}

function unitOom(unit: string | null, what: string): Match {
  const name = unit ?? "unknown unit";
  return {
    summary: `OOM kill: ${name} — ${what}`,
    unit,
    facts: {
      kind: "userspace-oom-kill",
      killer: "the kernel OOM killer",
      victim: unit ? appNameFromCgroup(unit) : null,
      pid: null,
      cgroup: unit,
    },
  };
}
