import { appNameFromCgroup } from "../cgroup-name.ts";
import type { RuleSpec } from "../rule-spec.ts";
import { MESSAGE_ID } from "../systemd-ids.ts";
import { field } from "./_helpers.ts";

// T3: service failures (systemd units, container runtimes, file-sharing daemons).

export const SERVICE_RULES: readonly RuleSpec[] = [
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

];
