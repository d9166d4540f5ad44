import { afterEach, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../src/store/db.ts";
import { enqueueAlert } from "../../src/store/outbox.ts";
import { cli, sandbox, type Sandbox } from "./_run.ts";

// `logtriage outbox` from the compiled binary: what waits and why, and --retry.

const boxes: Sandbox[] = [];
afterEach(() => {
  for (const b of boxes.splice(0)) rmSync(b.home, { recursive: true, force: true });
});

test("outbox lists waiting, refused and expired alerts with their reasons; --retry queues the refused ones again", () => {
  const box = sandbox();
  boxes.push(box);
  const dbPath = join(box.home, "events.db");
  const db = openStore(dbPath);
  const nowUs = Date.now() * 1000;
  const n = (title: string) => ({ title, message: "m", priority: 4 as const, tags: [], click: null });
  enqueueAlert(db, "ev-wait", n("waits"), nowUs);
  const refused = enqueueAlert(db, "ev-big", n("too big"), nowUs);
  const expired = enqueueAlert(db, "ev-old", n("too old"), nowUs - 9 * 86_400_000_000);
  db.query("UPDATE outbox SET state = 'refused', last_error = 'refused the message as too large (HTTP 413)' WHERE id = ?").run(refused);
  db.query("UPDATE outbox SET state = 'expired', last_error = 'unsent for 216h' WHERE id = ?").run(expired);
  db.close();

  const listed = cli(box, ["outbox", "--db", dbPath, "--json"]);
  expect(listed.stderr).toBe("");
  expect(listed.code).toBe(0);
  const out = JSON.parse(listed.stdout) as {
    counts: Record<string, number>;
    alerts: { title: string; state: string; last_error: string | null }[];
  };
  expect(out.counts).toMatchObject({ pending: 1, refused: 1, expired: 1 });
  expect(out.alerts.map((a) => [a.title, a.state])).toEqual([
    ["waits", "pending"],
    ["too big", "refused"],
    ["too old", "expired"],
  ]);
  const human = cli(box, ["outbox", "--db", dbPath]);
  expect(human.stdout).toContain("refused by ntfy");
  expect(human.stdout).toContain("HTTP 413");
  expect(human.stdout).toContain("outbox --retry");

  const retried = cli(box, ["outbox", "--db", dbPath, "--retry"]);
  expect(retried.stdout).toBe("1 refused alert(s) queued again\n");
  const after = JSON.parse(cli(box, ["outbox", "--db", dbPath, "--json"]).stdout) as { counts: Record<string, number> };
  expect(after.counts).toMatchObject({ pending: 2, refused: 0, expired: 1 });
});
