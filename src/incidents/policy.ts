import type { Config } from "../config/schema.ts";
import type { Candidate, Severity, Tier } from "../event.ts";
import { BLIND_RULE, PRESSURE_RISING_RULE } from "./fingerprint.ts";
import { severityRank, type ResolveWindows } from "./lifecycle.ts";

// The alert policy: which events are never stored (ignore), which are stored but never alert
// (quiet), and which tiers and severities reach the phone. Pure; built once from the config.

export interface IncidentPolicy {
  /** Never an event: dropped before the store. */
  ignores(c: Candidate): boolean;
  /** Whether this stored event may alert (tier and severity, and not quiet). */
  alerts(c: Pick<Candidate, "tier" | "severity" | "unit" | "process" | "rule">): boolean;
}

/** "backup.service" matches itself; "*" stands for any run of characters ("user@*.service"). */
function matcher(patterns: readonly string[]): (name: string | null) => boolean {
  if (patterns.length === 0) return () => false;
  const exact = new Set(patterns.filter((p) => !p.includes("*")));
  const globs = patterns
    .filter((p) => p.includes("*"))
    .map(
      (p) =>
        new RegExp(
          `^${p
            .split("*")
            .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
            .join(".*")}$`,
        ),
    );
  return (name) => name !== null && (exact.has(name) || globs.some((g) => g.test(name)));
}

/** The quiet windows after which an incident of each kind is over, from `[incidents] resolve_*`. */
export function resolveWindows(incidents: Config["incidents"]): ResolveWindows {
  return {
    unitMs: incidents.resolveUnitMs,
    programMs: incidents.resolveProgramMs,
    diskMs: incidents.resolveDiskMs,
    otherMs: incidents.resolveOtherMs,
  };
}

export function incidentPolicy(config: Pick<Config, "ntfy" | "incidents">): IncidentPolicy {
  const tiers = new Set<Tier>(config.ntfy.alertTiers);
  const minSeverity = config.ntfy.minSeverity;
  const ignoreUnit = matcher(config.incidents.ignoreUnits);
  const ignoreProgram = matcher(config.incidents.ignorePrograms);
  const quietUnit = matcher(config.incidents.quietUnits);
  const quietProgram = matcher(config.incidents.quietPrograms);
  return {
    ignores: (c) => ignoreUnit(c.unit) || ignoreProgram(c.process),
    alerts: (c) => {
      // logtriage's own blindness alerts whatever the tiers say: a monitor that cannot see and
      // stays silent looks exactly like a healthy machine.
      if (c.rule === BLIND_RULE) return true;
      // Memory pressure still rising is the warning before an OOM kill: it alerts as the kill would (T1), not as T5's digest-only episodes.
      const tier = c.rule === PRESSURE_RISING_RULE ? "T1" : c.tier;
      if (!tiers.has(tier)) return false;
      const least: Severity | undefined = minSeverity[c.tier];
      if (least !== undefined && severityRank(c.severity) > severityRank(least)) return false;
      return !quietUnit(c.unit) && !quietProgram(c.process);
    },
  };
}
