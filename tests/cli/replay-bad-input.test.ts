import { afterEach, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../src/store/db.ts";
import { cli, sandbox, type Sandbox } from "./_run.ts";

// The compiled binary on journal-JSON files no journalctl writes: every JSON value type in a
// field, an array nested 100,000 deep, broken lines. Nothing crashes, bad lines are named by
// number, and `--store` keeps every good event of the file.

const boxes: Sandbox[] = [];
afterEach(() => {
  for (const b of boxes.splice(0)) rmSync(b.home, { recursive: true, force: true });
});

const oom = (pid: number, i: number, name = "stress") => ({
  __REALTIME_TIMESTAMP: String(1_700_000_000_000_000 + i * 1_000_000),
  __CURSOR: `s=1;i=${i}`,
  _BOOT_ID: "b",
  _TRANSPORT: "kernel",
  PRIORITY: "3",
  MESSAGE: `Out of memory: Killed process ${pid} (${name}) total-vm:100kB, anon-rss:50kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:4kB oom_score_adj:0`,
});

test("replay --store with numbers, objects, booleans, deep arrays and broken lines in the file keeps both good events", () => {
  const box = sandbox();
  boxes.push(box);
  const lines = [
    JSON.stringify(oom(1234, 1)),
    JSON.stringify({ ...oom(1, 2), MESSAGE: 5 }),
    JSON.stringify({ ...oom(1, 3), MESSAGE: { a: 1 }, PRIORITY: true }),
    JSON.stringify({ ...oom(1, 4), MESSAGE: [[1, 2], [[3]]], _PID: 1e300 }),
    `{"MESSAGE":${"[".repeat(100_000)}${"]".repeat(100_000)}}`,
    `{"MESSAGE": "cut off`,
    JSON.stringify(oom(1235, 7, "hog")),
  ];
  const file = join(box.home, "bad.jsonl");
  writeFileSync(file, `${lines.join("\n")}\n`);
  const dbPath = join(box.home, "events.db");
  const r = cli(box, ["replay", "--store", "--db", dbPath, file]);
  expect(r.stderr).not.toContain("internal error");
  expect(r.code).toBe(0);
  expect(r.stderr).toContain(`${file}:6: skipped, malformed JSON`);
  expect(r.stdout).toContain("pid 1234");
  expect(r.stdout).toContain("pid 1235");
  const db = openStore(dbPath, { readonly: true });
  try {
    const pids = (db.query("SELECT pid FROM events ORDER BY timestamp").all() as { pid: number }[]).map((e) => e.pid);
    expect(pids).toEqual([1234, 1235]);
  } finally {
    db.close();
  }
});
