import type { Entry } from "../event.ts";
import { RESTART_LOOP_WINDOW_US, type UnitHistory } from "./rule-spec.ts";
import { MESSAGE_ID } from "./systemd-ids.ts";

// Per-unit memory of restarts and failures, for the restart-loop and mass-restart rules. Times are the
// entries' own (journal time), so replaying old logs sees the loops they had. Bounded: the
// last few timestamps per unit, for the most recently seen units.

const MAX_UNITS = 512;
const MAX_TIMES_PER_UNIT = 32;

export class UnitHistoryMemory implements UnitHistory {
  private readonly restarts = new Map<string, number[]>();
  private readonly starts = new Map<string, number[]>();
  private readonly restartJobs = new Map<string, number[]>();
  private readonly failures = new Map<string, number>();
  /** The time of the entry being classified: "now" for the window queries. */
  private nowUs = 0;

  /** Note what `entry` says about its unit; call before the rules look at it. */
  observe(entry: Entry, fallbackTimeUs: number): void {
    this.nowUs = entry.realtimeUs ?? fallbackTimeUs;
    const unit = entry.unit;
    if (!unit) return;
    if (entry.messageId === MESSAGE_ID.unitRestartScheduled) {
      this.note(this.restarts, unit);
    } else if (entry.messageId === MESSAGE_ID.unitStarted && entry.fields["JOB_RESULT"] === "done") {
      this.note(this.starts, unit);
    } else if (
      entry.messageId === MESSAGE_ID.unitStopped &&
      entry.fields["JOB_TYPE"] === "restart" &&
      entry.fields["JOB_RESULT"] === "done"
    ) {
      this.note(this.restartJobs, unit);
    } else if (entry.messageId === MESSAGE_ID.unitFailureResult) {
      remember(this.failures, unit, this.nowUs);
    }
  }

  private note(map: Map<string, number[]>, unit: string): void {
    const times = (map.get(unit) ?? []).filter((t) => t >= this.nowUs - RESTART_LOOP_WINDOW_US);
    times.push(this.nowUs);
    remember(map, unit, times.slice(-MAX_TIMES_PER_UNIT));
  }

  startsWithin(unit: string, windowUs: number): number {
    return (this.starts.get(unit) ?? []).filter((t) => t >= this.nowUs - windowUs).length;
  }

  restartsWithin(unit: string, windowUs: number): number {
    return (this.restarts.get(unit) ?? []).filter((t) => t >= this.nowUs - windowUs).length;
  }

  restartJobsWithin(unit: string, windowUs: number): number {
    return (this.restartJobs.get(unit) ?? []).filter((t) => t >= this.nowUs - windowUs).length;
  }

  unitsRestartedWithin(windowUs: number): string[] {
    const since = this.nowUs - windowUs;
    const firsts: [string, number][] = [];
    for (const [unit, times] of this.restartJobs) {
      const first = times.find((t) => t >= since);
      if (first !== undefined) firsts.push([unit, first]);
    }
    return firsts.sort((a, b) => a[1] - b[1]).map(([unit]) => unit);
  }

  failedWithin(unit: string, windowUs: number): boolean {
    const at = this.failures.get(unit);
    return at !== undefined && at >= this.nowUs - windowUs;
  }
}

/** Map insertion order as recency: re-inserting moves a unit to the end; the oldest goes first. */
function remember<V>(map: Map<string, V>, unit: string, value: V): void {
  map.delete(unit);
  map.set(unit, value);
  if (map.size > MAX_UNITS) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}
