import { appNameFromCgroup } from "../cgroup-name.ts";
import type { RuleSpec } from "../rule-spec.ts";
import { MESSAGE_ID } from "../systemd-ids.ts";
import { explainExit } from "../../text/exit-status.ts";
import type { Match } from "../rule-spec.ts";
import { field, unitFacts, unitPrefix } from "./_helpers.ts";

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
        facts: unitFacts(unit, result),
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
        facts: unitFacts(unit, field(entry, "JOB_RESULT")),
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
        facts: unitFacts(unit, "spawn"),
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
    pattern: /^(?<unit>\S+): Failed with result '(?<result>[^']+)'/,
    describe: ({ entry, m }) => {
      const unit = entry.unit ?? m?.groups?.["unit"] ?? "unknown unit";
      const result = m?.groups?.["result"] ?? null;
      return {
        summary: `Service failed: ${unit} (${result ?? "failed"})`,
        unit,
        facts: unitFacts(unit, result),
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
    pattern: /^(?<unit>\S+): systemd-oomd killed (?<count>\d+) process/,
    describe: ({ m }) => {
      const unit = m?.groups?.["unit"] ?? "unknown unit";
      const app = appNameFromCgroup(unit);
      return {
        summary: `OOM kill (systemd-oomd): ${app} — ${m?.groups?.["count"] ?? "some"} process(es) killed`,
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
    doc: "systemd: 'Start request repeated too quickly' (v219: 'start request repeated too quickly for X') — the unit gave up restarting",
    identifiers: ["systemd"],
    literals: ["tart request repeated too quickly"],
    pattern: /^(?:(?<unit>\S+): Start request repeated too quickly|start request repeated too quickly for (?<unit219>\S+))/,
    describe: ({ entry, m }) => {
      const unit = entry.unit ?? m?.groups?.["unit"] ?? m?.groups?.["unit219"] ?? "unknown unit";
      return {
        summary: `Service gave up restarting: ${unit} (start limit hit)`,
        unit,
        facts: unitFacts(unit, "start-limit-hit"),
      };
    },
  },
  {
    // The main process's failed exit: the first line of a unit failure, and on v219 (RHEL 7)
    // the only one with the exit status. A clean exit is logged at debug level, if at all.
    name: "unit-exit-failed",
    tier: "T3",
    severity: "medium",
    group: "core",
    doc: "systemd: 'X: Main process exited, code=exited, status=1/FAILURE' (a failure status or a non-crash signal)",
    messageId: MESSAGE_ID.unitProcessExit,
    describe: ({ entry }) => {
      const code = field(entry, "EXIT_CODE") ?? /code=(\w+)/.exec(entry.message)?.[1] ?? null;
      const status = field(entry, "EXIT_STATUS") ?? /status=(\w+)/.exec(entry.message)?.[1] ?? null;
      return unitExit(entry.unit ?? unitPrefix(entry.message), "Main", code, status, entry.priority);
    },
  },
  {
    name: "unit-exit-failed-text",
    tier: "T3",
    severity: "medium",
    group: "core",
    doc: "systemd, as text (v219 lowercase too): 'X: main process exited, code=exited, status=1/FAILURE', and control processes (ExecStartPre=, ExecStop=…; v219: 'control process exited, code=exited status=1')",
    identifiers: ["systemd"],
    literals: ["process exited, code="],
    pattern: /^(?<unit>\S+): (?<which>[Mm]ain|[Cc]ontrol) process exited, code=(?<code>\w+),? status=(?<status>\d+)/,
    describe: ({ entry, m }) => {
      const which = /^[Mm]/.test(m?.groups?.["which"] ?? "") ? "Main" : "Control";
      return unitExit(
        entry.unit ?? m?.groups?.["unit"] ?? null,
        which,
        m?.groups?.["code"] ?? null,
        m?.groups?.["status"] ?? null,
        entry.priority,
      );
    },
  },
  {
    // v219–v229: "Unit X entered failed state." v230–v235: "X: Unit entered failed state."
    // v219 service.c also logs "X failed." right after (src/core/unit.c, service.c).
    name: "unit-entered-failed",
    tier: "T3",
    severity: "medium",
    group: "core",
    doc: "systemd before v236: 'Unit X entered failed state.', 'X: Unit entered failed state.', 'X failed.'",
    identifiers: ["systemd"],
    literals: ["entered failed state", " failed."],
    pattern:
      /^(?:Unit (?<unit>\S+) entered failed state|(?<unit230>\S+): Unit entered failed state|(?<unit219>[\w@:.\\-]+\.(?:service|socket|mount|swap|timer|path|automount|scope|target)) failed)\.$/,
    describe: ({ entry, m }) => {
      const unit = entry.unit ?? m?.groups?.["unit"] ?? m?.groups?.["unit230"] ?? m?.groups?.["unit219"] ?? "unknown unit";
      return {
        summary: `Service failed: ${unit}`,
        unit,
        facts: unitFacts(unit, "failed"),
      };
    },
  },
  {
    // service.c service_dispatch_timer (v219: "X start operation timed out. Terminating.";
    // v236+: "X: start operation timed out. Terminating." and "X: State 'stop-sigterm' timed
    // out. Killing."), job.c job_dispatch_timer ("Job X/start timed out."), and the device
    // wait of a mount at boot ("Timed out waiting for device X."), and the watchdog's
    // "X: Watchdog timeout (limit 3min)!" (older releases: "X watchdog timeout!").
    name: "unit-timeout",
    tier: "T3",
    severity: "medium",
    group: "core",
    doc: "systemd: a unit's start/stop/reload timed out ('start operation timed out', 'State 'stop-sigterm' timed out', 'Job X/start timed out', 'Timed out waiting for device')",
    identifiers: ["systemd"],
    literals: ["timed out", "Timed out waiting for device", "atchdog timeout"],
    pattern:
      /^(?:(?<unit>[^\s:]+):? (?<op>start|stop|reload|start-pre|start-post|stop-pre|stop-post|clean|cleaning) operation timed out\. (?<action>\w+)|(?<unit2>[^\s:]+):? (?:State '(?<state>[\w-]+)'|(?<state219>stop-sigterm|stop-final-sigterm|stop-sigkill|stop-final-sigkill|final-sigterm|final-sigkill|stop-watchdog|stop-sigabrt)) timed out\. (?<action2>[\w ]+)|(?:(?<unit3>[^\s:]+): )?Job (?<job>[^\s/]+)\/(?<type>[\w-]+) timed out|Timed out waiting for device (?<device>.+?)\.?$|(?<unit4>[^\s:]+):? [Ww]atchdog timeout(?: \(limit (?<limit>[^)]+)\))?!)/,
    describe: ({ entry, m }) => {
      const g = m?.groups ?? {};
      const unit =
        entry.unit ??
        g["unit"] ??
        g["unit2"] ??
        g["unit3"] ??
        g["job"] ??
        (g["device"] ? g["device"] : null) ??
        g["unit4"] ??
        "unknown unit";
      const what = g["op"]
        ? `${g["op"]} timed out`
        : g["state"] || g["state219"]
          ? `${g["state"] ?? g["state219"]} timed out`
          : g["type"]
            ? `job ${g["type"]} timed out`
            : g["device"]
              ? "timed out waiting for the device"
              : `watchdog timeout${g["limit"] ? ` (limit ${g["limit"]})` : ""}`;
      return {
        summary: `Service timed out: ${unit} (${what})`,
        unit,
        facts: unitFacts(unit, "timeout"),
      };
    },
  },
  {
    // Text logs carry no MESSAGE_ID; the journal's own entry (be02cf68…) is unit-start-failed.
    // Before v250 the line names the unit's description, not the unit.
    name: "unit-start-failed-text",
    tier: "T3",
    severity: "medium",
    group: "core",
    doc: "systemd, as text: 'Failed to start X.' / 'Failed to start x.service - X.'",
    identifiers: ["systemd"],
    literals: ["Failed to start "],
    pattern: /^Failed to start (?:(?<unit>\S+\.(?:service|socket|mount|swap|timer|path|automount|scope|target)) - )?(?<what>.+?)\.?$/,
    describe: ({ entry, m }) => {
      const unit = entry.unit ?? m?.groups?.["unit"] ?? null;
      const what = m?.groups?.["what"] ?? "a unit";
      return {
        summary: `Service failed to start: ${unit ?? what}`,
        unit,
        process: unit ? null : what,
        facts: unitFacts(unit ?? what, "failed"),
      };
    },
  },
  {
    // Scheduled jobs outside systemd. Debian's cron (do_command.c): "(CRON) error (grandchild
    // #1234 failed with exit status 1)"; anacron (runjob.c) and cronie: "Job `cron.daily'
    // terminated (exit status: 1) (mailing output)", "… terminated due to signal 9";
    // logrotate's cron.daily script: "ALERT exited abnormally with [1]".
    name: "scheduled-job-failed",
    tier: "T3",
    severity: "medium",
    group: "core",
    doc: "cron / anacron / cronie job failed, logrotate 'ALERT exited abnormally'",
    identifiers: ["cron", "CRON", "crond", "CROND", "anacron", "logrotate", "/USR/SBIN/CRON", "/usr/sbin/cron"],
    literals: [
      "failed with exit status",
      "terminated (exit status",
      "terminated due to signal",
      "terminated abnormally",
      "exited abnormally",
    ],
    pattern:
      /(?:\(CRON\) error \(grandchild #(?<pid>\d+) failed with exit status (?<status>\d+)\)|^Job `?(?<job>.+?)'? terminated (?:\(exit status: (?<status2>\d+)\)|due to signal (?<sig>\d+)|abnormally)|ALERT exited abnormally with \[(?<status3>\d+)\])/,
    describe: ({ entry, m }) => {
      const g = m?.groups ?? {};
      const status = g["status"] ?? g["status2"] ?? g["status3"] ?? null;
      const job = g["job"] ?? (g["status3"] !== undefined ? "logrotate" : "cron job");
      const how = g["sig"] ? explainExit("killed", g["sig"]) : status !== null ? explainExit("exited", status) : "terminated abnormally";
      const unit = job === "cron job" ? (entry.identifier ?? "cron") : job;
      return {
        summary: `Scheduled job failed: ${job}${g["pid"] ? ` (pid ${g["pid"]})` : ""} — ${how ?? "failed"}`,
        process: job,
        facts: {
          kind: "unit",
          unit,
          result: g["sig"] ? "signal" : "exit-code",
          exitCode: g["sig"] ? "killed" : "exited",
          exitStatus: g["sig"] ?? status,
          restartCount: null,
        },
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
    pattern: /level=(?:fatal|panic) msg="(?<msg>[^"]*)"/,
    describe: ({ entry, m }) => ({
      summary: `Container runtime ${entry.identifier ?? ""} fatal: ${m?.groups?.["msg"] ?? ""}`,
      process: entry.identifier,
      unit: entry.unit,
    }),
  },
  {
    // dockerd's storage errors that node-problem-detector's docker-monitor names: a layer
    // that cannot be registered (CorruptDockerImage) and a broken overlay2 link directory
    // (CorruptDockerOverlay2). dockerd logs them at level=error, so the fatal rule misses them.
    name: "container-storage-corrupt",
    tier: "T3",
    severity: "medium",
    group: "containers",
    doc: "dockerd: corrupt image layer ('failed to register layer: rename … directory not empty') or overlay2 ('readlink /var/lib/docker/overlay2…: invalid argument')",
    identifiers: ["dockerd", "docker"],
    literals: ["failed to register layer", "readlink /var/lib/docker/overlay2"],
    pattern:
      /failed to register layer: rename (?<from>\/var\/lib\/docker\/image\/\S+) \S+: directory not empty|readlink (?<overlay>\/var\/lib\/docker\/overlay2\S*): invalid argument/,
    describe: ({ entry, m }) => {
      const overlay = m?.groups?.["overlay"];
      return {
        summary: overlay
          ? `Container storage corrupt: ${overlay} (docker overlay2)`
          : `Container image corrupt: layer ${m?.groups?.["from"] ?? ""} could not be registered`,
        process: entry.identifier,
        unit: entry.unit,
      };
    },
  },
  {
    name: "samba-panic",
    tier: "T3",
    severity: "medium",
    group: "file_sharing",
    doc: "smbd / nmbd / winbindd PANIC",
    identifiers: ["smbd", "nmbd", "winbindd", "samba"],
    literals: ["PANIC"],
    pattern: /PANIC(?: \(pid (?<pid>\d+)\))?: ?(?<what>.*)/,
    describe: ({ entry, m }) => ({
      summary: `Samba ${entry.identifier ?? ""} panic: ${m?.groups?.["what"] ?? ""}`,
      process: entry.identifier,
      unit: entry.unit,
    }),
  },
];

/** Signals a daemon may die of cleanly (systemd's is_clean_exit for services). */
const CLEAN_SIGNALS = new Set(["HUP", "INT", "TERM", "PIPE", "1", "2", "15", "13"]);

/** A main or control process exit as a failure, or null when it was clean. */
function unitExit(
  unit: string | null,
  which: "Main" | "Control",
  code: string | null,
  status: string | null,
  priority: number | null,
): Match | null {
  if (code === "exited" && (status === "0" || status === "SUCCESS")) return null;
  // A signal systemd counts as clean is logged at debug level (priority 7) only.
  if (code === "killed" && status !== null && CLEAN_SIGNALS.has(status.replace(/^SIG/, "")) && priority === 7) return null;
  const name = unit ?? "unknown unit";
  const why = explainExit(code, status) ?? `code=${code ?? "?"}, status=${status ?? "?"}`;
  return {
    summary: `Service failed: ${name} (${which.toLowerCase()} process ${code === "exited" ? "exited" : "killed"}: ${why})`,
    unit,
    facts: {
      kind: "unit",
      unit: name,
      result: code === "exited" ? "exit-code" : "signal",
      exitCode: code,
      exitStatus: status,
      restartCount: null,
    },
  };
}
