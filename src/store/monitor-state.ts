import type { Database } from "bun:sqlite";

// What a monitor last saw (a disk's SMART summary, a timer's last run), by key. Monitors report
// changes, not states: this is how "changed" survives a restart of the daemon.

export function loadMonitorState<T>(db: Database, key: string): T | null {
  const row = db.query("SELECT value_json FROM monitor_state WHERE key = ?").get(key) as { value_json: string } | null;
  return row ? (JSON.parse(row.value_json) as T) : null;
}

export function saveMonitorState(db: Database, key: string, value: unknown, nowUs: number): void {
  db.query(
    "INSERT INTO monitor_state (key, value_json, updated_us) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO UPDATE SET value_json = ?2, updated_us = ?3",
  ).run(key, JSON.stringify(value), nowUs);
}

/** All states whose key starts with `prefix` (e.g. "smart:"), by key. */
export function loadMonitorStates<T>(db: Database, prefix: string): Map<string, T> {
  const rows = db.query("SELECT key, value_json FROM monitor_state WHERE substr(key, 1, ?1) = ?2").all(prefix.length, prefix) as {
    key: string;
    value_json: string;
  }[];
  return new Map(rows.map((r) => [r.key, JSON.parse(r.value_json) as T]));
}
