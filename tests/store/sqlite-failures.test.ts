import { afterAll, beforeAll, expect, test } from "bun:test";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "../../src/store/db.ts";
import { cli, sandbox, type Sandbox } from "../cli/_run.ts";

// The compiled binary against real databases in trouble: a tmpfs filled up, a read-only
// mount, a damaged file, a writer holding the lock. Each failure is one line that names the
// file and the fix, never "internal error"; a writer that only has to wait, waits.

const isRoot = process.getuid?.() === 0;
let box: Sandbox;
let mnt: string;
let mounted = false;

beforeAll(() => {
  box = sandbox();
  mnt = mkdtempSync(join(tmpdir(), "logtriage-tmpfs-"));
  if (isRoot) {
    const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", mnt], { stderr: "pipe" });
    mounted = r.exitCode === 0;
  }
});
afterAll(() => {
  if (mounted) Bun.spawnSync(["umount", mnt]);
  rmSync(mnt, { recursive: true, force: true });
  rmSync(box.home, { recursive: true, force: true });
});

/** A journal-JSON file of `n` OOM kills of distinct processes: `n` new events. */
function oomKills(path: string, n: number): void {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({
        __REALTIME_TIMESTAMP: String(1_790_000_000_000_000 + i * 1_000_000),
        __CURSOR: `s=1;i=${i}`,
        _BOOT_ID: "b",
        _TRANSPORT: "kernel",
        PRIORITY: "3",
        MESSAGE: `Out of memory: Killed process ${1000 + i} (worker-${i}-${"x".repeat(200)}) total-vm:100kB, anon-rss:50kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:4kB oom_score_adj:0`,
      }),
    );
  }
  writeFileSync(path, `${lines.join("\n")}\n`);
}

/** Fill the filesystem at `dir` until `leaveBytes` or less are free. */
function fill(dir: string, leaveBytes: number): void {
  const fd = openSync(join(dir, "filler"), "w");
  const chunk = Buffer.alloc(4096);
  try {
    for (;;) {
      const s = statfsSync(dir);
      if (s.bavail * s.bsize <= leaveBytes) break;
      writeSync(fd, chunk);
    }
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOSPC") throw error;
  } finally {
    closeSync(fd);
  }
}

test.skipIf(!isRoot)("a full disk under replay --store is one line naming the file and the fix", () => {
  expect(mounted).toBe(true);
  const dir = join(mnt, "full");
  mkdirSync(dir);
  const dbPath = join(dir, "events.db");
  openStore(dbPath).close();
  const input = join(box.home, "kills.jsonl");
  oomKills(input, 3000);
  fill(mnt, 64 * 1024);
  const r = cli(box, ["replay", "--store", "--db", dbPath, input]);
  rmSync(join(mnt, "filler"));
  expect(r.code).toBe(1);
  expect(r.stderr).not.toContain("internal error");
  const last = r.stderr.trim().split("\n").pop() ?? "";
  expect(last).toContain(dbPath);
  expect(last).toContain("the disk is full");
  expect(last).toContain("df -h");
});

test.skipIf(!isRoot)("a read-only filesystem names the file and what to check", () => {
  expect(mounted).toBe(true);
  const dir = join(mnt, "ro");
  mkdirSync(dir);
  const dbPath = join(dir, "events.db");
  openStore(dbPath).close();
  const input = join(box.home, "one.jsonl");
  oomKills(input, 1);
  expect(Bun.spawnSync(["mount", "-o", "remount,ro", mnt]).exitCode).toBe(0);
  try {
    const r = cli(box, ["replay", "--store", "--db", dbPath, input]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain("internal error");
    expect(r.stderr).toContain(dbPath);
    expect(r.stderr).toMatch(/cannot be written|cannot write|read-only/);
  } finally {
    Bun.spawnSync(["mount", "-o", "remount,rw", mnt]);
  }
});

test("a damaged database names the file and says to move it aside", () => {
  const dbPath = join(box.home, "damaged.db");
  const db = openStore(dbPath);
  db.run("PRAGMA journal_mode = DELETE");
  for (let i = 0; i < 200; i++)
    db.query("INSERT INTO source_cursors (source, cursor, updated_us) VALUES (?, ?, 0)").run(`s${i}`, "c".repeat(500));
  db.close();
  // Overwrite the pages after the header: the file still opens, its tables do not read.
  const fd = openSync(dbPath, "r+");
  writeSync(fd, Buffer.alloc(16 * 4096, 0x5a), 0, 16 * 4096, 4096);
  closeSync(fd);
  const r = cli(box, ["query", "--db", dbPath, "--last", "7d"]);
  expect(r.code).toBe(1);
  expect(r.stderr).not.toContain("internal error");
  expect(r.stderr).toContain(dbPath);
  expect(r.stderr).toContain("mv ");
});

test("replay --store while another process writes waits for the lock instead of failing", async () => {
  const dbPath = join(box.home, "busy.db");
  openStore(dbPath).close();
  const input = join(box.home, "many.jsonl");
  oomKills(input, 400);
  // A writer like the daemon: short IMMEDIATE transactions back to back for 3 s.
  const writer = Bun.spawn(
    [
      process.execPath,
      "-e",
      `const { Database } = require("bun:sqlite");
       const db = new Database(${JSON.stringify(dbPath)});
       db.run("PRAGMA busy_timeout = 5000");
       const end = Date.now() + 3000;
       console.log("writing");
       let i = 0;
       while (Date.now() < end) {
         db.transaction(() => { db.query("INSERT OR REPLACE INTO source_cursors (source, cursor, updated_us) VALUES ('w', ?, 0)").run(String(i++)); Bun.sleepSync(20); }).immediate();
       }`,
    ],
    { stdout: "pipe", stderr: "inherit" },
  );
  const reader = writer.stdout.getReader();
  await reader.read(); // "writing": the writer holds the database from now on
  const r = cli(box, ["replay", "--store", "--db", dbPath, input]);
  await writer.exited;
  expect(r.stderr).not.toContain("locked");
  expect(r.code).toBe(0);
  expect(r.stderr).toContain("stored 400 new");
});
