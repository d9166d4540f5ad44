import { RESTART_LOOP_MAX, RESTART_LOOP_WINDOW_US, type RuleSpec } from "../rule-spec.ts";
import { MESSAGE_ID } from "../systemd-ids.ts";
import { field } from "./_helpers.ts";

// Look-alikes and context: lines we know and deliberately do not tier, so no later rule mis-tiers them.

export const CONTEXT_RULES: readonly RuleSpec[] = [
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
    // Restart=always hides breakage from `systemctl --failed`. This rule sees the loops systemd
    // drives itself (Restart=): it counts "Scheduled restart job" entries, which only Restart=
    // writes. Loops driven from outside are unit-start-loop's, below. A unit that also logs
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
    // A loop driven from outside (a script, cron job or watchdog calling `systemctl restart`,
    // clean exits): NRestarts stays 0 and no "Scheduled restart job" is written
    // (systemd#29348), but every start still ends in a "Started" entry, which this rule counts.
    name: "unit-start-loop",
    tier: "T3",
    severity: "medium",
    group: "core",
    doc: "systemd: more than 3 'Started' entries for a service within 5 min and no failure logged — a restart loop driven by `systemctl restart`, cron or a script, which NRestarts does not count",
    messageId: MESSAGE_ID.unitStarted,
    describe: ({ entry, history }) => {
      const unit = entry.unit;
      if (!unit?.endsWith(".service") || field(entry, "JOB_RESULT") !== "done") return null;
      const starts = history.startsWithin(unit, RESTART_LOOP_WINDOW_US);
      // Restarts systemd scheduled itself are unit-restart-loop's; failures make it a crash loop.
      if (starts <= RESTART_LOOP_MAX || history.failedWithin(unit, RESTART_LOOP_WINDOW_US) || history.restartsWithin(unit, RESTART_LOOP_WINDOW_US) > 0) return null;
      return {
        summary: `Restart loop: ${unit} started ${starts} times within 5 min with no failure logged (restarted from outside: systemctl restart, a cron job or a script?)`,
        unit,
        facts: { kind: "unit", unit, result: "restart-loop", exitCode: null, exitStatus: null, restartCount: starts },
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
    // systemd-oomd's debug line for each process of a cgroup it kills (oomd-util.c, 248+);
    // the "Killed/Marked <cgroup> … due to" line of the same kill is the event.
    name: "oomd-attempting-kill",
    tier: null,
    severity: "warning",
    group: "core",
    doc: "systemd-oomd: 'oomd attempting to kill N with KILL' (debug) — the cgroup's kill line is the event",
    identifiers: ["systemd-oomd"],
    literals: ["attempting to kill"],
    pattern: /^oomd attempting to kill \d+ with \w+/,
    describe: () => ({ summary: "" }),
  },
];
