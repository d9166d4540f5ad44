import type { Log } from "../log.ts";
import { systemctlArgv, type Manager } from "../host/systemctl.ts";
import type { Runner } from "../run.ts";
import type { MetricFamily, Sample } from "./exposition.ts";
import { parseSystemctlShow, SHOW_PROPERTIES, type UnitShow } from "../parse/systemd-show.ts";

// systemd unit metrics for the `[metrics] units` allowlist: the units someone chose to watch,
// not every unit on the machine (hundreds of series nobody reads). A unit may belong to the system manager or to the
// user manager the daemon runs under, so each scrape asks both, in one `systemctl show` per
// manager for all units, and keeps the answer a few seconds: a scraper polling every second
// costs at most two short-lived systemctl children per CACHE_MS (every spawn costs a
// long-running Bun process memory it is slow to give back, so spawns are kept bounded).

export interface UnitReading {
  manager: Manager;
  show: UnitShow;
}

const CACHE_MS = 5_000;
const SHOW_TIMEOUT_MS = 3_000;

/** systemctl's argv for one manager. */
export function showArgv(manager: Manager, units: readonly string[]): string[] {
  return systemctlArgv(manager, "show", "--timestamp=unix", `--property=${SHOW_PROPERTIES.join(",")}`, "--", ...units);
}

/** Each unit's reading from the manager that has it loaded (system first); units neither loads are absent. */
export function pickLoaded(
  units: readonly string[],
  system: ReadonlyMap<string, UnitShow>,
  user: ReadonlyMap<string, UnitShow>,
): Map<string, UnitReading> {
  const out = new Map<string, UnitReading>();
  for (const unit of units) {
    const s = system.get(unit);
    const u = user.get(unit);
    if (s && s.loadState !== "not-found") out.set(unit, { manager: "system", show: s });
    else if (u && u.loadState !== "not-found") out.set(unit, { manager: "user", show: u });
  }
  return out;
}

function isActive(show: UnitShow): boolean {
  return show.activeState === "active" || show.activeState === "reloading";
}

/**
 * Seconds since the unit last did its work: for a timer, since it last fired (so a timer that
 * stops firing grows without bound: the stale-timer alert); for other units 0 while active,
 * else since they last went inactive or failed. Null when there is nothing to count from.
 */
export function secondsSinceActive(show: UnitShow, nowUs: number): number | null {
  if (show.id.endsWith(".timer")) return show.lastTriggerUs === null ? null : Math.max(0, (nowUs - show.lastTriggerUs) / 1e6);
  if (isActive(show)) return 0;
  return show.inactiveEnterUs === null ? null : Math.max(0, (nowUs - show.inactiveEnterUs) / 1e6);
}

const UNIT_STATES = ["active", "reloading", "inactive", "failed", "activating", "deactivating"] as const;

/** The families for the units read; pure. */
export function unitFamilies(readings: ReadonlyMap<string, UnitReading>, nowUs: number): MetricFamily[] {
  const active: Sample[] = [];
  const restarts: Sample[] = [];
  const exitStatus: Sample[] = [];
  const sinceActive: Sample[] = [];
  const state: Sample[] = [];
  const serviceRestarts: Sample[] = [];
  const lastTrigger: Sample[] = [];
  for (const [unit, { show }] of readings) {
    active.push({ labels: { unit, sub_state: show.subState }, value: isActive(show) ? 1 : 0 });
    if (show.nRestarts !== null) {
      restarts.push({ labels: { unit }, value: show.nRestarts });
      serviceRestarts.push({ labels: { name: unit }, value: show.nRestarts });
    }
    // ExecMainCode 0: the main process never ran, so its status means nothing yet.
    if (show.execMainStatus !== null && show.execMainCode !== null && show.execMainCode !== 0)
      exitStatus.push({ labels: { unit }, value: show.execMainStatus });
    const since = secondsSinceActive(show, nowUs);
    if (since !== null) sinceActive.push({ labels: { unit }, value: since });
    const type = unit.slice(unit.lastIndexOf(".") + 1);
    for (const s of UNIT_STATES) state.push({ labels: { name: unit, state: s, type }, value: show.activeState === s ? 1 : 0 });
    if (show.lastTriggerUs !== null) lastTrigger.push({ labels: { name: unit }, value: show.lastTriggerUs / 1e6 });
  }
  return [
    {
      name: "systemd_unit_active",
      type: "gauge",
      help: "1 while the unit is active (or reloading), else 0; sub_state is systemd's SubState (running, auto-restart, dead, waiting, ...).",
      samples: active,
    },
    {
      name: "systemd_unit_restart_count_total",
      type: "counter",
      help: "Restarts systemd scheduled for the service (NRestarts, Restart=); reset when the unit is reloaded. Restarts by an external `systemctl restart` are not counted.",
      samples: restarts,
    },
    {
      name: "systemd_unit_last_exit_status",
      type: "gauge",
      help: "The main process's last exit status (ExecMainStatus): the exit code, or the signal number when it was killed.",
      samples: exitStatus,
    },
    {
      name: "systemd_unit_seconds_since_active",
      type: "gauge",
      help: "Timers: seconds since the timer last fired. Other units: 0 while active, else seconds since the unit last went inactive or failed.",
      samples: sinceActive,
    },
    // The names systemd_exporter uses, so dashboards built on it keep working.
    {
      name: "systemd_unit_state",
      type: "gauge",
      help: "The unit's ActiveState, one series per state, 1 for the current one (as systemd_exporter).",
      samples: state,
    },
    {
      name: "systemd_service_restart_total",
      type: "counter",
      help: "NRestarts, as systemd_exporter names it (same value as systemd_unit_restart_count_total).",
      samples: serviceRestarts,
    },
    {
      name: "systemd_timer_last_trigger_seconds",
      type: "gauge",
      help: "When the timer last fired, seconds since the epoch (as systemd_exporter).",
      samples: lastTrigger,
    },
  ];
}

export interface UnitReaderOptions {
  units: readonly string[];
  runner: Runner;
  log: Log;
  cacheMs?: number;
}

/** Reads the allowlisted units through systemctl, at most once per cacheMs however often it is asked. */
export class UnitReader {
  private readonly options: UnitReaderOptions;
  private cached: { atMs: number; readings: Promise<Map<string, UnitReading>> } | null = null;
  private readonly managerProblem = new Map<Manager, string | null>();
  private readonly reportedMissing = new Set<string>();
  /** systemctl runs so far (the bench and tests read it). */
  runs = 0;

  constructor(options: UnitReaderOptions) {
    this.options = options;
  }

  read(nowMs = Date.now()): Promise<Map<string, UnitReading>> {
    if (this.options.units.length === 0) return Promise.resolve(new Map());
    // A scrape that arrives while the previous read is still running shares it.
    if (this.cached && nowMs - this.cached.atMs < (this.options.cacheMs ?? CACHE_MS)) return this.cached.readings;
    const readings = this.readNow();
    this.cached = { atMs: nowMs, readings };
    return readings;
  }

  private async readNow(): Promise<Map<string, UnitReading>> {
    const [system, user] = await Promise.all([this.show("system"), this.show("user")]);
    const readings = pickLoaded(this.options.units, system, user);
    for (const unit of this.options.units) {
      if (readings.has(unit) || this.reportedMissing.has(unit)) continue;
      this.reportedMissing.add(unit);
      this.options.log.info(`[metrics] units: ${unit} is loaded by neither the system nor the user manager; it has no metrics until it is`);
    }
    for (const unit of readings.keys()) this.reportedMissing.delete(unit);
    return readings;
  }

  private async show(manager: Manager): Promise<Map<string, UnitShow>> {
    this.runs++;
    let problem: string | null = null;
    let shows = new Map<string, UnitShow>();
    try {
      const r = await this.options.runner.run(showArgv(manager, this.options.units), {
        timeoutMs: SHOW_TIMEOUT_MS,
        maxOutputBytes: 256 * 1024,
      });
      if (r.timedOut) problem = `systemctl${manager === "user" ? " --user" : ""} show did not answer within ${SHOW_TIMEOUT_MS / 1000} s`;
      else if (r.exitCode !== 0)
        problem = `systemctl${manager === "user" ? " --user" : ""} show failed: ${r.stderr.trim().split("\n")[0] || `exit ${r.exitCode}`}`;
      else shows = parseSystemctlShow(r.stdout, this.options.units);
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
    // Said once per change: a machine without a user manager (a system service) is normal,
    // so this is debug, and a scrape every second must not repeat it.
    if (problem !== (this.managerProblem.get(manager) ?? null)) {
      if (problem) this.options.log.debug(`unit metrics from the ${manager} manager unavailable: ${problem}`);
      else if (this.managerProblem.has(manager)) this.options.log.debug(`unit metrics from the ${manager} manager available again`);
    }
    this.managerProblem.set(manager, problem);
    return shows;
  }
}
