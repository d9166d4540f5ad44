import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { openStore } from "../../src/store/db.ts";
import { enqueueAlert, nextPending } from "../../src/store/outbox.ts";

// A database from before alerts waiting for enrichment were left unwritten: its outbox had a
// NOT NULL notification. The migration keeps every row, its id and its order, and new alerts
// still go behind the old ones.

let dir = "";
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("the outbox of a version 6 database keeps its rows, ids and order", () => {
  dir = mkdtempSync(join(tmpdir(), "lt-outbox-mig-"));
  const path = join(dir, "db.sqlite");
  openStore(path).close();
  // Back to the version 6 outbox, with a sent row deleted after its id was taken.
  const raw = new Database(path);
  raw.run("DROP TABLE outbox");
  raw.run(`CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, created_us INTEGER NOT NULL, notification TEXT NOT NULL,
           state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, done_us INTEGER)`);
  const old = { title: "Crash: python3", message: "m", priority: 4, tags: [], click: null };
  raw.query("INSERT INTO outbox (id, event_id, created_us, notification, state) VALUES (4, 'a', 1, ?, 'pending')").run(JSON.stringify(old));
  raw.query("INSERT INTO outbox (id, event_id, created_us, notification, state) VALUES (9, 'b', 2, ?, 'sent')").run(JSON.stringify(old));
  raw.run("DELETE FROM outbox WHERE id = 9");
  raw.run("DROP INDEX idx_events_seen"); // migration 8's, after the outbox's
  raw.run("PRAGMA user_version = 6");
  raw.close();

  const db = openStore(path);
  try {
    const head = nextPending(db);
    expect(head?.id).toBe(4);
    expect(head?.state === "pending" && head.notification.title).toBe("Crash: python3");
    // The sequence went on from the deleted row: a new alert never takes an old id.
    expect(enqueueAlert(db, "c", { title: "new", message: "m", priority: 4, tags: [], click: null }, 3)).toBe(10);
    const nullable = (db.query("PRAGMA table_info(outbox)").all() as { name: string; notnull: number }[]).find(
      (c) => c.name === "notification",
    );
    expect(nullable?.notnull).toBe(0);
  } finally {
    db.close();
  }
});
