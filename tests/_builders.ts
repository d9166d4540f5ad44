import type { Database } from "bun:sqlite";
import { parseConfig } from "../src/config/load.ts";
import type { Config } from "../src/config/schema.ts";
import type { Candidate } from "../src/event.ts";
import { fingerprintOf } from "../src/incidents/fingerprint.ts";
import { openIncident, resolveIncident, type Incident } from "../src/incidents/lifecycle.ts";
import { RunError, type Runner } from "../src/run.ts";
import { commitEvent } from "../src/store/events.ts";
import { linkEvent, saveIncident } from "../src/store/incidents.ts";
import type { FailureSnapshot } from "../src/store/snapshots.ts";

// Builders the tests share: a wait on a real condition, a Runner whose tool is not installed,
// and the event and snapshot most tests start from and change one field of.

/**
 * Waits until `check` holds, asking every `everyMs`; throws "timed out waiting for WHAT" after
 * `timeoutMs`. Tests wait on the condition itself, never for a fixed time.
 */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(everyMs);
  }
}

/** The program an argv runs: past `env` and its VAR=value settings ("env TZ=UTC systemctl …" runs systemctl). */
function toolOf(argv: readonly string[]): string {
  let i = argv[0] === "env" ? 1 : 0;
  while (i < argv.length - 1 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(argv[i] as string)) i++;
  return argv[i] ?? "";
}

/** A Runner on a machine without the tool: every run fails as spawning a missing program does. */
export const missingTool: Runner = {
  run: (argv) => Promise.reject(new RunError(`cannot run ${toolOf(argv)}: ENOENT`, argv, null)),
};

/** A stored-looking T3 event: smbd.service failed with exit code 1. */
export function unitFailure(over: Partial<Candidate> = {}): Candidate {
  return {
    tier: "T3",
    severity: "medium",
    rule: "unit-failed",
    summary: "Service failed: smbd.service (exit-code)",
    process: null,
    pid: null,
    unit: "smbd.service",
    timestampUs: 1_800_000_000_000_000,
    facts: { kind: "unit", unit: "smbd.service", result: "exit-code", exitCode: "exited", exitStatus: "1", restartCount: null },
    entries: [],
    ...over,
  };
}

/** A failure snapshot of nextcloud at `timeUs`: one HTTP 503, nothing else gathered. */
export function failureSnapshot(timeUs: number, over: Partial<FailureSnapshot> = {}): FailureSnapshot {
  return {
    version: 1,
    service: "nextcloud",
    healthUrl: "http://127.0.0.1:8080/health",
    unit: "nextcloud.service",
    timeUs,
    check: { timeUs, outcome: "status", status: 503, expectedStatus: 200, latencyMs: 3, error: "HTTP 503 (expected 200)" },
    failedChecks: [],
    summary: "RAM: 94% | disk: 87% | load: 4.2",
    readings: [],
    psi: [],
    topConsumers: [],
    topConsumersTimeUs: null,
    journal: null,
    missing: [],
    ...over,
  };
}

/**
 * A stored incident of one stored event: `unit` failed at `atUs` (resolved a minute later when
 * `resolved`), alertable, with the given id. Returns the incident as saved.
 */
export function storedUnitIncident(
  db: Database,
  id: string,
  unit: string,
  atUs: number,
  options: { resolved?: boolean; severity?: Candidate["severity"] } = {},
): Incident {
  const candidate = unitFailure({
    unit,
    summary: `Service failed: ${unit} (exit-code)`,
    timestampUs: atUs,
    severity: options.severity ?? "medium",
  });
  const outcome = commitEvent(db, candidate, { instanceId: "nas", cooldownMs: 300_000, aggregateThreshold: 3 });
  let incident = openIncident(id, "nas", fingerprintOf(candidate), {
    eventId: outcome.id,
    tier: candidate.tier,
    severity: candidate.severity,
    summary: candidate.summary,
    timestampUs: atUs,
    occurrences: 1,
    loop: false,
    alertable: true,
  });
  if (options.resolved) incident = resolveIncident(incident, atUs + 60_000_000, "active again");
  saveIncident(db, incident);
  linkEvent(db, outcome.id, id);
  return incident;
}

/** `[ntfy]` as the program reads it: the defaults, this `url`, T1 and T2 alerted, a 5 s timeout, and `over`. */
export function ntfyTestConfig(url: string, over: Partial<Config["ntfy"]> = {}): Config["ntfy"] {
  const defaults = parseConfig("", "config.toml", { env: { HOME: "/nonexistent" }, hostname: "test" }).ntfy;
  return { ...defaults, url, alertTiers: ["T1", "T2"], timeoutMs: 5000, ...over };
}

/** [incidents] on defaults: no ignore or quiet lists, the documented resolution windows. */
export function incidentsTestConfig(): Config["incidents"] {
  return {
    ignoreUnits: [],
    quietUnits: [],
    ignorePrograms: [],
    quietPrograms: [],
    resolveUnitMs: 300_000,
    resolveProgramMs: 86_400_000,
    resolveDiskMs: 86_400_000,
    resolveOtherMs: 3_600_000,
  };
}
