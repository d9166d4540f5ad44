import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ProcessSample } from "../host/memory-history.ts";
import type { SystemReading } from "../host/system-history.ts";

// Failure snapshots: at the moment a health probe turns a service
// unhealthy, what the machine looked like just before — system readings, PSI, the largest
// processes, the unit's last journal lines — written as one JSON file per failure, so the
// transient state that caused it is still there when someone looks the next morning.
//
// Layout: <data dir>/snapshots/<service>/<timestamp>.json, beside the database, so the
// default is ~/.local/share/logtriage/snapshots/ and a test's temp database keeps its
// snapshots in its temp dir. A file is written to a temp name and renamed, so a reader (the
// HTTP API, `logtriage show`) sees a whole snapshot or none.

export const SNAPSHOTS_KEPT_PER_SERVICE = 50;

export interface SnapshotJournalLine {
  timeUs: number | null;
  priority: number | null;
  identifier: string | null;
  pid: number | null;
  message: string;
}

export type ProbeOutcome = "ok" | "status" | "timeout" | "refused" | "dns" | "tls" | "reset" | "other";

/** What one check of a probed service found (monitors/probes.ts). `outcome` names the kind of failure; `error` says it in words. */
export interface ProbeResult {
  timeUs: number;
  outcome: ProbeOutcome;
  /** The HTTP status received; null when no response came. */
  status: number | null;
  expectedStatus: number;
  latencyMs: number;
  /** The failure in words ("connection refused", "TLS error: self-signed certificate"); null when ok. */
  error: string | null;
}

export interface FailureSnapshot {
  /** Bumped when a field changes meaning; readers refuse what they do not know. */
  version: 1;
  service: string;
  healthUrl: string;
  unit: string | null;
  /** The transition to unhealthy: the time of the check that made it N in a row. */
  timeUs: number;
  /** That check's result, then the failed checks before it in this run, oldest first. */
  check: ProbeResult;
  failedChecks: ProbeResult[];
  /** One line, as in the alert: "RAM: 94% | disk: 87% | load: 4.2". */
  summary: string;
  /** The last system readings before the failure, oldest first (host/system-history.ts). */
  readings: SystemReading[];
  /** Memory PSI of the last minutes, oldest first; empty where the PSI monitor is off or PSI absent. */
  psi: { timeUs: number; someAvg10: number; fullAvg10: number | null }[];
  /** The largest processes by RSS at the latest PSI reading that listed them. */
  topConsumers: ProcessSample[];
  topConsumersTimeUs: number | null;
  /** The unit's journal of the last 10 minutes (at most 100 lines), oldest first; null when it could not be read. */
  journal: { unit: string; scope: "system" | "user"; lines: SnapshotJournalLine[] } | null;
  /** What could not be gathered, in words ("no unit configured for this service: no journal lines"). */
  missing: string[];
}

/** Where snapshots live for a database path: beside it. */
export function snapshotsDir(dbPath: string): string {
  return join(dirname(dbPath), "snapshots");
}

// A service name as config accepts it (config/schema.ts SERVICE_NAME); checked again here
// because the HTTP API passes names from URLs.
const SERVICE_NAME = /^[A-Za-z0-9_-]+$/;
// 2026-02-18T03-12-45.123Z: ISO 8601 with ':' made '-' (legal in every file system and URL);
// fixed width, so names sort by time.
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z$/;
const SNAPSHOT_FILE = /^(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z)\.json$/;

export function snapshotTimestamp(timeUs: number): string {
  return new Date(Math.floor(timeUs / 1000)).toISOString().replaceAll(":", "-");
}

/** The time a snapshot name stands for, µs since the epoch; null for a name that is not one. */
export function timestampToUs(timestamp: string): number | null {
  if (!TIMESTAMP.test(timestamp)) return null;
  const iso = `${timestamp.slice(0, 10)}T${timestamp.slice(11, 19).replaceAll("-", ":")}${timestamp.slice(19)}`;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : ms * 1000;
}

export function isServiceName(name: string): boolean {
  return SERVICE_NAME.test(name);
}

/**
 * Writes the snapshot atomically, then keeps only the newest `keep` of the service. Returns the
 * file's path. Throws on a file-system error (full disk, no permission): the caller reports it.
 */
export function writeSnapshot(dir: string, service: string, snapshot: FailureSnapshot, keep = SNAPSHOTS_KEPT_PER_SERVICE): string {
  if (!isServiceName(service)) throw new Error(`not a service name: ${JSON.stringify(service)}`);
  const serviceDir = join(dir, service);
  mkdirSync(serviceDir, { recursive: true, mode: 0o700 });
  // Two failures in one millisecond (a restart racing a check) must not overwrite each other.
  let timeMs = Math.floor(snapshot.timeUs / 1000);
  let path = join(serviceDir, `${snapshotTimestamp(timeMs * 1000)}.json`);
  while (existsSync(path)) {
    timeMs++;
    path = join(serviceDir, `${snapshotTimestamp(timeMs * 1000)}.json`);
  }
  // The temp name starts with '.' and does not match SNAPSHOT_FILE: listings never show it.
  const temp = join(serviceDir, `.${process.pid}.${timeMs}.json.tmp`);
  try {
    writeFileSync(temp, JSON.stringify(snapshot, null, 2) + "\n", { mode: 0o600 });
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  trimSnapshots(dir, service, keep);
  return path;
}

function snapshotNames(dir: string, service: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(dir, service));
  } catch (error) {
    // No failure yet for this service: no directory, no snapshots.
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  return names.filter((n) => SNAPSHOT_FILE.test(n)).sort();
}

/** Deletes all but the newest `keep` snapshots of a service; returns how many went. */
export function trimSnapshots(dir: string, service: string, keep = SNAPSHOTS_KEPT_PER_SERVICE): number {
  const names = snapshotNames(dir, service);
  const surplus = names.slice(0, Math.max(0, names.length - keep));
  for (const name of surplus) rmSync(join(dir, service, name), { force: true });
  return surplus.length;
}

/** The service's snapshot timestamps, newest first, at most `limit`. */
export function listSnapshots(dir: string, service: string, limit = SNAPSHOTS_KEPT_PER_SERVICE): string[] {
  if (!isServiceName(service)) return [];
  return snapshotNames(dir, service)
    .reverse()
    .slice(0, limit)
    .map((n) => n.slice(0, -".json".length));
}

/** Services that have snapshots, by name. */
export function listSnapshotServices(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => isServiceName(n) && snapshotNames(dir, n).length > 0)
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

export function snapshotPath(dir: string, service: string, timestamp: string): string | null {
  if (!isServiceName(service) || !TIMESTAMP.test(timestamp)) return null;
  return join(dir, service, `${timestamp}.json`);
}

/**
 * One snapshot, or null when there is none by that name (or the name is not a snapshot's: the
 * HTTP API passes names from URLs, so nothing outside the service's directory is ever read).
 * Throws when the file exists but is not a snapshot this version reads.
 */
export function readSnapshot(dir: string, service: string, timestamp: string): FailureSnapshot | null {
  const path = snapshotPath(dir, service, timestamp);
  if (!path) return null;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  return parseSnapshot(text, path);
}

/** A snapshot file's text → the snapshot; throws naming the file when it is not one. */
export function parseSnapshot(text: string, path: string): FailureSnapshot {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not JSON: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const v = value as Partial<FailureSnapshot> | null;
  if (
    !v ||
    typeof v !== "object" ||
    v.version !== 1 ||
    typeof v.service !== "string" ||
    typeof v.timeUs !== "number" ||
    !Array.isArray(v.readings)
  ) {
    throw new Error(`${path} is not a logtriage failure snapshot (version 1)`);
  }
  return v as FailureSnapshot;
}

/** The newest snapshot of a service with its timestamp, or null when it has none. */
export function readLatestSnapshot(dir: string, service: string): { timestamp: string; snapshot: FailureSnapshot } | null {
  const [timestamp] = listSnapshots(dir, service, 1);
  if (!timestamp) return null;
  const snapshot = readSnapshot(dir, service, timestamp);
  return snapshot ? { timestamp, snapshot } : null;
}
