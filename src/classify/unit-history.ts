import type { Entry } from "../event.ts";
import { RESTART_LOOP_WINDOW_US, type UnitHistory } from "./rule-spec.ts";
import { MESSAGE_ID } from "./systemd-ids.ts";

// Per-unit memory of restarts and failures, for the restart-loop and mass-restart rules. Times are the
// entries' own (journal time), so replaying old logs sees the loops they had. Bounded: the
// last few timestamps per unit, for the most recently seen units.

const MAX_UNITS = 512;
const MAX_TIMES_PER_UNIT = 32;

/** A unit started again by a start job of its own, not by Restart=: what may end its incident. */
export interface UnitStart {
  unit: string;
  /** The "Started" entry's journal time, µs. */
  atUs: number;
}

/**
 * A start job that finished: "Started X." (systemd 219), "Started X - Description." (252), a
 * oneshot's "Finished X." (246+), all under the one MESSAGE_ID, which systemd writes only for
 * a start job done (src/core/job.c). The result is in JOB_RESULT= since systemd 236 and RESULT=
 * before; either says "done" or is absent.
 */
export function startJobDone(entry: Entry): boolean {
  if (entry.messageId !== MESSAGE_ID.unitStarted) return false;
  const result = entry.fields["JOB_RESULT"] ?? entry.fields["RESULT"] ?? "done";
  return result === "done";
}

export class UnitHistoryMemory implements UnitHistory {
  private readonly restarts = new Map<string, number[]>();
  private readonly starts = new Map<string, number[]>();
  private readonly restartJobs = new Map<string, number[]>();
  private readonly failures = new Map<string, number>();
  /** Units with a "Scheduled restart job" not yet followed by its start (or its failure to start). */
  private readonly restartPending = new Map<string, true>();
  /** The time of the entry being classified: "now" for the window queries. */
  private nowUs = 0;

  /**
   * Note what `entry` says about its unit; call before the rules look at it. Returns the start
   * when `entry` is a start job done that Restart= did not schedule: systemd's own restarts
   * (after a "Scheduled restart job") are part of a failure, not its end.
   */
  observe(entry: Entry, fallbackTimeUs: number): UnitStart | null {
    this.nowUs = entry.realtimeUs ?? fallbackTimeUs;
    const unit = entry.unit;
    if (!unit) return null;
    if (entry.messageId === MESSAGE_ID.unitRestartScheduled) {
      this.note(this.restarts, unit);
      remember(this.restartPending, unit, true);
    } else if (startJobDone(entry)) {
      this.note(this.starts, unit);
      const scheduled = this.restartPending.delete(unit);
      return scheduled ? null : { unit, atUs: this.nowUs };
    } else if (
      entry.messageId === MESSAGE_ID.unitStartFailed ||
      (entry.messageId === MESSAGE_ID.unitStopped && entry.fields["JOB_TYPE"] === "stop")
    ) {
      // The scheduled restart failed to start (its start limit hit) or was stopped: the next
      // start is someone else's.
      this.restartPending.delete(unit);
    } else if (
      entry.messageId === MESSAGE_ID.unitStopped &&
      entry.fields["JOB_TYPE"] === "restart" &&
      entry.fields["JOB_RESULT"] === "done"
    ) {
      this.note(this.restartJobs, unit);
    } else if (entry.messageId === MESSAGE_ID.unitFailureResult) {
      remember(this.failures, unit, this.nowUs);
    }
    return null;
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
