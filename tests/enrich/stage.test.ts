import { afterEach, beforeEach, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { EventWriter } from "../../src/daemon/writer.ts";
import type { Enricher, Enrichment } from "../../src/enrich/enricher.ts";
import { EnrichmentStage } from "../../src/enrich/stage.ts";
import type { Candidate } from "../../src/event.ts";
import { processRunner } from "../../src/run.ts";
import { openStore } from "../../src/store/db.ts";
import { getEvent } from "../../src/store/events.ts";
import { getIncident, setMute } from "../../src/store/incidents.ts";
import { markSent, nextPending, releaseAllEnriching, type OutboxRow } from "../../src/store/outbox.ts";
import { IncidentStep } from "../../src/daemon/incident-step.ts";
import { incidentPolicy } from "../../src/incidents/policy.ts";
import { withSequence } from "../../src/notify/incident-alert.ts";
import { ntfyTestConfig, incidentsTestConfig } from "../_builders.ts";
import type { Notification } from "../../src/text/alert.ts";
import type { StoredEventWithLines } from "../../src/store/events.ts";
import { triageFixture } from "../_fixtures.ts";

// The enrichment stage on a real SQLite database and a real classified crash: the event is
// stored before any enricher runs, the alert waits for the enrichers (bounded by their
// timeouts), and whatever they return — lines, a better summary, a failure — ends up in the
// event and in the alert that is finally released — written once, from the enriched event.

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

/** Every alert written, by event id: an enriched event's alert must be written once. */
let renders: string[] = [];
function render(e: StoredEventWithLines): Notification {
  renders.push(e.id);
  const n: Notification = withSequence({ title: e.summary, message: e.detail, priority: 4, tags: [], click: null }, e.incidentId);
  // Stands in for the control topic's mute button, which names the incident.
  return e.incidentId
    ? { ...n, actions: [{ action: "view", label: `Mute ${e.incidentId}`, url: "https://ntfy.example/mute", clear: false }] }
    : n;
}

function wire(enrichers: Enricher[], maxQueued?: number, incidents: IncidentStep | null = null, lateMs?: number) {
  renders = [];
  const released: string[] = [];
  const stage = new EnrichmentStage({
    db,
    enrichers,
    runner: processRunner,
    memory: null,
    instanceId: "box",
    log: quiet,
    toNotification: render,
    onReleased: () => released.push("x"),
    ...(maxQueued === undefined ? {} : { maxQueued }),
    ...(lateMs === undefined ? {} : { lateMs }),
    ...(incidents ? { onLateCause: (d: Database, id: string, nowUs: number) => incidents.rootCauseFound(d, id, nowUs) } : {}),
  });
  const writer = new EventWriter({ db, policy, alerts: { tiers: new Set(["T2"]), toNotification: render }, enrichment: stage, incidents });
  return { stage, writer, released };
}

/** The head of the queue, released: what the sender would publish. */
function released(): Extract<OutboxRow, { state: "pending" }> {
  const row = nextPending(db);
  if (row?.state !== "pending") throw new Error(`the head of the outbox is ${row?.state ?? "missing"}, not released`);
  return row;
}

/** The stored text of every alert still waiting for its context. */
function waitingTexts(): (string | null)[] {
  return (db.query("SELECT notification FROM outbox WHERE state = 'enriching'").all() as { notification: string | null }[]).map(
    (r) => r.notification,
  );
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
  // Nothing is written before the context is there.
  expect(waitingTexts()).toEqual([null]);
  expect(renders).toEqual([]);
  finish({ lines: ["Backtrace:", "  #0 strlen (libc.so.6)"], summary: "Crash: python3 (SIGSEGV) in strlen", evidence: { frames: 1 } });
  await stage.idle();

  const row = released();
  expect(row.notification.title).toBe("Crash: python3 (SIGSEGV) in strlen");
  expect(row.notification.message).toContain("#0 strlen (libc.so.6)");
  expect(renders).toEqual([id]);
  const lookup = getEvent(db, id);
  if (lookup.kind !== "found") throw new Error("event missing");
  expect(lookup.event.detail).toContain("Backtrace:");
  expect(lookup.event.enrichment?.sections[0]?.evidence).toEqual({ frames: 1 });
});

test("an enricher that does not answer in time is cut off; the alert goes out saying what is missing", async () => {
  let aborted = false;
  const { stage, writer } = wire(
    [
      enricher("slow", 50, (signal) => new Promise(() => signal.addEventListener("abort", () => (aborted = true)))),
      enricher("fast", 1_000, async () => ({ lines: ["fast context"] })),
    ],
    undefined,
    null,
    50,
  );
  writer.commit([crash], null);
  await stage.idle();

  expect(aborted).toBe(true);
  expect(stage.counters.timedOut).toBe(1);
  const row = released();
  expect(row.notification.message).toContain("fast context");
  expect(row.notification.message).toContain("Not gathered:");
  expect(row.notification.message).toContain("slow: no answer within 0.05s");
  // No answer in the late window either: nothing more was stored or queued.
  expect(stage.counters.late).toBe(0);
  expect(nextPending(db)?.id).toBe(row.id);
});

test("an enricher that throws costs only its own context", async () => {
  const { stage, writer } = wire([enricher("broken", 1_000, async () => Promise.reject(new Error("coredumpctl said nonsense")))]);
  writer.commit([crash], null);
  await stage.idle();

  expect(stage.counters.failed).toBe(1);
  expect(released().notification.message).toContain("broken: coredumpctl said nonsense");
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
  expect(waitingTexts()).toEqual([]);
  const first = getEvent(db, (db.query("SELECT id FROM events WHERE process != 'other'").get() as { id: string }).id);
  if (first.kind !== "found") throw new Error("event missing");
  expect(first.event.detail).toContain("never: not finished, the daemon was stopping");
  // The phone is told so too, in the first alert, which still goes first.
  expect(released().eventId).toBe(first.event.id);
  expect(released().notification.message).toContain("never: not finished, the daemon was stopping");
});

test("alerts a crashed daemon left waiting for enrichment are written and released on the next start", () => {
  const { writer } = wire([enricher("never", 60_000, () => new Promise(() => {}))]);
  writer.commit([crash], null);
  expect(nextPending(db)?.state).toBe("enriching");
  expect(waitingTexts()).toEqual([null]);
  expect(releaseAllEnriching(db, render)).toBe(1);
  const row = released();
  expect(row.notification.title).toBe(crash.summary);
  expect(row.notification.message).toContain("python3");
  expect(renders).toEqual([onlyEventId()]);
});

function incidentStep(): IncidentStep {
  const ntfy = ntfyTestConfig("https://ntfy.example/t", { alertTiers: ["T1", "T2", "T3", "T4"], minSeverity: {} });
  const incidentsConfig = incidentsTestConfig();
  return new IncidentStep({
    instanceId: "box",
    policy: incidentPolicy({ ntfy, incidents: incidentsConfig }),
    rules: { updateIntervalMs: ntfy.updateIntervalMs },
    windows: { unitMs: 300_000, programMs: 86_400_000, diskMs: 86_400_000, otherMs: 3_600_000 },
    onResolve: "update",
    toNotification: render,
    click: null,
  });
}

test("an incident's first alert waits unwritten and is released with the incident's sequence id and mute button", async () => {
  const step = incidentStep();
  let finish: (e: Enrichment) => void = () => {};
  const { stage, writer } = wire([enricher("crash", 5_000, () => new Promise((resolve) => (finish = resolve)))], undefined, step);
  writer.commit([crash], null);
  expect(waitingTexts()).toEqual([null]);
  expect(renders).toEqual([]);
  finish({ lines: ["Backtrace:", "  #0 strlen (libc.so.6)"] });
  await stage.idle();

  const incidentId = (db.query("SELECT id FROM incidents").get() as { id: string }).id;
  const row = released();
  expect(row.notification.sequenceId).toBe(`logtriage-${incidentId}`);
  expect(row.notification.actions?.[0]?.label).toBe(`Mute ${incidentId}`);
  expect(row.notification.message).toContain("#0 strlen (libc.so.6)");
  expect(renders).toEqual([onlyEventId()]);
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

/** Waits until the first alert is written and released (the enricher's timeout passed), then marks it sent. */
async function firstAlertSent(): Promise<Extract<OutboxRow, { state: "pending" }>> {
  while (nextPending(db)?.state !== "pending") await Bun.sleep(5);
  const row = released();
  markSent(db, row, Date.now() * 1000);
  return row;
}

test("an answer after the timeout: the alert goes without it, then the event and the incident's notification are updated in place", async () => {
  let finish: (e: Enrichment) => void = () => {};
  const { stage, writer } = wire(
    [enricher("crash", 30, () => new Promise((resolve) => (finish = resolve)))],
    undefined,
    incidentStep(),
    60_000,
  );
  writer.commit([crash], null);
  const first = await firstAlertSent();
  expect(first.notification.message).toContain("crash: no answer within 0.03s (still looking)");
  expect(stage.counters.timedOut).toBe(1);

  finish({ lines: ["Backtrace:", "  #0 strlen (libc.so.6)"], summary: "Crash: python3 (SIGSEGV) in strlen" });
  await stage.idle();

  expect(stage.counters.late).toBe(1);
  const update = released();
  expect(update.id).not.toBe(first.id);
  expect(update.notification.sequenceId).toBe(first.notification.sequenceId as string);
  expect(update.notification.title).toBe("Crash: python3 (SIGSEGV) in strlen");
  expect(update.notification.message).toContain("Update (root cause found)");
  expect(update.notification.message).toContain("#0 strlen (libc.so.6)");
  expect(update.notification.message).not.toContain("no answer within");
  // The event says it too, once: the late section replaced the cut-off one.
  const lookup = getEvent(db, onlyEventId());
  if (lookup.kind !== "found") throw new Error("event missing");
  expect(lookup.event.detail.match(/Backtrace:/g)?.length).toBe(1);
  expect(lookup.event.detail).not.toContain("still looking");
  expect(lookup.event.enrichment?.sections.map((x) => x.enricher)).toEqual(["crash"]);
  // The update is the incident's last alert: a count escalation now waits a full interval from it.
  const inc = getIncident(db, (db.query("SELECT id FROM incidents").get() as { id: string }).id);
  if (inc.kind !== "found") throw new Error("incident missing");
  expect(inc.incident.alerted?.atUs).toBeGreaterThan(first.createdUs);
  expect(inc.incident.updateDue).toBe(false);
});

test("an enricher still looking after it answered (`later`) completes the event and updates the notification", async () => {
  let found: (e: Enrichment | null) => void = () => {};
  const { stage, writer } = wire(
    [
      enricher("crash", 5_000, async () => ({
        lines: ["First crash of this program in 24 h"],
        missing: ["no backtrace yet"],
        later: () => new Promise<Enrichment | null>((resolve) => (found = resolve)),
      })),
    ],
    undefined,
    incidentStep(),
    60_000,
  );
  writer.commit([crash], null);
  const first = await firstAlertSent();
  expect(first.notification.message).toContain("no backtrace yet");

  found({ lines: ["Backtrace:", "  #0 strlen (libc.so.6)", "First crash of this program in 24 h"] });
  await stage.idle();

  const update = released();
  expect(update.notification.sequenceId).toBe(first.notification.sequenceId as string);
  expect(update.notification.message).toContain("#0 strlen (libc.so.6)");
  expect(update.notification.message).not.toContain("no backtrace yet");
});

test("nothing found late, or a muted incident: no update is queued", async () => {
  let found: (e: Enrichment | null) => void = () => {};
  const step = incidentStep();
  const { stage, writer } = wire(
    [enricher("crash", 5_000, async () => ({ lines: ["x"], later: () => new Promise<Enrichment | null>((resolve) => (found = resolve)) }))],
    undefined,
    step,
    60_000,
  );
  writer.commit([crash], null);
  await firstAlertSent();
  found(null);
  await stage.idle();
  expect(nextPending(db)).toBeNull();
  expect(stage.counters.late).toBe(0);

  // The same cause arriving for a muted incident is stored, and the phone left alone.
  const incidentId = (db.query("SELECT id FROM incidents").get() as { id: string }).id;
  setMute(db, incidentId, { untilUs: null, severity: "critical", loop: false });
  expect(step.rootCauseFound(db, onlyEventId(), Date.now() * 1000)).toBe(0);
});
