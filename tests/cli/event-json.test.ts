import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { route, type ApiDeps } from "../../src/http/routes.ts";
import { openStore } from "../../src/store/db.ts";
import { fixturePath } from "../_fixtures.ts";
import { cli, jsonLines, sandbox } from "./_run.ts";

// One event, four ways out: `query --json`, `show --json`, `replay --json` and the API's
// /events all write the shape of text/event-json.ts (docs/events.md). Real captures go in
// through the compiled binary; the API answers from the same database.

const box = sandbox();
afterAll(() => rmSync(box.home, { recursive: true, force: true }));

const FIXTURES = ["real/oom-memcg-victim-not-hog.jsonl", "real/segfault-python.jsonl", "real/unit-fail-restart-limit.jsonl"].map(
  fixturePath,
);
const SHAPE = [
  "id",
  "instance",
  "time",
  "last_seen",
  "tier",
  "severity",
  "rule",
  "summary",
  "process",
  "pid",
  "unit",
  "occurrences",
  "notified",
  "detail",
  "facts",
];

test("query, show, replay and /events write one event the same way", async () => {
  const dbPath = join(box.home, "events.db");
  const stored = cli(box, ["replay", "--store", "--db", dbPath, ...FIXTURES]);
  expect(stored.code).toBe(0);

  const queried = jsonLines(cli(box, ["query", "--db", dbPath, "--last", "3650d", "--json"]).stdout);
  expect(queried.length).toBeGreaterThanOrEqual(3);
  for (const e of queried) {
    expect(Object.keys(e).filter((k) => k !== "oom")).toEqual(SHAPE);
    expect("oom" in e).toBe((e["facts"] as { kind: string }).kind === "oom-kill");
  }
  expect(queried.some((e) => "oom" in e)).toBe(true);

  // show --json: the same object, plus what only one event's page shows.
  for (const e of queried) {
    const shown = JSON.parse(cli(box, ["show", e["id"] as string, "--db", dbPath, "--json"]).stdout) as Record<string, unknown>;
    const { cursors, lines, raw, enrichment, ...base } = shown;
    expect(base).toEqual(e);
    expect(Array.isArray(cursors) && Array.isArray(lines) && typeof raw === "object").toBe(true);
    expect(enrichment === null || typeof enrichment === "object").toBe(true);
  }

  // /events from the same database.
  const db = openStore(dbPath);
  try {
    const deps: ApiDeps = {
      db,
      token: null,
      services: [],
      snapshotsDir: join(box.home, "snapshots"),
      health: () => ({ sourceName: null, sourceRunning: true, sourceError: null, dbWritable: true }),
      metrics: async () => "",
      nowUs: () => Date.now() * 1000,
    };
    const answer = (await (await route(new Request("http://127.0.0.1/events?since=2000-01-01&limit=1000"), deps)).json()) as {
      events: Record<string, unknown>[];
    };
    const byId = (list: Record<string, unknown>[]) => [...list].sort((a, b) => String(a["id"]).localeCompare(String(b["id"])));
    expect(byId(answer.events)).toEqual(byId(queried));
  } finally {
    db.close();
  }

  // replay --json: every candidate before storing; each stored event is the first of its
  // occurrences, so it agrees with the candidate at its time on everything but what storing adds.
  const replayed = jsonLines(cli(box, ["replay", "--json", ...FIXTURES]).stdout);
  for (const e of queried) {
    const same = replayed.find((r) => r["time"] === e["time"] && r["rule"] === e["rule"]);
    expect(same).toBeDefined();
    const { cursors, ...base } = same as Record<string, unknown>;
    expect(Object.keys(base).filter((k) => k !== "oom")).toEqual(SHAPE);
    expect(Array.isArray(cursors)).toBe(true);
    const added: Record<string, unknown> = {
      ...base,
      id: e["id"],
      last_seen: e["last_seen"],
      occurrences: e["occurrences"],
      notified: e["notified"],
      summary: e["summary"],
      detail: e["detail"],
    };
    expect(added).toEqual(e);
    if (e["occurrences"] === 1) expect([base["summary"], base["detail"]]).toEqual([e["summary"], e["detail"]]);
  }
});
