import {
  MASS_RESTART_MIN,
  MASS_RESTART_RULE,
  MASS_RESTART_WINDOW_US,
  RESTART_LOOP_MAX,
  RESTART_LOOP_WINDOW_US,
  type RuleSpec,
  type UnitHistory,
} from "../rule-spec.ts";
import { MESSAGE_ID } from "../systemd-ids.ts";
import { startJobDone } from "../unit-history.ts";
import { field, unitFacts } from "./_helpers.ts";

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
        facts: unitFacts(unit, "restart-loop", counter === null ? restarts : Number(counter)),
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
      if (!unit?.endsWith(".service") || !startJobDone(entry)) return null;
      const starts = history.startsWithin(unit, RESTART_LOOP_WINDOW_US);
      // Restarts systemd scheduled itself are unit-restart-loop's; failures make it a crash loop.
      if (
        starts <= RESTART_LOOP_MAX ||
        history.failedWithin(unit, RESTART_LOOP_WINDOW_US) ||
        history.restartsWithin(unit, RESTART_LOOP_WINDOW_US) > 0
      )
        return null;
      return {
        summary: `Restart loop: ${unit} started ${starts} times within 5 min with no failure logged (restarted from outside: systemctl restart, a cron job or a script?)`,
        unit,
        facts: unitFacts(unit, "restart-loop", starts),
      };
    },
  },
  {
    // Many services restarted at once (a package upgrade's postinst or needrestart, a watchdog
    // script, `systemctl restart a b c`): one incident naming them, not one per unit. A restart
    // job's stop half is logged "Stopped X" with JOB_TYPE=restart; a boot logs only starts, a
    // shutdown or isolate stops with JOB_TYPE=stop, and daemon-reload/daemon-reexec log
    // "Reloading."/"Reexecuting." and nothing per unit, so none of them counts. Units that
    // Restart= restarts or that failed are restart or crash loops of their own, not counted.
    // Fires once, on the restart that makes the burst's count reach the minimum.
    name: MASS_RESTART_RULE,
    tier: "T3",
    severity: "medium",
    group: "core",
    doc: "systemd: 3 or more different units restarted by restart jobs ('Stopped' with JOB_TYPE=restart) within 1 min, none failing or under Restart= — one incident for a mass restart (package upgrade, watchdog script)",
    messageId: MESSAGE_ID.unitStopped,
    describe: ({ entry, history }) => {
      const unit = entry.unit;
      if (!unit || field(entry, "JOB_TYPE") !== "restart" || field(entry, "JOB_RESULT") !== "done") return null;
      // Only a unit's first restart in the window can grow the burst.
      if (history.restartJobsWithin(unit, MASS_RESTART_WINDOW_US) !== 1 || !restartedFromOutside(history, unit)) return null;
      const units = history.unitsRestartedWithin(MASS_RESTART_WINDOW_US).filter((u) => restartedFromOutside(history, u));
      if (units.length !== MASS_RESTART_MIN) return null;
      return {
        summary: `Mass restart: ${units.length} units restarted within 1 min: ${units.join(", ")} (a package upgrade, a watchdog or a script restarting services?)`,
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

/** A restart asked for from outside: not Restart= at work (its "Scheduled restart job") and no failure. */
function restartedFromOutside(history: UnitHistory, unit: string): boolean {
  return history.restartsWithin(unit, RESTART_LOOP_WINDOW_US) === 0 && !history.failedWithin(unit, RESTART_LOOP_WINDOW_US);
}
