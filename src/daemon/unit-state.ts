import { userRuntimeEnv } from "../monitors/timers.ts";
import type { Runner } from "../run.ts";

// Whether systemd says a unit is failed right now, asked of the system manager and then the
// user manager (the one that has it loaded answers). What the incident sweep checks before it
// calls a quiet unit's incident resolved: silence alone does not make a failed unit well.

const TIMEOUT_MS = 5_000;

/** `systemctl show -p LoadState,ActiveState` output → the answer; null when this manager does not have the unit. */
export function parseUnitFailed(stdout: string): boolean | null {
  const props = new Map(stdout.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const));
  if (props.get("LoadState") !== "loaded") return null;
  const active = props.get("ActiveState");
  if (active === undefined || active === "") return null;
  return active === "failed";
}

export function unitFailedVia(runner: Runner): (unit: string) => Promise<boolean | null> {
  return async (unit) => {
    for (const manager of ["system", "user"] as const) {
      const argv = [...(manager === "user" ? ["env", ...userRuntimeEnv()] : []), "systemctl", ...(manager === "user" ? ["--user"] : []), "show", "--property=LoadState,ActiveState", "--", unit];
      try {
        const r = await runner.run(argv, { timeoutMs: TIMEOUT_MS, maxOutputBytes: 4096 });
        if (r.timedOut || r.exitCode !== 0) continue;
        const failed = parseUnitFailed(r.stdout);
        if (failed !== null) return failed;
      } catch {
        // no systemctl, or no such manager here: the other may know, else quiet decides
      }
    }
    return null;
  };
}
