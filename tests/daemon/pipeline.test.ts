import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Triage } from "../../src/classify/triage.ts";
import { Pipeline } from "../../src/daemon/pipeline.ts";
import { EventWriter, type AlertPolicy } from "../../src/daemon/writer.ts";
import type { Entry } from "../../src/event.ts";
import { newSourceStats, type Source, type SourceBatch } from "../../src/sources/source.ts";
import { loadCursor } from "../../src/store/cursor.ts";
import { openStore } from "../../src/store/db.ts";
import { queryEvents } from "../../src/store/events.ts";
import { ALL_GROUPS, fixtureEntries } from "../_fixtures.ts";

// The pipeline against a real SQLite file and real captured journal entries; the source is a
// scripted one, so that "the daemon died here" can be placed exactly.

const silentLog = { info() {}, warn() {}, error() {} };

/** A source that replays scripted batches (from a position, like the journal does). */
class ScriptedSource implements Source {
  readonly name = "journal" as const;
  readonly stats = newSourceStats();
  constructor(
    private readonly batchesToYield: Entry[][],
    private readonly options: { after?: string | null; stopAfter?: number; pauseMs?: number } = {},
  ) {}
  async *batches(signal: AbortSignal): AsyncGenerator<SourceBatch> {
    let skipping = this.options.after != null;
    let yielded = 0;
    for (const batch of this.batchesToYield) {
      let entries = batch;
      if (skipping) {
        const at = batch.findIndex((e) => e.cursor === this.options.after);
        if (at < 0) continue;
        skipping = false;
        entries = batch.slice(at + 1);
      }
      if (signal.aborted || (this.options.stopAfter !== undefined && yielded >= this.options.stopAfter)) return;
      yielded++;
      yield { entries, position: entries.at(-1)?.cursor ?? null };
      if (this.options.pauseMs) await Bun.sleep(this.options.pauseMs);
    }
  }
}

let dir: string;
let db: Database;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "logtriage-pipeline-"));
  db = openStore(join(dir, "events.db"));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const policy = { instanceId: "box", cooldownMs: 300_000, aggregateThreshold: 3 };
const alertT1T2: AlertPolicy = {
  tiers: new Set(["T1", "T2"]),
  toNotification: (e) => ({ title: `[box] ${e.summary}`, message: e.detail, priority: 5, tags: [], click: null }),
};

async function runOver(source: Source, alerts: AlertPolicy | null = null): Promise<Pipeline> {
  const pipeline = new Pipeline({
    source,
    triage: new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS }),
    writer: new EventWriter({ db, policy, alerts }),
    log: silentLog,
    quietFlushMs: 50,
  });
  await pipeline.run(new AbortController().signal);
  return pipeline;
}

function storedLines(): string[] {
  return queryEvents(db, { sinceUs: 0, limit: 1000 }).map((e) => `${e.tier} ${e.rule} ${e.summary}`);
}

/** Split entries into batches of `size`. */
function chunk(entries: Entry[], size: number): Entry[][] {
  const out: Entry[][] = [];
  for (let i = 0; i < entries.length; i += size) out.push(entries.slice(i, i + size));
  return out;
}

describe("commit points", () => {
  test("an OOM report read across many batches is one T1 event; the cursor commits with it", async () => {
    const entries = await fixtureEntries("real/oom-memcg-v1-kernel6.jsonl");
    const pipeline = await runOver(new ScriptedSource(chunk(entries, 7)), alertT1T2);
    const events = queryEvents(db, { sinceUs: 0, limit: 10 });
    expect(events.map((e) => e.tier)).toEqual(["T1"]);
    expect(events[0]?.summary).toContain("python3");
    expect(loadCursor(db, "journal")).toBe(entries.at(-1)?.cursor ?? "missing");
    expect(pipeline.counters.alertsQueued).toBe(1);
    expect((db.query("SELECT count(*) AS n FROM outbox").get() as { n: number }).n).toBe(1);
  });

  test("while a report is open nothing commits: the cursor stays before the report", async () => {
    const entries = await fixtureEntries("real/oom-memcg-v1-kernel6.jsonl");
    const opener = entries.findIndex((e) => /invoked oom-killer/.test(e.message));
    expect(opener).toBeGreaterThan(0);
    // Batch 1 ends before the report, batch 2 ends inside it; then the daemon "dies".
    const batches = [entries.slice(0, opener), entries.slice(opener, opener + 10), entries.slice(opener + 10)];
    await runOver(new ScriptedSource(batches, { stopAfter: 2 }));
    expect(storedLines()).toEqual([]);
    expect(loadCursor(db, "journal")).toBe(entries[opener - 1]?.cursor ?? "missing");
  });

  test("kill in the middle, resume from the committed cursor: every event exactly once", async () => {
    const oom = await fixtureEntries("real/oom-memcg-v1-kernel6.jsonl");
    const unit = await fixtureEntries("real/unit-exec-missing.jsonl");
    const segv = await fixtureEntries("real/segfault-python.jsonl");
    // A unit failure lands while the OOM report is open (interleaved), then a segfault.
    const opener = oom.findIndex((e) => /invoked oom-killer/.test(e.message));
    const all = [...oom.slice(0, opener + 5), ...unit, ...oom.slice(opener + 5), ...segv];
    const reference = new ScriptedSource(chunk(all, 4));
    const referenceDir = mkdtempSync(join(tmpdir(), "logtriage-pipeline-ref-"));
    const saved = db;
    db = openStore(join(referenceDir, "events.db"));
    await runOver(reference);
    const expected = storedLines().sort();
    db.close();
    db = saved;
    rmSync(referenceDir, { recursive: true, force: true });
    expect(expected.length).toBeGreaterThanOrEqual(3);

    // Every possible crash point: run k batches, "die", resume from what was committed.
    const batches = chunk(all, 4);
    for (let k = 1; k < batches.length; k++) {
      db.run("DELETE FROM events");
      db.run("DELETE FROM source_cursors");
      await runOver(new ScriptedSource(batches, { stopAfter: k }));
      await runOver(new ScriptedSource(batches, { after: loadCursor(db, "journal") }));
      expect({ k, events: storedLines().sort() }).toEqual({ k, events: expected });
    }
  });

  test("a quiet stream closes a report left open (a segfault line without its Code: line)", async () => {
    const segv = (await fixtureEntries("real/segfault-python.jsonl")).filter((e) => /segfault at/.test(e.message));
    expect(segv.length).toBe(1);
    const source = new ScriptedSource([segv], { pauseMs: 300 });
    await runOver(source);
    expect(storedLines()).toEqual([expect.stringMatching(/^T2 /)]);
    expect(loadCursor(db, "journal")).toBe(segv[0]?.cursor ?? "missing");
  });
});

test("a storm of userspace lines does not hold an open kernel report (and its commit) forever", async () => {
  const segv = (await fixtureEntries("real/segfault-python.jsonl")).filter((e) => /segfault at/.test(e.message));
  const noise = (await fixtureEntries("real/benign-noise.jsonl")).filter((e) => e.transport !== "kernel");
  expect(noise.length).toBeGreaterThan(5);
  // Batches keep coming every 100 ms, so the stream never goes quiet.
  const batches = [segv, ...Array.from({ length: 20 }, (_, i) => [noise[i % noise.length] as Entry])];
  const committedAt: number[] = [];
  const source = new ScriptedSource(batches, { pauseMs: 100 });
  const pipeline = new Pipeline({
    source,
    triage: new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS }),
    writer: new EventWriter({ db, policy, alerts: null }),
    log: silentLog,
    quietFlushMs: 300,
  });
  const started = Date.now();
  const poll = setInterval(() => {
    if (committedAt.length === 0 && storedLines().some((l) => l.startsWith("T2 "))) committedAt.push(Date.now() - started);
  }, 20);
  await pipeline.run(new AbortController().signal);
  clearInterval(poll);
  expect(committedAt.length).toBe(1);
  // Stored well before the 2 s stream ended: within the quiet time plus a batch or two.
  expect(committedAt[0] as number).toBeLessThan(1_000);
});

describe("alerts", () => {
  test("T1/T2 alert, T3 does not; a fold inside the cooldown does not alert again", async () => {
    const oom = await fixtureEntries("real/oom-memcg-two-kills.jsonl");
    const unit = await fixtureEntries("real/unit-exec-missing.jsonl");
    await runOver(new ScriptedSource([oom, unit]), alertT1T2);
    const events = queryEvents(db, { sinceUs: 0, limit: 10 });
    const tiers = events.map((e) => e.tier).sort();
    expect(tiers).toContain("T1");
    expect(tiers).toContain("T3");
    // Three kills of python3: a lone kill line captured minutes earlier, then two within the
    // cooldown (folded into one event with 2 occurrences). One alert per event, in order.
    const t1 = events.filter((e) => e.tier === "T1").sort((a, b) => a.timestampUs - b.timestampUs);
    expect(t1.map((e) => e.occurrences)).toEqual([1, 2]);
    const outbox = db.query("SELECT event_id FROM outbox ORDER BY id").all() as { event_id: string }[];
    expect(outbox.map((r) => r.event_id)).toEqual(t1.map((e) => e.id));
  });

  test("notifications off: events stored, no outbox rows", async () => {
    await runOver(new ScriptedSource([await fixtureEntries("real/oom-memcg-v1-kernel6.jsonl")]), null);
    expect(storedLines().length).toBe(1);
    expect((db.query("SELECT count(*) AS n FROM outbox").get() as { n: number }).n).toBe(0);
  });
});

test("a failing commit is retried and nothing is lost", async () => {
  db.run("CREATE TEMP TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END");
  const errors: string[] = [];
  const entries = await fixtureEntries("real/segfault-python.jsonl");
  const pipeline = new Pipeline({
    source: new ScriptedSource([entries]),
    triage: new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS }),
    writer: new EventWriter({ db, policy, alerts: null }),
    log: { ...silentLog, error: (m: string) => errors.push(m) },
  });
  setTimeout(() => db.run("DROP TRIGGER refuse"), 700);
  await pipeline.run(new AbortController().signal);
  expect(errors.length).toBeGreaterThanOrEqual(1);
  expect(errors[0]).toContain("disk full (test)");
  expect(storedLines().filter((l) => l.startsWith("T2")).length).toBeGreaterThanOrEqual(1);
  expect(loadCursor(db, "journal")).toBe(entries.at(-1)?.cursor ?? "missing");
});

test("a unit's start is handed on only after the commit that covers its entry, and is stored as no event", async () => {
  const entries = await fixtureEntries("real/unit-sigsegv.jsonl");
  const seen: { unit: string; storedBefore: string[]; cursor: string | null }[] = [];
  const pipeline = new Pipeline({
    source: new ScriptedSource(chunk(entries, 5)),
    triage: new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS }),
    writer: new EventWriter({ db, policy, alerts: null }),
    log: silentLog,
    quietFlushMs: 50,
    onUnitStarts: (starts) => {
      for (const s of starts) seen.push({ unit: s.unit, storedBefore: storedLines(), cursor: loadCursor(db, "journal") });
    },
  });
  await pipeline.run(new AbortController().signal);
  expect(seen.map((s) => s.unit)).toEqual(["lt-segv.service"]);
  // The start's own entry is committed (its cursor saved) before it is handed on.
  const startedAt = entries.findIndex((e) => e.unit === "lt-segv.service" && e.message.startsWith("Started "));
  const committedAt = entries.findIndex((e) => e.cursor === seen[0]!.cursor);
  expect(committedAt).toBeGreaterThanOrEqual(startedAt);
  expect(storedLines().some((l) => l.includes("Started "))).toBe(false);
});
