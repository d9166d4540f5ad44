import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { readFileSync } from "node:fs";
import { EnrichmentStage } from "../../src/enrich/stage.ts";
import { createUnitEnricher, findOomKillOfUnit, ownUnitEntries, unitJournalArgv, unitManagerOf } from "../../src/enrich/unit.ts";
import type { Candidate } from "../../src/event.ts";
import { type RunOptions, type Runner } from "../../src/run.ts";
import { openStore } from "../../src/store/db.ts";
import { commitEvent, getEvent } from "../../src/store/events.ts";
import { fixturePath, triageFixture } from "../_fixtures.ts";
import { missingTool } from "../_builders.ts";

// The unit enricher through the real enrichment stage on a real SQLite database. Candidates
// come from real journal captures (tests/fixtures/real/unit-*.jsonl: a user service that
// printed three lines and exited 3, and one killed by a real memcg OOM kill); the Runner
// answers journalctl with the same captured JSON, which also holds systemd's own messages
// about the unit and the kernel's report, so the enricher must leave those out.

const policy = { instanceId: "box", cooldownMs: 300_000, aggregateThreshold: 3 };
const quiet = { warn() {}, debug() {} };

let db: Database;
beforeEach(() => {
  db = openStore(":memory:");
});
afterEach(() => db.close());

interface Call {
  argv: string[];
  opts: RunOptions;
}

function servingFixture(name: string, calls: Call[]): Runner {
  const text = readFileSync(fixturePath(name), "utf8");
  return {
    run: async (argv, opts) => {
      calls.push({ argv, opts });
      return { exitCode: 0, stdout: text, stderr: "", timedOut: false };
    },
  };
}

async function candidateOf(fixture: string, rule: string): Promise<Candidate> {
  const found = (await triageFixture(fixture)).candidates.find((c) => c.rule === rule);
  if (!found) throw new Error(`${fixture} has no ${rule} candidate`);
  return found;
}

async function enrich(candidate: Candidate, runner: Runner) {
  const stage = new EnrichmentStage({
    db,
    enrichers: [createUnitEnricher()],
    runner,
    memory: null,
    instanceId: "box",
    log: quiet,
    toNotification: null,
  });
  expect(stage.wants(candidate)).toBe(true);
  const { id } = commitEvent(db, candidate, policy);
  stage.enqueue(id, candidate);
  await stage.idle();
  const found = getEvent(db, id);
  if (found.kind !== "found") throw new Error("event not stored");
  return found.event;
}

/** The lines under "Last lines before the failure:", without their times. */
function lastLines(detail: string): string[] {
  const lines = detail.split("\n");
  const at = lines.indexOf("Last lines before the failure:");
  if (at < 0) return [];
  const out: string[] = [];
  for (const l of lines.slice(at + 1)) {
    const m = /^ {2}\d\d:\d\d:\d\d (.*)$/.exec(l);
    if (!m) break;
    out.push(m[1] as string);
  }
  return out;
}

describe("unit enricher", () => {
  test("a user service that exited 3: its own last lines, not systemd's, before the failure", async () => {
    const failed = await candidateOf("real/unit-failed-user-service.jsonl", "unit-failed");
    const calls: Call[] = [];
    const event = await enrich(failed, servingFixture("real/unit-failed-user-service.jsonl", calls));
    expect(lastLines(event.detail)).toEqual(["starting backup", "copying /srv/data", "error: disk full"]);
    expect(event.detail).not.toContain("Failed with result 'exit-code'.\n  ");
    expect(event.detail).toContain("status=3/NOTIMPLEMENTED");
    // USER_UNIT= in systemd's entry: a user unit of uid 0's manager, up to the failure
    expect(calls).toHaveLength(1);
    expect(calls[0]?.argv).toEqual(unitJournalArgv("lt-cap-fail.service", { kind: "user", uid: 0 }, failed.timestampUs));
    expect(calls[0]?.argv).toContain("_SYSTEMD_USER_UNIT=lt-cap-fail.service");
    expect(calls[0]?.opts.signal).toBeDefined();
    expect(event.summary).toBe("Service failed: lt-cap-fail.service (exit-code)");
  });

  test("SIGKILL after a real OOM kill of the unit's process names the T1 event", async () => {
    const run = await triageFixture("real/unit-oom-killed-user-service.jsonl");
    const [oom, failed] = [run.candidates.find((c) => c.tier === "T1"), run.candidates.find((c) => c.rule === "unit-failed")];
    if (!oom || !failed) throw new Error("capture lacks the OOM kill or the failure");
    const oomId = commitEvent(db, oom, policy).id;
    const event = await enrich(failed, servingFixture("real/unit-oom-killed-user-service.jsonl", []));
    expect(event.detail).toContain(`killed by the OOM killer, see event ${oomId}`);
    expect(lastLines(event.detail)).toEqual(["loading model", "allocating"]);
    expect(event.detail).not.toContain("invoked oom-killer");
    expect(event.summary).toBe("Service failed: lt-cap-oomsvc2.service — killed by the OOM killer");
  });

  test("the OOM kill is found by the victim pid when its cgroup is not the unit's", async () => {
    const run = await triageFixture("real/unit-oom-killed-user-service.jsonl");
    const oom = run.candidates.find((c) => c.tier === "T1") as Candidate;
    if (oom.facts.kind !== "oom-kill") throw new Error("expected an OOM report");
    const elsewhere = {
      ...oom,
      unit: "lt_other",
      facts: { kind: "oom-kill" as const, oom: { ...oom.facts.oom, taskMemcg: "/lt_other", memcg: "/lt_other" } },
    };
    const id = commitEvent(db, elsewhere, policy).id;
    const exitUs = oom.timestampUs + 1_000_000;
    expect(findOomKillOfUnit(db, "box", "lt-cap-oomsvc2.service", new Set([10553]), exitUs)?.id).toBe(id);
    expect(findOomKillOfUnit(db, "box", "lt-cap-oomsvc2.service", new Set([4242]), exitUs)).toBeNull();
    // an OOM kill long before the exit is another story
    expect(findOomKillOfUnit(db, "box", "lt-cap-oomsvc2.service", new Set([10553]), exitUs + 60_000_000)).toBeNull();
  });

  test("SIGKILL with no OOM kill stored says what else it may be", async () => {
    const failed = await candidateOf("real/unit-oom-killed-user-service.jsonl", "unit-failed");
    const event = await enrich(failed, servingFixture("real/unit-oom-killed-user-service.jsonl", []));
    expect(event.detail).toContain("SIGKILL with no OOM kill of this unit logged just before");
    expect(event.summary).toBe("Service failed: lt-cap-oomsvc2.service (signal)");
  });

  test("journalctl missing or refused: the event says what is missing and the fix", async () => {
    const failed = await candidateOf("real/unit-failed-user-service.jsonl", "unit-failed");
    const missing = missingTool;
    const noTool = await enrich(failed, missing);
    expect(noTool.detail).not.toContain("Last lines");
    const raw = db.query("SELECT enrichment_json FROM events WHERE id = ?").get(noTool.id) as { enrichment_json: string };
    expect(raw.enrichment_json).toContain("journalctl cannot be run");

    db.close();
    db = openStore(":memory:");
    const denied: Runner = {
      run: async () => ({
        exitCode: 1,
        stdout: "",
        stderr: "No journal files were opened due to insufficient permissions.\n",
        timedOut: false,
      }),
    };
    const refused = await enrich(failed, denied);
    const row = db.query("SELECT enrichment_json FROM events WHERE id = ?").get(refused.id) as { enrichment_json: string };
    expect(row.enrichment_json).toContain("systemd-journal group");
  });

  test("system units are matched by _SYSTEMD_UNIT, user units by their manager's uid; until the failure plus 1 s of slack", () => {
    expect(unitJournalArgv("nginx.service", { kind: "system" }, 1_795_394_268_446_224)).toEqual([
      "journalctl",
      "--no-pager",
      "--quiet",
      "--output=json",
      "--lines=10",
      "--until=@1795394269.446224",
      "_SYSTEMD_UNIT=nginx.service",
    ]);
    expect(unitJournalArgv("sync.service", { kind: "user", uid: 1000 }, 1_000_000_005).slice(5)).toEqual([
      "--until=@1001.000005",
      "_SYSTEMD_USER_UNIT=sync.service",
      "_UID=1000",
      "+",
      "_SYSTEMD_UNIT=sync.service",
      "_UID=1000",
    ]);
  });

  test("the manager is read from the entry systemd wrote; own entries leave systemd's out", async () => {
    const failed = await candidateOf("real/unit-failed-user-service.jsonl", "unit-failed");
    expect(unitManagerOf(failed.entries[0] as NonNullable<Candidate["entries"][0]>)).toEqual({ kind: "user", uid: 0 });
    expect(ownUnitEntries(readFileSync(fixturePath("real/unit-failed-user-service.jsonl"), "utf8")).map((e) => e.message)).toEqual([
      "starting backup",
      "copying /srv/data",
      "error: disk full",
    ]);
    // what journalctl printed for this project's own query on the real journal (lt-capture-backup.service)
    expect(ownUnitEntries(readFileSync(fixturePath("real/journalctl-unit-own-lines.jsonl"), "utf8")).map((e) => e.message)).toEqual([
      "starting backup",
      "copying files",
      "disk full",
    ]);
  });
});
