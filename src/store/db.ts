import { Database } from "bun:sqlite";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { StoreError } from "./errors.ts";
import { explainSqliteError, rememberOpenedDatabase } from "./sqlite-errors.ts";

export { StoreError };

// One SQLite file per instance (WAL mode, so the CLI can read while the daemon writes).
// Schema changes are numbered migrations tracked in PRAGMA user_version; a database from a
// newer logtriage is refused rather than "upgraded" into something it cannot read.

const MIGRATIONS: readonly string[] = [
  // 1: the events table, with integer microsecond timestamps (range scans on an
  // index are what `query --last 7d` does) and what cooldown and `show` need.
  `CREATE TABLE events (
     id           TEXT PRIMARY KEY,
     instance_id  TEXT NOT NULL,
     timestamp    INTEGER NOT NULL,
     last_seen    INTEGER NOT NULL,
     tier         TEXT NOT NULL,
     severity     TEXT NOT NULL,
     rule         TEXT NOT NULL,
     summary      TEXT NOT NULL,
     process      TEXT,
     pid          INTEGER,
     unit         TEXT,
     detail       TEXT NOT NULL DEFAULT '',
     facts_json   TEXT NOT NULL,
     raw_json     TEXT NOT NULL,
     lines_json   TEXT NOT NULL,
     cursors_json TEXT NOT NULL,
     dedup_key    TEXT NOT NULL,
     occurrences  INTEGER NOT NULL DEFAULT 1,
     aggregated   INTEGER NOT NULL DEFAULT 0,
     notified     INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX idx_events_instance_ts ON events(instance_id, timestamp);
   CREATE INDEX idx_events_tier ON events(tier, timestamp);
   CREATE INDEX idx_events_dedup ON events(instance_id, tier, process, unit);
   CREATE INDEX idx_events_cooldown ON events(instance_id, dedup_key, last_seen);
   CREATE INDEX idx_events_ts ON events(timestamp);
   CREATE TABLE source_cursors (
     source     TEXT PRIMARY KEY,
     cursor     TEXT NOT NULL,
     updated_us INTEGER NOT NULL
   );`,
  // 2: the daemon. The ntfy outbox is written in the event's transaction and drained in id
  // order by the sender; daemon_state is one row the daemon keeps fresh (heartbeat) so that
  // `status` can tell a running daemon from a dead one and show its source's health.
  `CREATE TABLE outbox (
     id              INTEGER PRIMARY KEY AUTOINCREMENT,
     event_id        TEXT NOT NULL,
     created_us      INTEGER NOT NULL,
     notification    TEXT NOT NULL,
     state           TEXT NOT NULL DEFAULT 'pending',
     attempts        INTEGER NOT NULL DEFAULT 0,
     last_error      TEXT,
     done_us         INTEGER
   );
   CREATE INDEX idx_outbox_state ON outbox(state, id);
   CREATE TABLE daemon_state (
     id           INTEGER PRIMARY KEY CHECK (id = 1),
     pid          INTEGER NOT NULL,
     started_us   INTEGER NOT NULL,
     heartbeat_us INTEGER NOT NULL,
     stopped_us   INTEGER,
     state_json   TEXT NOT NULL
   );`,
  // 3: root causes. An event's enrichment (the OOM hog, a backtrace, a unit's last lines) is
  // written after the event, by enrich/stage.ts, with the evidence behind it; monitors (SMART,
  // timers) keep what they last saw, so a restart does not re-announce an unchanged state.
  `ALTER TABLE events ADD COLUMN enrichment_json TEXT;
   CREATE TABLE monitor_state (
     key        TEXT PRIMARY KEY,
     value_json TEXT NOT NULL,
     updated_us INTEGER NOT NULL
   );`,
  // 4: one crash, one incident. The kernel's segfault line, the coredump entry and the unit's
  // abnormal exit are three lines about one crash; incident_json records, for a T2 crash
  // event, the pid and which of those parts its latest crash has had (store/events.ts).
  `ALTER TABLE events ADD COLUMN incident_json TEXT;`,
  // 5: incidents. One row per thing going wrong (a unit, a probe, a disk, a program, a GPU…),
  // joining its events across sources and tiers; what decides open/update/resolve is
  // src/incidents/, what was last alerted (alert_json) lets updates be rate-limited and a
  // mute (mute_json) last until the incident's severity or loop state changes.
  `CREATE TABLE incidents (
     id            TEXT PRIMARY KEY,
     instance_id   TEXT NOT NULL,
     fingerprint   TEXT NOT NULL,
     kind          TEXT NOT NULL,
     subject       TEXT NOT NULL,
     state         TEXT NOT NULL DEFAULT 'open',
     first_seen    INTEGER NOT NULL,
     last_seen     INTEGER NOT NULL,
     resolved_us   INTEGER,
     resolution    TEXT,
     occurrences   INTEGER NOT NULL DEFAULT 1,
     tier          TEXT NOT NULL,
     severity      TEXT NOT NULL,
     loop          INTEGER NOT NULL DEFAULT 0,
     lead_event_id TEXT NOT NULL,
     summary       TEXT NOT NULL,
     alertable     INTEGER NOT NULL DEFAULT 0,
     alert_json    TEXT,
     update_due    INTEGER NOT NULL DEFAULT 0,
     mute_json     TEXT
   );
   CREATE INDEX idx_incidents_fingerprint ON incidents(instance_id, fingerprint, state);
   CREATE INDEX idx_incidents_state ON incidents(state, last_seen);
   CREATE INDEX idx_incidents_seen ON incidents(last_seen);
   ALTER TABLE events ADD COLUMN incident_id TEXT;
   CREATE INDEX idx_events_incident ON events(incident_id);`,
  // 6: Alertmanager. What each incident's alert last told Alertmanager (its labels, firing or
  // resolved, when it was first and last posted), so an open incident is refreshed before
  // Alertmanager forgets it, a resolution is posted until one post of it succeeded, and a
  // label change (a higher severity) ends the alert under the old labels. silenced_by: the
  // silences Alertmanager last reported for it. The feed's start (alertmanager_feed) bounds
  // what is owed: incidents from before Alertmanager was configured are not sent.
  `CREATE TABLE alertmanager_sync (
     incident_id     TEXT PRIMARY KEY,
     labels_json     TEXT NOT NULL,
     state           TEXT NOT NULL,
     first_posted_us INTEGER NOT NULL,
     posted_us       INTEGER NOT NULL,
     silenced_by     TEXT
   );
   CREATE TABLE alertmanager_feed (
     id         INTEGER PRIMARY KEY CHECK (id = 1),
     started_us INTEGER NOT NULL
   );`,
  // 7: an alert that waits for its event's enrichment is written once, when it is released:
  // until then its notification is NULL and render_json holds what the rendering needs (the
  // incident whose sequence id and buttons it carries). SQLite cannot drop a NOT NULL, so the
  // table is rebuilt with its rows and ids.
  `CREATE TABLE outbox_v7 (
     id              INTEGER PRIMARY KEY AUTOINCREMENT,
     event_id        TEXT NOT NULL,
     created_us      INTEGER NOT NULL,
     notification    TEXT,
     render_json     TEXT,
     state           TEXT NOT NULL DEFAULT 'pending',
     attempts        INTEGER NOT NULL DEFAULT 0,
     last_error      TEXT,
     done_us         INTEGER
   );
   INSERT INTO outbox_v7 (id, event_id, created_us, notification, state, attempts, last_error, done_us)
     SELECT id, event_id, created_us, notification, state, attempts, last_error, done_us FROM outbox ORDER BY id;
   UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0)) WHERE name = 'outbox_v7';
   DROP TABLE outbox;
   ALTER TABLE outbox_v7 RENAME TO outbox;
   CREATE INDEX idx_outbox_state ON outbox(state, id);`,
  // 8: every commit looks for the recent event a line joins (same pid or unit, last seen within
  // the incident window). Without an index on last_seen that scanned every event of the
  // instance: with 10,000 events stored, a commit took ~60× longer than with the index
  // (`BENCH_ONLY=store bun scripts/bench.ts`).
  `CREATE INDEX idx_events_seen ON events(instance_id, last_seen);`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

function explain(path: string, error: unknown): StoreError {
  const known = explainSqliteError(error, path);
  if (known) return known;
  const e = error as { code?: string; message?: string };
  const code = e.code ?? "";
  const detail = e.message ?? String(error);
  if (/not a database|malformed/i.test(detail)) return explainSqliteError({ code: "SQLITE_NOTADB", message: detail }, path) as StoreError;
  if (code === "EACCES" || code === "ENOTDIR" || code === "ENOENT" || code === "EROFS" || code === "EEXIST") {
    return new StoreError(
      `cannot write the event database ${path} (${detail}). Check that its directory exists and is writable by this user, or pass --db PATH.`,
      path,
      { cause: error },
    );
  }
  if (code === "ENOSPC") return explainSqliteError({ code: "SQLITE_FULL", message: detail }, path) as StoreError;
  return new StoreError(`event database ${path}: ${detail}`, path, { cause: error });
}

/** Create the file 0600 (and its directory 0700) before SQLite does, so events are never world-readable. */
function ensureFile(path: string): void {
  if (path === ":memory:" || existsSync(path)) return;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, "a", 0o600));
  chmodSync(path, 0o600);
}

export interface OpenOptions {
  readonly?: boolean;
}

/** The migrations a database has had (PRAGMA user_version). */
export function schemaVersion(db: Database): number {
  return (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
}

/** Open (creating and migrating when needed) the event database; StoreError on failure. */
export function openStore(path: string, options: OpenOptions = {}): Database {
  if (path !== ":memory:" && existsSync(path) && statSync(path).isDirectory()) {
    throw new StoreError(`${path} is a directory, not a database file; pass --db with a file path.`, path);
  }
  if (options.readonly && path !== ":memory:" && !existsSync(path)) {
    throw new StoreError(`no event database at ${path} yet: the daemon (or 'logtriage replay --store') creates it.`, path);
  }
  let db: Database;
  rememberOpenedDatabase(path);
  try {
    if (!options.readonly) ensureFile(path);
    db = options.readonly ? new Database(path, { readonly: true, strict: true }) : new Database(path, { create: true, strict: true });
  } catch (error) {
    throw explain(path, error);
  }
  try {
    db.run("PRAGMA busy_timeout = 5000");
    const version = schemaVersion(db);
    if (version > SCHEMA_VERSION) {
      throw new StoreError(
        `${path} has schema version ${version}, newer than this logtriage understands (${SCHEMA_VERSION}); upgrade logtriage.`,
        path,
      );
    }
    if (!options.readonly) {
      if (version === 0) db.run("PRAGMA auto_vacuum = INCREMENTAL");
      db.run("PRAGMA journal_mode = WAL");
      // NORMAL in WAL mode survives a process crash (kill -9); only power loss can drop the
      // last commits. The daemon's cursor is committed with its events, so those are re-read.
      db.run("PRAGMA synchronous = NORMAL");
      migrate(db, version);
    }
    return db;
  } catch (error) {
    db.close();
    if (error instanceof StoreError) throw error;
    throw explain(path, error);
  }
}

function migrate(db: Database, from: number): void {
  for (let v = from; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      // Read again under the write lock: two processes opening a new database at once (a
      // daemon and a replay, or two daemons) both saw the old version before; the second
      // must find the first one's migration done rather than run it again.
      const now = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
      if (now > v) return;
      db.run(MIGRATIONS[v] as string);
      db.run(`PRAGMA user_version = ${v + 1}`);
    }).immediate();
  }
}
