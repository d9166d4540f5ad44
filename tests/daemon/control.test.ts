import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Candidate } from "../../src/event.ts";
import { ControlSubscriber, loadOrCreateControlKey, muteButton } from "../../src/daemon/control.ts";
import { IncidentStep } from "../../src/daemon/incident-step.ts";
import { EventWriter } from "../../src/daemon/writer.ts";
import { incidentPolicy } from "../../src/incidents/policy.ts";
import type { NtfyAction } from "../../src/text/alert.ts";
import { parseNtfyUrl } from "../../src/parse/ntfy-url.ts";
import { openStore } from "../../src/store/db.ts";
import { getIncident, queryIncidents } from "../../src/store/incidents.ts";
import { until } from "../e2e/_daemon.ts";
import { startNtfyStandIn } from "../_ntfy-standin.ts";
import { triageFixture } from "../_fixtures.ts";

// The control topic against the ntfy stand-in: the alert's "Mute 24 h" button is published by
// "the phone" (a POST of the button's body to its URL, as ntfy's app does for an http action),
// the daemon's subscriber reads it from the topic's JSON stream and mutes the incident; a
// replay, an unsigned and a forged message are refused, each kind logged once.

const dir = mkdtempSync(join(tmpdir(), "logtriage-control-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the control topic", () => {
  test("the key is made at first start, 0600, and read back the same", () => {
    const path = join(dir, "k", "control.key");
    const key = loadOrCreateControlKey(path);
    expect(key).toHaveLength(32);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadOrCreateControlKey(path).equals(key)).toBe(true);
  });

  test("a signed mute from the phone mutes the incident; replayed, unsigned and forged ones are refused and logged once each", async () => {
    const ntfy = await startNtfyStandIn({ rateLimit: null });
    const db = openStore(join(dir, "events.db"));
    const key = loadOrCreateControlKey(join(dir, "control.key"));
    const target = parseNtfyUrl(`${ntfy.url}/alerts`)!;
    const step = new IncidentStep({
      instanceId: "box",
      policy: incidentPolicy({
        ntfy: { alertTiers: ["T1", "T2", "T3"], minSeverity: {} },
        incidents: { ignoreUnits: [], quietUnits: [], ignorePrograms: [], quietPrograms: [] },
      } as never),
      rules: { updateIntervalMs: 60_000 },
      windows: { unitMs: 300_000, programMs: 86_400_000, diskMs: 86_400_000, otherMs: 3_600_000 },
      onResolve: "update",
      toNotification: (e) => ({
        title: e.summary,
        message: "m",
        priority: 5,
        tags: [],
        click: null,
        actions: e.incidentId ? [muteButton(key, target, "lt-control", e.incidentId, Date.now() * 1000)] : [],
      }),
      click: null,
    });
    const writer = new EventWriter({
      db,
      policy: { instanceId: "box", cooldownMs: 300_000, aggregateThreshold: 3 },
      alerts: null,
      incidents: step,
    });
    const { candidates } = await triageFixture("real/unit-oom-killed-user-service.jsonl");
    writer.commit(
      candidates.map((c: Candidate) => ({ ...c, timestampUs: Date.now() * 1000 })),
      null,
    );
    const alert = JSON.parse(
      (db.query("SELECT notification FROM outbox ORDER BY id LIMIT 1").get() as { notification: string }).notification,
    ) as { actions: NtfyAction[] };
    const button = alert.actions[0] as Extract<NtfyAction, { action: "http" }>;
    expect(button).toMatchObject({ action: "http", label: "Mute 24 h", url: `${ntfy.url}/lt-control`, method: "POST", clear: true });

    const logged: string[] = [];
    const log = { info: (m: string) => logged.push(`info ${m}`), warn: (m: string) => logged.push(`warn ${m}`) };
    const subscriber = new ControlSubscriber(db, key, target, "lt-control", async () => null, log);
    const controller = new AbortController();
    const running = subscriber.run(controller.signal);
    try {
      const phone = (body: string) => fetch(button.url, { method: button.method, body });
      // The subscription is open once the stand-in has a subscriber that sees a message: publish until one lands.
      await until(
        "the subscription",
        async () => {
          await phone("hello");
          return logged.some((l) => l.includes("refused a message (unsigned)"));
        },
        5_000,
        100,
      );
      await phone(button.body);
      const [inc] = queryIncidents(db, { sinceUs: 0, limit: 5 });
      await until(
        "the mute",
        () => {
          const found = getIncident(db, inc!.id);
          return found.kind === "found" && found.incident.mute !== null;
        },
        5_000,
      );
      const found = getIncident(db, inc!.id);
      const mute = found.kind === "found" ? found.incident.mute : null;
      expect(mute?.severity).toBe("critical");
      expect((mute?.untilUs ?? 0) - Date.now() * 1000).toBeGreaterThan(23.9 * 3600 * 1e6);
      await phone(button.body);
      await phone(button.body);
      await phone(button.body.replace(/[0-9a-f]$/, (c) => (c === "0" ? "1" : "0")));
      await phone("unsigned again");
      await until(
        "the refusals",
        () => logged.some((l) => l.includes("(replayed)")) && logged.some((l) => l.includes("(bad signature)")),
        5_000,
      );
      await Bun.sleep(200);
      expect(logged.filter((l) => l.startsWith("warn")).map((l) => /\(([^)]+)\)/.exec(l)?.[1])).toEqual([
        "unsigned",
        "replayed",
        "bad signature",
      ]);
      expect(logged.filter((l) => l.includes("muted for 24 h from the phone"))).toHaveLength(1);

      // The server goes away and comes back; a mute published before the subscriber is back
      // is read on reconnecting (since=<last message seen>), not lost.
      db.query("UPDATE incidents SET mute_json = NULL").run();
      await ntfy.stop();
      await until("the subscriber to notice", () => logged.some((l) => l.includes("mute buttons wait until it answers")), 5_000);
      await ntfy.restart();
      const again = muteButton(key, target, "lt-control", inc!.id, Date.now() * 1000) as Extract<NtfyAction, { action: "http" }>;
      await phone(again.body);
      await until(
        "the mute after reconnecting",
        () => {
          const f = getIncident(db, inc!.id);
          return f.kind === "found" && f.incident.mute !== null;
        },
        10_000,
      );
      expect(logged.some((l) => l.includes("subscribed again"))).toBe(true);
    } finally {
      controller.abort();
      await running;
      db.close();
      await ntfy.stop();
    }
  });
});
