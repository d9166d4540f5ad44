import { systemctlArgv } from "../host/systemctl.ts";
import { parseShowBlocks, parseShowTimestamp } from "../parse/systemd-show.ts";
import type { Runner } from "../run.ts";

// Whether systemd says a unit is failed right now, asked of the system manager and then the
// user manager (the one that has it loaded answers). What the incident sweep checks before it
// calls a quiet unit's incident resolved: silence alone does not make a failed unit well.

const TIMEOUT_MS = 5_000;

export interface UnitState {
  failed: boolean;
  /** ActiveState and SubState as systemctl says them ("active"/"running", "activating"/"auto-restart"). */
  active: string;
  sub: string;
  /** A timer's last firing, µs since the epoch; null for other units or a timer never fired. */
  lastTriggerUs: number | null;
}

/** `systemctl show --timestamp=unix -p LoadState,ActiveState,SubState,LastTriggerUSec` output → the state; null when this manager does not have the unit. */
export function parseUnitState(stdout: string): UnitState | null {
  const props = parseShowBlocks(stdout)[0] ?? new Map<string, string>();
  if (props.get("LoadState") !== "loaded") return null;
  const active = props.get("ActiveState");
  if (active === undefined || active === "") return null;
  // Empty when it never fired (or is no timer). LastTriggerUSec ignores --timestamp=unix and
  // comes in the local zone, hence TZ=UTC on the command (as the timers monitor does).
  return {
    failed: active === "failed",
    active,
    sub: props.get("SubState") ?? "",
    lastTriggerUs: parseShowTimestamp(props.get("LastTriggerUSec")),
  };
}

export function unitStateVia(runner: Runner): (unit: string) => Promise<UnitState | null> {
  return async (unit) => {
    for (const manager of ["system", "user"] as const) {
      const argv = systemctlArgv(
        manager,
        "show",
        "--timestamp=unix",
        "--property=LoadState,ActiveState,SubState,LastTriggerUSec",
        "--",
        unit,
      );
      try {
        const r = await runner.run(argv, { timeoutMs: TIMEOUT_MS, maxOutputBytes: 4096 });
        if (r.timedOut || r.exitCode !== 0) continue;
        const state = parseUnitState(r.stdout);
        if (state !== null) return state;
      } catch {
        // no systemctl, or no such manager here: the other may know, else quiet decides
      }
    }
    return null;
  };
}
