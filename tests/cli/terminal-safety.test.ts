import { afterEach, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cli, sandbox, type Sandbox } from "./_run.ts";

// Log text is shown, never obeyed: an escape sequence, a carriage return or a bidi override in
// a process name or message reaches show, query, replay and status as visible escapes.

const boxes: Sandbox[] = [];
afterEach(() => {
  for (const b of boxes.splice(0)) rmSync(b.home, { recursive: true, force: true });
});

// Clear screen, set the window title, then a bidi override (Trojan Source).
const EVIL = "x\u001b[2J\u001b]0;pwned\u0007\u202e";
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

test("replay, query, show and status print escape sequences from log text as escapes", () => {
  const box = sandbox();
  boxes.push(box);
  const line = JSON.stringify({
    __REALTIME_TIMESTAMP: String(Date.now() * 1000 - 60_000_000),
    __CURSOR: "s=1;i=1",
    _BOOT_ID: "b",
    _TRANSPORT: "kernel",
    PRIORITY: "3",
    MESSAGE: `Out of memory: Killed process 4321 (${EVIL}) total-vm:100kB, anon-rss:50kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:4kB oom_score_adj:0`,
  });
  const file = join(box.home, "evil.jsonl");
  writeFileSync(file, `${line}\n`);
  const dbPath = join(box.home, "events.db");
  const replay = cli(box, ["replay", "--store", "--db", dbPath, file]);
  expect(replay.code).toBe(0);
  expect(replay.stdout).toContain("pid 4321");
  expect(replay.stdout).toContain("\\x1b[2J");
  const query = cli(box, ["query", "--db", dbPath, "--last", "1d"]);
  const id = /([0-9a-f]{8})\s*$/m.exec(query.stdout)?.[1] ?? "";
  const show = cli(box, ["show", "--db", dbPath, id]);
  expect(show.code).toBe(0);
  const status = cli(box, ["status", "--db", dbPath]);
  for (const [what, out] of [
    ["replay", replay.stdout + replay.stderr],
    ["query", query.stdout],
    ["show", show.stdout],
    ["status", status.stdout],
  ] as const) {
    expect({ what, raw: RAW.test(out) }).toEqual({ what, raw: false });
    expect({ what, shown: out.includes("\\u202e") }).toEqual({ what, shown: true });
  }
});

test("a bad line quoted in replay's warning is escaped too", () => {
  const box = sandbox();
  boxes.push(box);
  const file = join(box.home, "bad.jsonl");
  writeFileSync(file, `{"MESSAGE":"ok","__CURSOR":"c"}\n{"MESSAGE": "\u001b[2Jcut\n`);
  const r = cli(box, ["replay", file]);
  expect(r.stderr).toContain("skipped, malformed JSON");
  expect(RAW.test(r.stderr)).toBe(false);
});
