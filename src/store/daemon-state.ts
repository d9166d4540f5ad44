import type { Database } from "bun:sqlite";
import type { SourceName, SourceStats } from "../event.ts";

// The daemon's heartbeat row. `status` runs in another process and can only see the
// database, so the daemon writes what it knows about itself here every few seconds.

export interface DaemonSourceState {
  name: SourceName | null;
  /** Why this source was chosen (or why none could start), in words. */
  reason: string;
  stats: SourceStats;
  /** Journal/kernel time (µs) of the last entry the pipeline processed. */
  lastEntryUs: number | null;
  /** How long after it was written the last entry was processed, µs. */
  lagUs: number | null;
  /** Resume point committed with the events. */
  committed: string | null;
}

export interface DaemonState {
  version: string;
  instance: string;
  source: DaemonSourceState;
  /**
   * The kernel fast path (/dev/kmsg beside the journal) when the journal is the source; null
   * otherwise; absent from older daemons.
   */
  fastPath?: {
    on: boolean;
    reason: string;
    kmsg: SourceStats | null;
    committed: string | null;
    ledger: {
      journalDropped: number;
      journalKept: number;
      journalClaimed: number;
      kmsgSkipped: number;
      journalWaitMs: number;
      journalWaitsTimedOut?: number;
    } | null;
  } | null;
  psi: { someAvg10: number; fullAvg10: number | null } | null;
  /** "off" or the ntfy server/topic alerts go to. */
  notifications: string;
  /** Candidates held in memory while a kernel report is still open. */
  heldCandidates: number;
  /** Monitors running beside the log source (psi, smart, timers, probes); absent from older daemons. */
  monitors?: string[];
  /** The enrichment stage since start; absent from older daemons. */
  enrichment?: { enriched: number; timedOut: number; failed: number; skipped: number; waiting: number };
  /**
   * The ntfy sender since start (null with notifications off); absent from older daemons.
   * updatesInPlace: whether the server echoed the sequence id of the last alert that had one
   * (ntfy 2.16+ updates notifications in place), null until one was sent.
   */
  outbox?: {
    paused: { sinceMs: number; status: number | null; reason: string } | null;
    expired: number;
    refused: number;
    updatesInPlace?: boolean | null;
  } | null;
  /** What the daemon cannot see now (daemon/blindness.ts); absent from older daemons, empty when it sees. */
  blind?: { subject: string; cause: string; fix: string | null; sinceUs: number }[];
}

export interface DaemonRow {
  pid: number;
  startedUs: number;
  heartbeatUs: number;
  stoppedUs: number | null;
  state: DaemonState;
}

export function writeHeartbeat(db: Database, pid: number, startedUs: number, nowUs: number, state: DaemonState): void {
  db.query(
    `INSERT INTO daemon_state (id, pid, started_us, heartbeat_us, stopped_us, state_json) VALUES (1, ?1, ?2, ?3, NULL, ?4)
     ON CONFLICT(id) DO UPDATE SET pid = excluded.pid, started_us = excluded.started_us, heartbeat_us = excluded.heartbeat_us,
                                   stopped_us = NULL, state_json = excluded.state_json`,
  ).run(pid, startedUs, nowUs, JSON.stringify(state));
}

export function markStopped(db: Database, nowUs: number): void {
  db.query("UPDATE daemon_state SET stopped_us = ?1, heartbeat_us = ?1 WHERE id = 1").run(nowUs);
}

/** True when the database has `table` (a read-only open of an older schema may lack it). */
export function hasTable(db: Database, table: string): boolean {
  return db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== null;
}

export function readDaemonRow(db: Database): DaemonRow | null {
  if (!hasTable(db, "daemon_state")) return null;
  const row = db.query("SELECT pid, started_us, heartbeat_us, stopped_us, state_json FROM daemon_state WHERE id = 1").get() as {
    pid: number;
    started_us: number;
    heartbeat_us: number;
    stopped_us: number | null;
    state_json: string;
  } | null;
  if (!row) return null;
  return {
    pid: row.pid,
    startedUs: row.started_us,
    heartbeatUs: row.heartbeat_us,
    stoppedUs: row.stopped_us,
    state: JSON.parse(row.state_json) as DaemonState,
  };
}

/** A heartbeat older than this means the daemon is gone or wedged (it beats every 5 s). */
const STALE_HEARTBEAT_US = 30_000_000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as { code?: string }).code === "EPERM";
  }
}

export type DaemonStatus = "running" | "stopped" | "dead" | "not responding" | "never started";

/** What the heartbeat row says about the daemon, checked against the process table. */
export function daemonStatus(row: DaemonRow | null, nowUs: number): DaemonStatus {
  if (!row) return "never started";
  if (row.stoppedUs !== null) return "stopped";
  const fresh = nowUs - row.heartbeatUs < STALE_HEARTBEAT_US;
  const alive = pidAlive(row.pid);
  if (fresh && alive) return "running";
  return alive ? "not responding" : "dead";
}
