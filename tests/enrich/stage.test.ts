import { afterEach, beforeEach, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { EventWriter } from "../../src/daemon/writer.ts";
import type { Enricher, Enrichment } from "../../src/enrich/enricher.ts";
import { EnrichmentStage } from "../../src/enrich/stage.ts";
import type { Candidate } from "../../src/event.ts";
import { processRunner } from "../../src/run.ts";
import { openStore } from "../../src/store/db.ts";
import { getEvent } from "../../src/store/events.ts";
import { nextPending, releaseAllEnriching } from "../../src/store/outbox.ts";
import { triageFixture } from "../_fixtures.ts";

// The enrichment stage on a real SQLite database and a real classified crash: the event is
// stored before any enricher runs, the alert waits for the enrichers (bounded by their
// timeouts), and whatever they return — lines, a better summary, a failure — ends up in the
// event and in the alert that is finally released.

let db: Database;
let crash: Candidate;
const policy = { instanceId: "box", cooldownMs: 300_000, aggregateThreshold: 3 };
const quiet = { warn() {}, debug() {} };

beforeEach(async () => {
  db = openStore(":memory:");
  const run = await triageFixture("real/segfault-python.jsonl");
  crash = run.candidates.find((c) => c.tier === "T2") as Candidate;
  expect(crash).toBeDefined();
});

afterEach(() => db.close());

function enricher(name: string, timeoutMs: number, result: (signal: AbortSignal) => Promise<Enrichment>): Enricher {
  return { name, timeoutMs, applies: (c) => c.tier === "T2", enrich: (_c, ctx) => result(ctx.signal) };
}

function wire(enrichers: Enricher[], maxQueued?: number) {
  const released: string[] = [];
  const stage = new EnrichmentStage({
    db,
    enrichers,
    runner: processRunner,
    memory: null,
    instanceId: "box",
    log: quiet,
    toNotification: (e) => ({ title: e.summary, message: e.detail, priority: 4, tags: [], click: null }),
    onReleased: () => released.push("x"),
    ...(maxQueued === undefined ? {} : { maxQueued }),
  });
  const writer = new EventWriter({
    db,
    policy,
    alerts: { tiers: new Set(["T2"]), toNotification: (e) => ({ title: e.summary, message: e.detail, priority: 4, tags: [], click: null }) },
    enrichment: stage,
  });
  return { stage, writer, released };
}

function onlyEventId(): string {
  return (db.query("SELECT id FROM events").get() as { id: string }).id;
}

test("the event is stored at once; its alert waits, then goes out with the enricher's lines and summary", async () => {
  let finish: (e: Enrichment) => void = () => {};
  const { stage, writer } = wire([enricher("crash", 5_000, () => new Promise((resolve) => (finish = resolve)))]);
  writer.commit([crash], null);

  const id = onlyEventId();
  expect(nextPending(db)?.state).toBe("enriching");
  finish({ lines: ["Backtrace:", "  #0 strlen (libc.so.6)"], summary: "Crash: python3 (SIGSEGV) in strlen", evidence: { frames: 1 } });
  await stage.idle();

  const row = nextPending(db);
  expect(row?.state).toBe("pending");
  expect(row?.notification.title).toBe("Crash: python3 (SIGSEGV) in strlen");
  expect(row?.notification.message).toContain("#0 strlen (libc.so.6)");
  const lookup = getEvent(db, id);
  if (lookup.kind !== "found") throw new Error("event missing");
  expect(lookup.event.detail).toContain("Backtrace:");
  expect(lookup.event.enrichment?.sections[0]?.evidence).toEqual({ frames: 1 });
});

test("an enricher that does not answer in time is cut off; the alert goes out saying what is missing", async () => {
  let aborted = false;
  const { stage, writer } = wire([
    enricher("slow", 50, (signal) => new Promise(() => signal.addEventListener("abort", () => (aborted = true)))),
    enricher("fast", 1_000, async () => ({ lines: ["fast context"] })),
  ]);
  writer.commit([crash], null);
  await stage.idle();

  expect(aborted).toBe(true);
  expect(stage.counters.timedOut).toBe(1);
  const row = nextPending(db);
  expect(row?.state).toBe("pending");
  expect(row?.notification.message).toContain("fast context");
  expect(row?.notification.message).toContain("Not gathered:");
  expect(row?.notification.message).toContain("slow: no answer within 0.05s");
});

test("an enricher that throws costs only its own context", async () => {
  const { stage, writer } = wire([enricher("broken", 1_000, async () => Promise.reject(new Error("coredumpctl said nonsense")))]);
  writer.commit([crash], null);
  await stage.idle();

  expect(stage.counters.failed).toBe(1);
  const row = nextPending(db);
  expect(row?.state).toBe("pending");
  expect(row?.notification.message).toContain("broken: coredumpctl said nonsense");
});

test("a full queue stores the overflow unenriched and says so, instead of growing", async () => {
  const never = enricher("never", 60_000, () => new Promise(() => {}));
  const { stage, writer } = wire([never], 1);
  const second = { ...crash, process: "other", summary: "Crash: other", pid: 99 };
  writer.commit([crash, second], null);

  expect(stage.counters.skipped).toBe(1);
  const other = getEvent(db, (db.query("SELECT id FROM events WHERE process = 'other'").get() as { id: string }).id);
  if (other.kind !== "found") throw new Error("event missing");
  expect(other.event.detail).toContain("never: skipped, too many new events at once");
  // The first one still waits; closing the stage releases it.
  expect(nextPending(db)?.state).toBe("enriching");
  await stage.close();
  expect((db.query("SELECT count(*) AS n FROM outbox WHERE state = 'enriching'").get() as { n: number }).n).toBe(0);
  const first = getEvent(db, (db.query("SELECT id FROM events WHERE process != 'other'").get() as { id: string }).id);
  if (first.kind !== "found") throw new Error("event missing");
  expect(first.event.detail).toContain("never: not finished, the daemon was stopping");
});

test("alerts a crashed daemon left waiting for enrichment are released on the next start", () => {
  const { writer } = wire([enricher("never", 60_000, () => new Promise(() => {}))]);
  writer.commit([crash], null);
  expect(nextPending(db)?.state).toBe("enriching");
  expect(releaseAllEnriching(db)).toBe(1);
  expect(nextPending(db)?.state).toBe("pending");
});

test("a fold into an open event is not enriched again", async () => {
  let runs = 0;
  const { stage, writer } = wire([
    enricher("count", 1_000, async () => {
      runs++;
      return { lines: [] };
    }),
  ]);
  writer.commit([crash], null);
  writer.commit([{ ...crash, timestampUs: crash.timestampUs + 1_000_000 }], null);
  await stage.idle();
  expect(runs).toBe(1);
});

test("the runner kills a tool when the enricher's signal aborts", async () => {
  const controller = new AbortController();
  const started = Date.now();
  setTimeout(() => controller.abort(), 50);
  const result = await processRunner.run(["sleep", "10"], { timeoutMs: 60_000, signal: controller.signal });
  expect(result.timedOut).toBe(true);
  expect(result.exitCode).toBeNull();
  expect(Date.now() - started).toBeLessThan(9_000);
});
