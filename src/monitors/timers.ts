import type { Database } from "bun:sqlite";
import { readFileSync } from "node:fs";
import { sleep } from "../sleep.ts";
import type { Candidate } from "../event.ts";
import { OnceLog, type Log } from "../log.ts";
import { formatElapsed } from "../text/format.ts";
import {
  parseCalendarIntervals,
  parseServiceShow,
  parseTimerList,
  parseTimerShow,
  SERVICE_PROPERTIES,
  TIMER_PROPERTIES,
  type ServiceShow,
  type TimerShow,
} from "../parse/systemd-show.ts";
import { RunError, type Runner } from "../run.ts";
import { systemctlArgv, type Manager } from "../host/systemctl.ts";
import { loadMonitorState, saveMonitorState } from "../store/monitor-state.ts";
import type { Monitor } from "./monitor.ts";

// Stale and failed timers. A timer is the backup, the scrub, the certificate renewal:
// when it stops firing, or its service fails, nothing else says so (`systemctl --failed` shows
// the service until someone resets it; a timer that never fires shows nothing at all).
// Each poll asks the system manager and the user manager the daemon runs under; state per timer
// in monitor_state, so an event is written when a timer *becomes* stale or failed, not every
// poll and not again after a restart of the daemon; a timer that recovers is forgotten.

export interface TimersMonitorOptions {
  /** Timer names to watch; ignored when `all`. */
  watch: string[];
  all: boolean;
  pollIntervalMs: number;
  db: Database;
  runner: Runner;
  log: Log;
  nowUs?: () => number;
  /** When the machine booted (µs); default /proc/stat's btime. */
  bootUs?: () => number | null;
}

export interface TimerState {
  stale: boolean;
  /** What the failure looked like ("exit-code 1/3 @1795394295000000"), so one failed run alerts once. */
  failed: string | null;
}

/** How often a timer fires, µs, and how that was found; null when it does not repeat (OnActiveSec= only). */
export interface TimerInterval {
  us: number;
  how: string;
}

const RUN_TIMEOUT_MS = 5_000;
/** Stale when it has not fired for more than this many intervals: one late run is jitter (RandomizedDelaySec=, a suspended laptop), two missed runs are not. */
export const STALE_FACTOR = 2;
/**
 * How long past its NextElapse a timer may still be about to fire: AccuracySec= defaults to
 * 1 min (systemd.timer(5)), and a loaded machine delays a little more.
 */
export const DUE_GRACE_US = 5 * 60 * 1_000_000;

/** Why a timer is stale, or null. Pure: the timer as systemd shows it, its interval, the clock and the boot time. */
export function timerStaleness(
  timer: Pick<TimerShow, "lastTriggerUs" | "nextElapseUs" | "activeEnterUs">,
  interval: TimerInterval | null,
  nowUs: number,
  bootUs: number | null,
): { sinceUs: number; why: string } | null {
  const last = timer.lastTriggerUs;
  if (interval !== null && last !== null && nowUs - last > STALE_FACTOR * interval.us)
    return { sinceUs: last, why: `has not fired for ${formatElapsed((nowUs - last) / 1000)}` };
  // After a reboot a timer without Persistent= has no last trigger at all; one left stopped
  // never fires again. Counted from the boot, with or without Persistent=, or from the timer's
  // own start when that came later (a timer installed today is not overdue since last week).
  const sinceUs = bootUs === null ? null : Math.max(bootUs, timer.activeEnterUs ?? bootUs);
  const firedSince = last !== null && sinceUs !== null && last >= sinceUs;
  if (interval !== null && sinceUs !== null && !firedSince && nowUs - sinceUs > STALE_FACTOR * interval.us) {
    const what = sinceUs === bootUs ? "the machine booted" : "it was started";
    return { sinceUs, why: `has not fired since ${what} ${formatElapsed((nowUs - sinceUs) / 1000)} ago` };
  }
  const next = timer.nextElapseUs;
  if (next !== null && nowUs - next > DUE_GRACE_US && (last === null || last < next))
    return { sinceUs: next, why: `was due ${formatElapsed((nowUs - next) / 1000)} ago and did not fire` };
  return null;
}

/** The boot time (µs since the epoch) from /proc/stat's btime; null where there is none. */
export function readBootUs(procRoot = "/proc"): number | null {
  try {
    const btime = /^btime (\d+)$/m.exec(readFileSync(`${procRoot}/stat`, "utf8"))?.[1];
    return btime === undefined ? null : Number(btime) * 1_000_000;
  } catch {
    // No /proc: no boot time to count from.
    return null;
  }
}

export function timerStateKey(manager: Manager, timer: string): string {
  return `timer:${manager}:${timer}`;
}

/** "exit 3", "killed by SIGKILL", "timeout"; the words for a service's last run. */
export function describeServiceFailure(service: ServiceShow): string {
  if (service.execMainCode === 1 && service.execMainStatus !== null && service.execMainStatus !== 0)
    return `exit ${service.execMainStatus}`;
  if ((service.execMainCode === 2 || service.execMainCode === 3) && service.execMainStatus !== null)
    return `killed by signal ${service.execMainStatus}${service.execMainCode === 3 ? ", core dumped" : ""}`;
  return service.result;
}

export function staleCandidate(timer: string, stale: { sinceUs: number; why: string }, interval: TimerInterval, nowUs: number): Candidate {
  return {
    tier: "T3",
    severity: "medium",
    rule: "timer-stale",
    summary: `Timer stale: ${timer} ${stale.why} (interval ${formatElapsed(interval.us / 1000)}, ${interval.how})`,
    process: null,
    pid: null,
    unit: timer,
    timestampUs: nowUs,
    // Not a unit's failure (nothing failed: it did not run), so no unit facts; the summary says it all.
    facts: { kind: "plain" },
    entries: [],
  };
}

export function failedCandidate(timer: string, service: ServiceShow, nowUs: number): Candidate {
  const exitCode =
    service.execMainCode === 1 ? "exited" : service.execMainCode === 2 ? "killed" : service.execMainCode === 3 ? "dumped" : null;
  return {
    tier: "T3",
    severity: "medium",
    rule: "timer-failed",
    summary: `Timer failed: ${timer} — ${service.id} failed on its last run (${describeServiceFailure(service)})`,
    process: null,
    pid: null,
    unit: timer,
    // When the service failed, so the unit enricher's last lines end there (to the µs: --timestamp=us+utc;
    // whole seconds would cut off the lines of the service's last second).
    timestampUs: service.inactiveEnterUs ?? nowUs,
    facts: {
      kind: "unit",
      unit: service.id,
      result: service.result,
      exitCode,
      exitStatus: service.execMainStatus === null ? null : String(service.execMainStatus),
      restartCount: null,
    },
    entries: [],
  };
}

export class TimersMonitor implements Monitor {
  readonly name = "timers";
  private readonly options: TimersMonitorOptions;
  private readonly nowUs: () => number;
  private readonly once: OnceLog;
  /** Interval of each OnCalendar= spec: asked of systemd-analyze once per spec per run of the daemon. */
  private readonly calendarIntervals = new Map<string, number | null>();

  constructor(options: TimersMonitorOptions) {
    this.options = options;
    this.once = new OnceLog(options.log);
    this.nowUs = options.nowUs ?? (() => Date.now() * 1000);
  }

  async run(signal: AbortSignal, emit: (candidate: Candidate) => void): Promise<void> {
    while (!signal.aborted) {
      try {
        for (const c of await this.pollOnce(signal)) emit(c);
      } catch (error) {
        // A bug or a database error in one poll must not end timer monitoring; the next poll tries again.
        this.options.log.warn(`timer poll failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      await sleep(this.options.pollIntervalMs, signal);
    }
  }

  /** stdout of a systemctl / systemd-analyze run; null when the tool or the manager cannot be reached (said once). */
  private async ask(argv: string[], what: string, signal: AbortSignal): Promise<string | null> {
    try {
      const result = await this.options.runner.run(argv, { timeoutMs: RUN_TIMEOUT_MS, signal });
      if (result.exitCode === 0) return result.stdout;
      this.once.tell(
        `unreachable:${what}`,
        "info",
        `${what} cannot be asked about timers (${(result.stderr || result.stdout).trim().slice(0, 200) || `exit ${result.exitCode}`}); its timers are not watched`,
      );
      return null;
    } catch (error) {
      if (error instanceof RunError) {
        // The tool is the first word after env's assignments.
        const tool = argv.find((a, i) => i > 0 && !a.includes("=")) ?? argv[0];
        this.once.tell(
          `missing:${tool}`,
          "warn",
          `timers are not watched: ${error.message}; install systemd, or remove [timers] from the config`,
        );
        return null;
      }
      throw error;
    }
  }

  /** The timers to read on one manager; null when it is not reachable. */
  private async timersOf(manager: Manager, signal: AbortSignal): Promise<string[] | null> {
    if (!this.options.all) return this.options.watch;
    const listed = await this.ask(
      systemctlArgv(manager, "list-units", "--type=timer", "--all", "--plain", "--no-legend", "--no-pager"),
      `the ${manager} manager`,
      signal,
    );
    return listed === null ? null : parseTimerList(listed);
  }

  /**
   * The interval: a monotonic OnUnitActiveSec= / OnUnitInactiveSec= is the interval itself; an
   * OnCalendar= spec's is the gap between its next two elapses (systemd-analyze calendar
   * --iterations=2), which is right for "daily" and "weekly" and for the shortest gap of uneven
   * specs ("Mon,Fri") errs towards the shorter interval. With several settings the longest wins,
   * so a timer is only called stale when every one of its schedules is overdue.
   */
  async intervalOf(timer: TimerShow, signal: AbortSignal): Promise<TimerInterval | null> {
    let best: TimerInterval | null = null;
    for (const us of timer.repeatUs) if (!best || us > best.us) best = { us, how: "OnUnitActiveSec/OnUnitInactiveSec" };
    const unknown = timer.calendars.filter((s) => !this.calendarIntervals.has(s));
    if (unknown.length) {
      const out = await this.ask(
        ["env", "TZ=UTC", "systemd-analyze", "calendar", "--iterations=2", "--", ...unknown],
        "systemd-analyze calendar",
        signal,
      );
      const intervals = out === null ? [] : parseCalendarIntervals(out);
      unknown.forEach((spec, i) => this.calendarIntervals.set(spec, intervals[i] ?? null));
    }
    for (const spec of timer.calendars) {
      const us = this.calendarIntervals.get(spec) ?? null;
      if (us !== null && (!best || us > best.us)) best = { us, how: `OnCalendar=${spec}` };
    }
    return best;
  }

  /** One poll of both managers. Never throws for what systemd says. */
  async pollOnce(signal: AbortSignal): Promise<Candidate[]> {
    const candidates: Candidate[] = [];
    const found = new Set<string>();
    let reachable = 0;
    for (const manager of ["system", "user"] as const) {
      const names = await this.timersOf(manager, signal);
      if (names === null || names.length === 0) {
        if (names !== null) reachable++;
        continue;
      }
      const shown = await this.ask(
        systemctlArgv(manager, "show", "--timestamp=us+utc", `--property=${TIMER_PROPERTIES.join(",")}`, "--", ...names),
        `the ${manager} manager`,
        signal,
      );
      if (shown === null) continue;
      reachable++;
      const timers = parseTimerShow(shown).filter((t) => t.loaded && t.unit !== "");
      if (timers.length === 0) continue;
      const services = await this.ask(
        systemctlArgv(
          manager,
          "show",
          "--timestamp=us+utc",
          `--property=${SERVICE_PROPERTIES.join(",")}`,
          "--",
          ...timers.map((t) => t.unit),
        ),
        `the ${manager} manager`,
        signal,
      );
      const byId = new Map((services === null ? [] : parseServiceShow(services)).map((s) => [s.id, s]));
      for (const timer of timers) {
        found.add(timer.id);
        candidates.push(...(await this.check(manager, timer, byId.get(timer.unit) ?? null, signal)));
      }
    }
    if (reachable > 0 && !this.options.all) {
      for (const name of this.options.watch) {
        if (!found.has(name))
          this.once.tell(
            `unknown:${name}`,
            "warn",
            `[timers] watch names ${name}, which neither the system nor the user manager knows; check the name (systemctl list-timers --all)`,
          );
      }
    }
    return candidates;
  }

  private async check(manager: Manager, timer: TimerShow, service: ServiceShow | null, signal: AbortSignal): Promise<Candidate[]> {
    const key = timerStateKey(manager, timer.id);
    const before = loadMonitorState<TimerState>(this.options.db, key) ?? { stale: false, failed: null };
    const nowUs = this.nowUs();
    const out: Candidate[] = [];

    const interval = await this.intervalOf(timer, signal);
    const staleness = timerStaleness(timer, interval, nowUs, (this.options.bootUs ?? readBootUs)());
    const stale = staleness !== null;
    if (staleness && !before.stale && interval) out.push(staleCandidate(timer.id, staleness, interval, nowUs));

    const failedNow = service !== null && service.result !== "" && service.result !== "success";
    const signature =
      failedNow && service ? `${service.result} ${service.execMainCode}/${service.execMainStatus} @${service.inactiveEnterUs ?? ""}` : null;
    if (signature !== null && before.failed === null && service) out.push(failedCandidate(timer.id, service, nowUs));

    const after: TimerState = { stale, failed: signature === null ? null : (before.failed ?? signature) };
    if (after.stale !== before.stale || after.failed !== before.failed) saveMonitorState(this.options.db, key, after, nowUs);
    return out;
  }
}
