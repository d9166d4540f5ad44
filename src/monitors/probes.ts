import type { Database } from "bun:sqlite";
import { redactUrl, redactUrlsIn } from "../text/redact.ts";
import type { ServiceProbeConfig } from "../config/schema.ts";
import type { Candidate, ProbeFacts } from "../event.ts";
import type { Log } from "../log.ts";
import { parseJournalLine } from "../parse/journal-json.ts";
import type { Runner } from "../run.ts";
import { describeFetchFailure } from "../fetch-failure.ts";
import { formatElapsed, formatMs } from "../text/format.ts";
import { loadMonitorStates, saveMonitorState } from "../store/monitor-state.ts";
import { writeSnapshot, type FailureSnapshot, type ProbeOutcome, type ProbeResult, type SnapshotJournalLine } from "../store/snapshots.ts";
import type { MemoryHistory } from "../host/memory-history.ts";
import type { Monitor } from "./monitor.ts";
import {
  SystemHistory,
  SystemSampler,
  systemHistoryCapacity,
  systemSummaryLine,
  READINGS_PER_SNAPSHOT,
  type MemoryNow,
} from "../host/system-history.ts";

// HTTP health probes: GET each `[services.NAME] health_url` on its interval. After
// `failures_before_alert` failed checks in a row (one failed check is a blip: a slow answer,
// a restart in progress; two or three in a row are an outage) the service is unhealthy: a
// failure snapshot is written, then a T3 event says so with the machine's state in one line.
// The first good check after that closes the incident with its duration.

/** A fetch failure → the outcome and its words. Pure: the error object is all it reads. */
export function classifyFetchError(error: unknown, timeoutMs: number): { outcome: ProbeOutcome; error: string } {
  const name =
    typeof error === "object" && error !== null && typeof (error as { name?: unknown }).name === "string"
      ? (error as { name: string }).name
      : "";
  if (name === "TimeoutError") return { outcome: "timeout", error: `timeout: no answer within ${formatMs(timeoutMs)}` };
  const failure = describeFetchFailure(error);
  switch (failure.kind) {
    case "refused":
      return { outcome: "refused", error: "connection refused" };
    case "dns":
      return { outcome: "dns", error: `DNS: host not found (${failure.code})` };
    case "tls":
      return { outcome: "tls", error: `TLS error: ${failure.tlsWords}` };
    case "reset":
      return { outcome: "reset", error: "connection closed by the server before an answer" };
    case "other":
      return { outcome: "other", error: failure.code ? `${failure.code}: ${failure.message}` : failure.message };
  }
}

/** One line for a check: "HTTP 503 (expected 200)", "connection refused", "ok: HTTP 200 in 12 ms". */
export function describeProbeResult(r: ProbeResult): string {
  if (r.outcome === "ok") return `ok: HTTP ${r.status} in ${Math.round(r.latencyMs)} ms`;
  if (r.outcome === "status") return `HTTP ${r.status} (expected ${r.expectedStatus})`;
  return r.error ?? r.outcome;
}

/** What /metrics and `status` show per service. */
export interface ProbeStatus {
  /** null until the first check has answered. */
  up: boolean | null;
  latencyMs: number | null;
  lastCheckUs: number | null;
  lastError: string | null;
}

/** Kept in monitor_state under `probe:<service>`: a service down when the daemon stopped is not announced again. */
interface SavedProbeState {
  down: boolean;
  /** When it went down (the transition's check), µs. */
  sinceUs: number;
  snapshotPath: string | null;
}

export interface ProbesOptions {
  services: Record<string, ServiceProbeConfig>;
  db: Database;
  /** The PSI monitor's history: PSI and top consumers for the snapshot; null when [psi] is off. */
  memory: MemoryHistory | null;
  runner: Runner;
  log: Log;
  snapshotsDir: string;
  /** RAM and swap now; /proc/meminfo by default. */
  readMemory?: () => MemoryNow | null;
  procRoot?: string;
  /** Called as each check starts, with its scheduled and actual monotonic time (bench: drift). */
  onCheckStart?: (service: string, scheduledMs: number, startedMs: number) => void;
}

const JOURNAL_WINDOW_US = 10 * 60 * 1_000_000;
const JOURNAL_LINES = 100;
const JOURNAL_TIMEOUT_MS = 5_000;
// A health endpoint's body is not read for anything; cap what we pull so a huge page is not
// downloaded every 30 s.
const MAX_BODY_BYTES = 64 * 1024;

interface ServiceRun {
  name: string;
  config: ServiceProbeConfig;
  consecutiveFailures: number;
  /** The failed checks of the current run of failures, at most failuresBeforeAlert. */
  failed: ProbeResult[];
  down: SavedProbeState | null;
  status: ProbeStatus;
}

/** Sleeps until the monotonic time `atMs`, or until aborted (then resolves false). */
function sleepUntil(atMs: number, signal: AbortSignal): Promise<boolean> {
  const delay = atMs - performance.now();
  if (signal.aborted) return Promise.resolve(false);
  if (delay <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, delay);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

async function drainCapped(body: ReadableStream<Uint8Array> | null): Promise<void> {
  if (!body) return;
  const reader = body.getReader();
  let read = 0;
  try {
    while (read < MAX_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) return;
      read += value.length;
    }
  } finally {
    // Past the cap, or done: release the connection either way.
    await reader.cancel().catch(() => undefined);
  }
}

/** One GET under the timeout, classified. Never throws. */
export async function checkOnce(config: ServiceProbeConfig, signal: AbortSignal): Promise<ProbeResult> {
  const timeUs = Date.now() * 1000;
  const started = performance.now();
  const timeout = AbortSignal.timeout(config.timeoutMs);
  try {
    const response = await fetch(config.healthUrl, {
      signal: AbortSignal.any([timeout, signal]),
      redirect: "manual",
      headers: { "user-agent": "logtriage health probe" },
    });
    await drainCapped(response.body);
    const latencyMs = performance.now() - started;
    const ok = response.status === config.expectStatus;
    return {
      timeUs,
      outcome: ok ? "ok" : "status",
      status: response.status,
      expectedStatus: config.expectStatus,
      latencyMs,
      error: ok ? null : `HTTP ${response.status} (expected ${config.expectStatus})`,
    };
  } catch (error) {
    const latencyMs = performance.now() - started;
    const { outcome, error: words } = classifyFetchError(error, config.timeoutMs);
    // fetch's words may quote the URL it was given, credentials and all.
    return {
      timeUs,
      outcome,
      status: null,
      expectedStatus: config.expectStatus,
      latencyMs,
      error: words === null ? null : redactUrlsIn(words),
    };
  }
}

/** The unit's journal lines of the last 10 minutes, system manager first, then the user manager. */
async function readUnitJournal(
  runner: Runner,
  unit: string,
  nowUs: number,
  signal: AbortSignal,
): Promise<{ journal: FailureSnapshot["journal"]; missing: string | null }> {
  const sinceSeconds = Math.floor((nowUs - JOURNAL_WINDOW_US) / 1_000_000);
  let lastProblem: string | null = null;
  for (const scope of ["system", "user"] as const) {
    const argv = [
      "journalctl",
      scope === "system" ? "--unit" : "--user-unit",
      unit,
      `--since=@${sinceSeconds}`,
      "--lines",
      String(JOURNAL_LINES),
      "--output=json",
      "--no-pager",
      "--quiet",
    ];
    try {
      const result = await runner.run(argv, { timeoutMs: JOURNAL_TIMEOUT_MS, maxOutputBytes: 2 << 20, signal });
      if (result.timedOut) {
        lastProblem = `journalctl did not answer within ${formatMs(JOURNAL_TIMEOUT_MS)}: no journal lines for ${unit}`;
        continue;
      }
      if (result.exitCode !== 0) {
        lastProblem = `journalctl failed (${result.stderr.trim().split("\n")[0] || `exit ${result.exitCode}`}): no journal lines for ${unit}; is this user in the systemd-journal group?`;
        continue;
      }
      const lines: SnapshotJournalLine[] = [];
      for (const text of result.stdout.split("\n")) {
        const entry = text ? parseJournalLine(text) : null;
        if (entry)
          lines.push({
            timeUs: entry.realtimeUs,
            priority: entry.priority,
            identifier: entry.identifier,
            pid: entry.pid,
            message: entry.message,
          });
      }
      if (lines.length > 0) return { journal: { unit, scope, lines }, missing: null };
    } catch (error) {
      return {
        journal: null,
        missing: `journalctl cannot be run (${error instanceof Error ? error.message : String(error)}): no journal lines for ${unit}`,
      };
    }
  }
  return { journal: null, missing: lastProblem ?? `${unit} logged nothing in the 10 minutes before the failure (system and user journal)` };
}

export class ProbesMonitor implements Monitor {
  readonly name = "probes";
  private readonly options: ProbesOptions;
  private readonly runs: ServiceRun[];
  readonly history: SystemHistory;
  private readonly sampler: SystemSampler;
  readonly samplingMs: number;

  constructor(options: ProbesOptions) {
    this.options = options;
    const saved = loadMonitorStates<SavedProbeState>(options.db, "probe:");
    this.runs = Object.entries(options.services).map(([name, config]) => {
      const down = saved.get(`probe:${name}`);
      return {
        name,
        config,
        consecutiveFailures: 0,
        failed: [],
        down: down?.down ? down : null,
        status: { up: null, latencyMs: null, lastCheckUs: null, lastError: null },
      };
    });
    const intervals = this.runs.map((r) => r.config.intervalMs);
    this.samplingMs = intervals.length ? Math.min(...intervals) : 30_000;
    this.history = new SystemHistory(systemHistoryCapacity(intervals));
    this.sampler = new SystemSampler({
      ...(options.readMemory ? { readMemory: options.readMemory } : {}),
      ...(options.procRoot ? { procRoot: options.procRoot } : {}),
    });
  }

  /** Each service's last check, by name (the HTTP API's /metrics, `status`). */
  status(): ReadonlyMap<string, Readonly<ProbeStatus>> {
    return new Map(this.runs.map((r) => [r.name, { ...r.status }]));
  }

  async run(signal: AbortSignal, emit: (candidate: Candidate) => void): Promise<void> {
    const startMs = performance.now();
    const n = this.runs.length;
    await Promise.all([
      this.sampleLoop(startMs, signal),
      // Services start spread over their interval, not all in the same millisecond: 50
      // services at 30 s are one GET every 0.6 s instead of a burst of 50.
      ...this.runs.map((r, i) => this.probeLoop(r, startMs + Math.floor((i * r.config.intervalMs) / Math.max(1, n)), signal, emit)),
    ]);
  }

  private async sampleLoop(startMs: number, signal: AbortSignal): Promise<void> {
    // Scheduled on a fixed grid from the start, so a slow reading never pushes the next one later.
    for (let k = 0; ; k++) {
      if (!(await sleepUntil(startMs + k * this.samplingMs, signal))) return;
      try {
        this.history.push(this.sampler.sample(Date.now() * 1000));
      } catch (error) {
        this.options.log.warn(`system reading failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      const behind = Math.floor((performance.now() - startMs) / this.samplingMs);
      if (behind > k) k = behind;
    }
  }

  private async probeLoop(run: ServiceRun, firstMs: number, signal: AbortSignal, emit: (candidate: Candidate) => void): Promise<void> {
    const interval = run.config.intervalMs;
    for (let k = 0; ; k++) {
      const scheduledMs = firstMs + k * interval;
      if (!(await sleepUntil(scheduledMs, signal))) return;
      this.options.onCheckStart?.(run.name, scheduledMs, performance.now());
      const result = await checkOnce(run.config, signal);
      if (signal.aborted) return;
      try {
        await this.record(run, result, signal, emit);
      } catch (error) {
        this.options.log.error(`health probe ${run.name}: ${error instanceof Error ? error.message : String(error)}`);
      }
      // A check that ran past its slot (timeout ≥ interval) skips the missed slots instead of
      // firing them back to back; the grid stays where it was.
      const behind = Math.floor((performance.now() - firstMs) / interval);
      if (behind > k) k = behind;
    }
  }

  private async record(run: ServiceRun, result: ProbeResult, signal: AbortSignal, emit: (candidate: Candidate) => void): Promise<void> {
    run.status = {
      up: result.outcome === "ok",
      latencyMs: result.status === null ? null : Math.round(result.latencyMs * 10) / 10,
      lastCheckUs: result.timeUs,
      lastError: result.error,
    };
    if (result.outcome === "ok") {
      run.consecutiveFailures = 0;
      run.failed = [];
      if (run.down) {
        const down = run.down;
        run.down = null;
        saveMonitorState(
          this.options.db,
          `probe:${run.name}`,
          { down: false, sinceUs: result.timeUs, snapshotPath: null } satisfies SavedProbeState,
          result.timeUs,
        );
        emit(this.recoveryCandidate(run, result, down));
      }
      return;
    }
    run.consecutiveFailures++;
    run.failed = [...run.failed, result].slice(-run.config.failuresBeforeAlert);
    // Already down (this run, or when the daemon stopped): one event per incident.
    if (run.down || run.consecutiveFailures < run.config.failuresBeforeAlert) return;
    const { snapshot, path, problem } = await this.captureSnapshot(run, result, signal);
    run.down = { down: true, sinceUs: result.timeUs, snapshotPath: path };
    saveMonitorState(this.options.db, `probe:${run.name}`, run.down, result.timeUs);
    emit(this.unhealthyCandidate(run, result, snapshot, path, problem));
  }

  private async captureSnapshot(
    run: ServiceRun,
    result: ProbeResult,
    signal: AbortSignal,
  ): Promise<{ snapshot: FailureSnapshot; path: string | null; problem: string | null }> {
    const missing: string[] = [];
    const memorySamples = this.options.memory?.samples() ?? [];
    const psi = memorySamples.flatMap((s) => (s.psi ? [{ timeUs: s.timeUs, someAvg10: s.psi.someAvg10, fullAvg10: s.psi.fullAvg10 }] : []));
    const withTop = [...memorySamples].reverse().find((s) => s.top.length > 0) ?? null;
    if (!this.options.memory) missing.push("memory-pressure monitoring ([psi]) is off: no PSI history or top memory consumers");
    else if (psi.length === 0) missing.push("no PSI readings (the kernel has no PSI, or the PSI monitor has not read yet)");
    let journal: FailureSnapshot["journal"] = null;
    if (run.config.unit) {
      const read = await readUnitJournal(this.options.runner, run.config.unit, result.timeUs, signal);
      journal = read.journal;
      if (read.missing) missing.push(read.missing);
    } else {
      missing.push(`no unit configured for ${run.name} ([services.${run.name}] unit = "…"): no journal lines`);
    }
    const readings = this.history.readingsFor(run.config.intervalMs, READINGS_PER_SNAPSHOT, result.timeUs, this.samplingMs);
    const snapshot: FailureSnapshot = {
      version: 1,
      service: run.name,
      // Credentials in the URL (user:password@, ?api_key=) stay in the config: the snapshot is
      // served by the API and shown by `query`.
      healthUrl: redactUrl(run.config.healthUrl),
      unit: run.config.unit,
      timeUs: result.timeUs,
      check: result,
      failedChecks: run.failed.slice(0, -1),
      summary: systemSummaryLine(readings[readings.length - 1] ?? this.history.latest()),
      readings,
      psi,
      topConsumers: withTop?.top ?? [],
      topConsumersTimeUs: withTop?.timeUs ?? null,
      journal,
      missing,
    };
    try {
      return { snapshot, path: writeSnapshot(this.options.snapshotsDir, run.name, snapshot), problem: null };
    } catch (error) {
      // A full disk must not also swallow the alert: the event goes out, saying where the snapshot is not.
      const problem = `the failure snapshot could not be written to ${this.options.snapshotsDir}: ${error instanceof Error ? error.message : String(error)}`;
      this.options.log.error(problem);
      return { snapshot, path: null, problem };
    }
  }

  private unhealthyCandidate(
    run: ServiceRun,
    result: ProbeResult,
    snapshot: FailureSnapshot,
    path: string | null,
    problem: string | null,
  ): Candidate {
    const checks = run.failed.length;
    // A health endpoint failing is a service down for its users: as high as a failed unit.
    return probeCandidate(
      run,
      result,
      "high",
      "service-unhealthy",
      `Service unhealthy: ${run.name} — ${describeProbeResult(result)} (${checks} check${checks === 1 ? "" : "s"}) · ${snapshot.summary}`,
      {
        state: "unhealthy",
        failedChecks: checks,
        systemSummary: snapshot.summary,
        snapshotPath: path,
        snapshotProblem: problem,
        downSinceUs: result.timeUs,
        downForMs: null,
      },
    );
  }

  // The recovery is its own event (rule service-healthy) so it alerts: the user who was woken
  // by "unhealthy" learns it is over and how long it lasted. Facts of kind "probe" give both
  // events a key of their own (store/events.ts dedupKey: probe:<service>:<state>), so the
  // recovery never folds into the outage it ends, nor into the unit's own failures.
  private recoveryCandidate(run: ServiceRun, result: ProbeResult, down: SavedProbeState): Candidate {
    const downForMs = Math.max(0, (result.timeUs - down.sinceUs) / 1000);
    return probeCandidate(
      run,
      result,
      "warning",
      "service-healthy",
      `Service healthy again: ${run.name} after ${formatElapsed(downForMs)}`,
      {
        state: "healthy",
        failedChecks: 0,
        systemSummary: systemSummaryLine(this.history.latest()),
        snapshotPath: down.snapshotPath,
        snapshotProblem: null,
        downSinceUs: down.sinceUs,
        downForMs: Math.round(downForMs),
      },
    );
  }
}

/** A probe transition as a T3 candidate: what the outage and the recovery events share. */
function probeCandidate(
  run: ServiceRun,
  result: ProbeResult,
  severity: Candidate["severity"],
  rule: string,
  summary: string,
  transition: Omit<ProbeFacts, "service" | "healthUrl" | "check">,
): Candidate {
  return {
    tier: "T3",
    severity,
    rule,
    summary,
    process: null,
    pid: null,
    unit: run.config.unit,
    timestampUs: result.timeUs,
    facts: {
      kind: "probe",
      probe: { service: run.name, healthUrl: redactUrl(run.config.healthUrl), check: describeProbeResult(result), ...transition },
    },
    entries: [],
  };
}
