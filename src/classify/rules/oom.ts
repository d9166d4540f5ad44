import { OOM_KILLED, parseOomReport } from "../../parse/oom-report.ts";
import { appNameFromCgroup, cgroupLeaf } from "../cgroup-name.ts";
import type { RuleSpec } from "../rule-spec.ts";
import { MESSAGE_ID } from "../systemd-ids.ts";
import { oomSummary } from "./_helpers.ts";

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

];
