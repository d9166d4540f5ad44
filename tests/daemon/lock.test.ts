import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCommandEnv } from "../../src/cli/_context.ts";
import { StoreError } from "../../src/store/errors.ts";
import { lockDatabase } from "../../src/store/lock.ts";
import { BIN, sandbox, type Sandbox } from "../cli/_run.ts";

// One daemon per database, decided by flock(2) on "<db>.lock", so that two daemons started at
// the same moment cannot both run (the heartbeat row cannot tell them apart).

const dirs: string[] = [];
const boxes: Sandbox[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  for (const b of boxes.splice(0)) rmSync(b.home, { recursive: true, force: true });
});

test("a second lock on the same database is refused, naming the holder's pid; released, it can be taken again", () => {
  const dir = mkdtempSync(join(tmpdir(), "logtriage-lock-"));
  dirs.push(dir);
  const db = join(dir, "events.db");
  const first = lockDatabase(db, 4242);
  expect(first).not.toBeNull();
  let error: unknown = null;
  try {
    lockDatabase(db);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(StoreError);
  expect((error as Error).message).toContain(`another logtriage daemon (pid 4242) is running with ${db}`);
  first?.release();
  const again = lockDatabase(db);
  expect(again).not.toBeNull();
  again?.release();
});

test("two daemons started at the same moment on one database: exactly one runs, the other exits 1 with one clear line", async () => {
  const box = sandbox();
  boxes.push(box);
  const config = join(box.configDir, "config.toml");
  writeFileSync(config, `[instance]\nid = "lock-box"\n[sources]\nuse = "kmsg"\n[psi]\nenabled = false\n[smart]\nenabled = false\n`);
  const dbPath = join(box.home, "events.db");
  const spawn = () => Bun.spawn([BIN, "daemon", "--config", config, "--db", dbPath], { env: box.env, stdout: "pipe", stderr: "pipe" });
  const daemons = [spawn(), spawn()];
  // The loser exits on its own; the winner runs until stopped.
  const loser = await Promise.race(daemons.map(async (d, i) => ({ i, code: await d.exited })));
  const winner = daemons[1 - loser.i] as (typeof daemons)[number];
  const lost = daemons[loser.i] as (typeof daemons)[number];
  expect(loser.code).toBe(1);
  const stderr = await new Response(lost.stderr).text();
  expect(stderr.trim().split("\n")).toHaveLength(1);
  expect(stderr).toContain(`another logtriage daemon (pid ${winner.pid}) is running with ${dbPath}`);
  expect(winner.exitCode).toBeNull();
  winner.kill("SIGTERM");
  expect(await winner.exited).toBe(0);
});

test("--db is the database path for everything derived from [db] path (failure snapshots, the lock)", () => {
  const box = sandbox();
  boxes.push(box);
  const config = join(box.configDir, "config.toml");
  writeFileSync(config, `[db]\npath = "${join(box.home, "configured.db")}"\n`);
  const env = loadCommandEnv({ config, db: join(box.home, "other.db") });
  expect(env.dbPath).toBe(join(box.home, "other.db"));
  expect(env.config.db.path).toBe(join(box.home, "other.db"));
});
