import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { ntfyTestConfig } from "../_builders.ts";
import type { Config } from "../../src/config/schema.ts";
import type { Candidate } from "../../src/event.ts";
import { IncidentStep } from "../../src/daemon/incident-step.ts";
import { parseUnitState } from "../../src/daemon/unit-state.ts";
import { staleCandidate } from "../../src/monitors/timers.ts";
import { pressureCandidate, risingPressureCandidate } from "../../src/monitors/psi.ts";
import { EventWriter } from "../../src/daemon/writer.ts";
import { incidentPolicy, resolveWindows } from "../../src/incidents/policy.ts";
import { alertFor } from "../../src/notify/alert.ts";
import { withSequence } from "../../src/notify/incident-alert.ts";
import type { Notification } from "../../src/text/alert.ts";
import { openStore } from "../../src/store/db.ts";
import { getEvent, type StoredEventWithLines } from "../../src/store/events.ts";
import { incidentEventIds, queryIncidents } from "../../src/store/incidents.ts";
import { triageFixture } from "../_fixtures.ts";

// The incident step against a real database, with real captured journal lines: which events
// become one incident, and what reaches the outbox (one notification per incident, updated in
// place through one ntfy sequence id).

const S = 1_000_000;
const ntfy = ntfyTestConfig("https://ntfy.example/t", { alertTiers: ["T1", "T2", "T3", "T4"], minSeverity: { T4: "high" } });
const incidentsConfig: Config["incidents"] = {
  ignoreUnits: ["ignored.service"],
  quietUnits: ["quiet.service"],
  ignorePrograms: [],
  quietPrograms: [],
  resolveUnitMs: 5 * 60_000,
  resolveProgramMs: 86_400_000,
  resolveDiskMs: 86_400_000,
  resolveOtherMs: 3_600_000,
};

let db: Database;
let unitFailed: boolean | null;
let timerFiredUs: number | null;
let unitSub: string | null;
beforeEach(() => {
  db = openStore(":memory:");
  unitFailed = null;
  unitSub = null;
  timerFiredUs = null;
});
afterEach(() => db.close());

function setup(over: { onResolve?: Config["ntfy"]["onResolve"] } = {}): { writer: EventWriter; step: IncidentStep } {
  const toNotification = (event: StoredEventWithLines) => withSequence(alertFor(event, ntfy, "vm"), event.incidentId);
  const step = new IncidentStep({
    instanceId: "vm",
    policy: incidentPolicy({ ntfy, incidents: incidentsConfig }),
    rules: { updateIntervalMs: ntfy.updateIntervalMs },
    windows: resolveWindows(incidentsConfig),
    onResolve: over.onResolve ?? "update",
    toNotification,
    click: null,
    unitState: async () =>
      unitFailed === null
        ? null
        : {
            failed: unitFailed,
            active: unitFailed ? "failed" : "active",
            sub: unitSub ?? (unitFailed ? "failed" : "running"),
            lastTriggerUs: timerFiredUs,
          },
  });
  const writer = new EventWriter({
    db,
    policy: { instanceId: "vm", cooldownMs: 5 * 60_000, aggregateThreshold: 3 },
    alerts: { tiers: new Set(), toNotification },
    incidents: step,
  });
  return { writer, step };
}

function outbox(): Notification[] {
  return (db.query("SELECT notification FROM outbox ORDER BY id").all() as { notification: string }[]).map(
    (r) => JSON.parse(r.notification) as Notification,
  );
}

/** The candidate as if it happened now (+ offset): quiet windows count from the wall clock. */
function now(c: Candidate, offsetUs = 0): Candidate {
  return { ...c, timestampUs: Date.now() * 1000 + offsetUs };
}

describe("one incident per thing going wrong", () => {
  test("a unit OOM-killed: the kernel's report and the unit's oom-kill failure are one incident, one notification (real capture)", async () => {
    const { writer } = setup();
    const { candidates } = await triageFixture("real/unit-oom-killed-user-service.jsonl");
    writer.commit(
      candidates.map((c) => now(c)),
      null,
    );
    const incidents = queryIncidents(db, { sinceUs: 0, limit: 10 });
    expect(incidents).toHaveLength(1);
    const inc = incidents[0]!;
    expect(inc.fingerprint).toBe("unit:lt-cap-oomsvc2.service");
    expect(inc.tier).toBe("T1");
    expect(inc.severity).toBe("critical");
    expect(incidentEventIds(db, inc.id)).toHaveLength(2);
    const sent = outbox();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.sequenceId).toBe(`logtriage-${inc.id}`);
    expect(sent[0]!.title).toContain("OOM kill");
  });

  test("a crash: segfault line, coredump entry, unit exit and unit failure are one incident (real capture)", async () => {
    const { writer } = setup();
    const { candidates } = await triageFixture("real/coredump-c-program.jsonl");
    writer.commit(
      candidates.map((c) => now(c)),
      null,
    );
    const incidents = queryIncidents(db, { sinceUs: 0, limit: 10 });
    expect(incidents.map((i) => i.fingerprint)).toEqual(["unit:lt-crash-c.service"]);
    expect(incidents[0]!.tier).toBe("T2");
    expect(outbox()).toHaveLength(1);
  });

  test("a unit failing 20 times: opened, one crash-loop update after the interval, resolved when quiet and not failed — 3 posts, one sequence id", async () => {
    const { writer, step } = setup();
    const { candidates } = await triageFixture("real/timer-service-fails.jsonl");
    const failure = candidates.find((c) => c.rule === "unit-failed") as Candidate;
    const t0 = Date.now() * 1000;
    for (let i = 0; i < 20; i++) writer.commit([{ ...failure, timestampUs: t0 + i * 15 * S }], null);
    expect(outbox()).toHaveLength(1); // the loop came within the minute: held back
    const [inc] = queryIncidents(db, { sinceUs: 0, limit: 10 });
    expect(inc!.occurrences).toBe(20);
    expect(inc!.loop).toBe(true);
    expect(inc!.updateDue).toBe(true);
    // The sweep a minute after the first alert sends the held-back update.
    expect(await step.sweep(db, t0 + 30 * S)).toBe(0);
    expect(await step.sweep(db, Date.now() * 1000 + 61 * S)).toBe(1);
    // Still failed per systemd: stays open however quiet.
    const lastUs = t0 + 19 * 15 * S;
    unitFailed = true;
    expect(await step.sweep(db, lastUs + 6 * 60 * S)).toBe(0);
    unitFailed = false;
    expect(await step.sweep(db, lastUs + 6 * 60 * S)).toBe(1);
    const sent = outbox();
    expect(sent).toHaveLength(3);
    expect(new Set(sent.map((n) => n.sequenceId)).size).toBe(1);
    expect(sent[1]!.message).toStartWith("Update (became a loop): 20 occurrences");
    expect(sent[2]!.title).toStartWith("✅ [vm] Resolved: Crash loop: lt-tick.service");
    expect(sent[2]!.message).toStartWith("Resolved after 4 min 45 s: restart loop quiet for 5 min");
    expect(queryIncidents(db, { sinceUs: 0, limit: 10, openOnly: true })).toHaveLength(0);
  });

  test("a flood: ten incidents a minute get their own notification, the rest one summary", async () => {
    const { writer, step } = setup();
    const { candidates } = await triageFixture("real/timer-service-fails.jsonl");
    const failure = candidates.find((c) => c.rule === "unit-failed") as Candidate;
    writer.commit(
      Array.from({ length: 25 }, (_, i) => ({ ...now(failure), unit: `u${i}.service`, facts: { kind: "plain" as const } })),
      null,
    );
    expect(outbox()).toHaveLength(10);
    expect(await step.sweep(db, Date.now() * 1000)).toBe(1);
    const summary = outbox()[10]!;
    expect(summary.title).toBe("⚠️ [vm] 15 more incidents");
    expect(summary.message.split("\n").filter((l) => l.startsWith("• "))).toHaveLength(15);
    expect(summary.sequenceId).toBe("logtriage-flood-vm");
    // The summarised ones are resolved quietly; the ten told on their own are resolved aloud.
    unitFailed = false;
    expect(await step.sweep(db, Date.now() * 1000 + 6 * 60 * S)).toBe(10);
  });

  test("memory pressure rising is an incident while it lasts; the OOM kill escalates that same incident, which the unit's failure joins", async () => {
    const { writer } = setup();
    const t0 = Date.now() * 1000;
    const pressure = {
      startUs: t0,
      endUs: t0 + 12 * S,
      ended: false,
      readings: 12,
      peakSomeAvg10: 62,
      peakFullAvg10: 20,
      warnSomeAvg10: 50,
      warnFullAvg10: 10,
      lowestMemAvailableKb: 100_000,
      memTotalKb: 16_000_000,
      highestSwapUsedKb: 0,
      topAtPeak: [{ pid: 7, comm: "python3", rssKb: 9_000_000, owner: null }],
    };
    writer.commit([risingPressureCandidate(pressure)], null);
    expect(outbox()).toHaveLength(1);
    expect(outbox()[0]!.title).toContain("Memory pressure rising for 12 s");
    const { candidates } = await triageFixture("real/unit-oom-killed-user-service.jsonl");
    writer.commit(
      candidates.map((c, i) => ({ ...c, timestampUs: t0 + (13 + i) * S })),
      null,
    );
    const incidents = queryIncidents(db, { sinceUs: 0, limit: 10 });
    expect(incidents.map((i) => [i.fingerprint, i.tier, i.severity, i.state])).toEqual([
      ["unit:lt-cap-oomsvc2.service", "T1", "critical", "open"],
    ]);
    expect(incidentEventIds(db, incidents[0]!.id)).toHaveLength(3);
    const sent = outbox();
    expect(sent).toHaveLength(2);
    expect(sent[1]!.title).toContain("OOM kill");
    expect(sent[1]!.message).toStartWith("Update (severity high → critical)");
    expect(new Set(sent.map((n) => n.sequenceId)).size).toBe(1);
    // The episode's end, after the kill: kept as an incident already over, not told.
    writer.commit([pressureCandidate({ ...pressure, endUs: t0 + 20 * S, ended: true })], null);
    expect(outbox()).toHaveLength(2);
    const over = queryIncidents(db, { sinceUs: 0, limit: 10 }).find((i) => i.kind === "pressure")!;
    expect([over.state, over.resolution]).toEqual(["resolved", "pressure eased"]);
  });

  test("on_resolve = clear dismisses the notification instead", async () => {
    const { writer, step } = setup({ onResolve: "clear" });
    const { candidates } = await triageFixture("real/timer-service-fails.jsonl");
    const failure = candidates.find((c) => c.rule === "unit-failed") as Candidate;
    writer.commit([now(failure)], null);
    unitFailed = false;
    expect(await step.sweep(db, Date.now() * 1000 + 6 * 60 * S)).toBe(1);
    const sent = outbox();
    expect(sent.map((n) => n.op ?? "publish")).toEqual(["publish", "clear"]);
    expect(sent[1]!.sequenceId).toBe(sent[0]!.sequenceId);
  });

  test("a probe's outage resolves when it is healthy again; ignore drops, quiet stores without alerting", () => {
    const { writer } = setup();
    const probe = (state: "unhealthy" | "healthy", offsetUs: number): Candidate => ({
      tier: "T3",
      severity: state === "unhealthy" ? "high" : "medium",
      rule: state === "unhealthy" ? "probe-unhealthy" : "probe-healthy",
      summary: `web is ${state}`,
      process: null,
      pid: null,
      unit: null,
      timestampUs: Date.now() * 1000 + offsetUs,
      facts: { kind: "probe", probe: { service: "web", state } as never },
      entries: [],
    });
    writer.commit([probe("unhealthy", 0)], null);
    writer.commit([probe("healthy", 90 * S)], null);
    const [inc] = queryIncidents(db, { sinceUs: 0, limit: 10 });
    expect(inc!.state).toBe("resolved");
    expect(inc!.resolution).toBe("healthy again");
    const sent = outbox();
    expect(sent.map((n) => n.message.split("\n")[0])).toEqual(["Host: vm", "Resolved after 1 min 30 s: healthy again"]);

    const failed = (unit: string): Candidate => ({
      ...probe("unhealthy", 0),
      rule: "unit-failed",
      unit,
      facts: { kind: "plain" },
      summary: `${unit} failed`,
    });
    writer.commit([failed("ignored.service"), failed("quiet.service")], null);
    expect(db.query("SELECT count(*) AS n FROM events WHERE unit = 'ignored.service'").get()).toEqual({ n: 0 });
    expect(queryIncidents(db, { sinceUs: 0, limit: 10 }).map((i) => i.subject)).toContain("quiet.service");
    expect(outbox()).toHaveLength(2);
    const quiet = queryIncidents(db, { sinceUs: 0, limit: 10 }).find((i) => i.subject === "quiet.service")!;
    const lead = getEvent(db, quiet.leadEventId);
    expect(lead.kind === "found" && lead.event.incidentId).toBe(quiet.id);
  });
});

describe("a unit started again ends its incident at once", () => {
  async function failedUnit() {
    const { writer, step } = setup();
    const { candidates } = await triageFixture("real/timer-service-fails.jsonl");
    const failure = candidates.find((c) => c.rule === "unit-failed") as Candidate;
    const t0 = Date.now() * 1000;
    writer.commit([{ ...failure, timestampUs: t0 }], null);
    const [inc] = queryIncidents(db, { sinceUs: 0, limit: 10 });
    return { step, unit: failure.unit as string, t0, inc: inc! };
  }

  test("active per systemctl: resolved from the start's time, the phone's notification replaced in place", async () => {
    const { step, unit, t0, inc } = await failedUnit();
    unitFailed = false;
    expect(await step.unitStarted(db, { unit, atUs: t0 + 90 * S }, t0 + 91 * S)).toBe(1);
    const [after] = queryIncidents(db, { sinceUs: 0, limit: 10 });
    expect([after!.state, after!.resolution, after!.resolvedUs]).toEqual(["resolved", "active again", t0 + 90 * S]);
    const sent = outbox();
    expect(sent).toHaveLength(2);
    expect(sent[1]!.sequenceId).toBe(`logtriage-${inc.id}`);
    expect(sent[1]!.message).toStartWith("Resolved after 1 min 30 s: active again");
    // A second start of the same unit finds nothing open: nothing more is sent.
    expect(await step.unitStarted(db, { unit, atUs: t0 + 95 * S }, t0 + 96 * S)).toBe(0);
    expect(outbox()).toHaveLength(2);
  });

  test("systemctl cannot be asked: the journal's start alone resolves it, said so", async () => {
    const { step, unit, t0 } = await failedUnit();
    unitFailed = null;
    expect(await step.unitStarted(db, { unit, atUs: t0 + 5 * S }, t0 + 6 * S)).toBe(1);
    expect(queryIncidents(db, { sinceUs: 0, limit: 10 })[0]!.resolution).toBe("started again");
  });

  test("failed again, or waiting for Restart=, per systemctl: stays open", async () => {
    const { step, unit, t0 } = await failedUnit();
    unitFailed = true;
    expect(await step.unitStarted(db, { unit, atUs: t0 + 5 * S }, t0 + 6 * S)).toBe(0);
    unitFailed = false;
    unitSub = "auto-restart";
    expect(await step.unitStarted(db, { unit, atUs: t0 + 5 * S }, t0 + 6 * S)).toBe(0);
    expect(queryIncidents(db, { sinceUs: 0, limit: 10 })[0]!.state).toBe("open");
    expect(outbox()).toHaveLength(1);
  });

  test("a start older than the incident's last event, another unit's start, or a timer armed: nothing", async () => {
    const { step, unit, t0 } = await failedUnit();
    unitFailed = false;
    expect(await step.unitStarted(db, { unit, atUs: t0 - 1 * S }, t0 + 6 * S)).toBe(0);
    expect(await step.unitStarted(db, { unit: "other.service", atUs: t0 + 5 * S }, t0 + 6 * S)).toBe(0);
    expect(await step.unitStarted(db, { unit: unit.replace(/\.service$/, ".timer"), atUs: t0 + 5 * S }, t0 + 6 * S)).toBe(0);
    expect(queryIncidents(db, { sinceUs: 0, limit: 10 })[0]!.state).toBe("open");
  });
});

describe("what systemd says of a unit", () => {
  test("a real `systemctl show` of two timers: loaded and active, one fired (its time read in UTC), one never", async () => {
    const text = await Bun.file(new URL("../fixtures/real/systemctl-show-timers.txt", import.meta.url)).text();
    const blocks = text.split(/\n{2,}/).filter((b) => b.includes("LoadState="));
    const states = blocks.map(parseUnitState);
    expect(states[0]).toEqual({ failed: false, active: "active", sub: "", lastTriggerUs: Date.parse("2026-11-23T00:38:35Z") * 1000 });
    expect(states[1]).toEqual({ failed: false, active: "active", sub: "", lastTriggerUs: null });
    expect(parseUnitState("LoadState=loaded\nActiveState=failed\nSubState=failed\n")).toEqual({
      failed: true,
      active: "failed",
      sub: "failed",
      lastTriggerUs: null,
    });
    expect(parseUnitState("LoadState=loaded\nActiveState=activating\nSubState=auto-restart\n")?.sub).toBe("auto-restart");
    expect(parseUnitState("LoadState=not-found\nActiveState=inactive\n")).toBeNull();
  });

  test("a stale timer's incident stays open until the timer fires again", async () => {
    const { writer, step } = setup();
    const nowUs = Date.now() * 1000;
    writer.commit(
      [
        staleCandidate(
          "backup.timer",
          { sinceUs: nowUs - 3 * 86_400 * S, why: "last fired 3 d ago" },
          { us: 86_400 * S, how: "OnCalendar=daily" },
          nowUs,
        ),
      ],
      null,
    );
    unitFailed = false;
    expect(await step.sweep(db, nowUs + 6 * 60 * S)).toBe(0);
    timerFiredUs = nowUs + 60 * S;
    expect(await step.sweep(db, nowUs + 6 * 60 * S)).toBe(1);
    const [inc] = queryIncidents(db, { sinceUs: 0, limit: 10 });
    expect(inc!.resolution).toBe("the timer fired again");
  });
});
