import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { saveIncident } from "../../src/store/incidents.ts";
import { planPost } from "../../src/notify/alertmanager-feed.ts";
import { owedAlerts, recordPosted } from "../../src/store/alertmanager-sync.ts";
import { openStore } from "../../src/store/db.ts";
import { storedUnitIncident } from "../_builders.ts";

// What one pass of the Alertmanager feed posts, from a real SQLite store: new incidents at once,
// open ones again only after the resend interval, a label change ending the old alert, a
// resolution until it was posted, an incident that came and went while Alertmanager was away
// posted firing first, and nothing from before the feed started.

const S = 1_000_000;
const NOW_US = Date.UTC(2026, 10, 23, 9, 0, 0) * 1000;
const options = { instanceId: "nas", detailsBaseUrl: "http://127.0.0.1:9142", resendMs: 60_000, nowUs: NOW_US };
let db: Database;
beforeEach(() => {
  db = openStore(":memory:");
});
afterEach(() => db.close());

function plan(nowUs = NOW_US) {
  return planPost(db, owedAlerts(db, NOW_US - 3600 * S, 500), { ...options, nowUs });
}

describe("Alertmanager feed: what a pass posts", () => {
  test("a new open incident: one firing alert with its labels, annotations and link", () => {
    const inc = storedUnitIncident(db, "a1".padEnd(32, "0"), "app.service", NOW_US - 10 * S);
    const { alerts, planned } = plan();
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.labels).toEqual({
      alertname: "unit-failed",
      instance: "nas",
      tier: "T3",
      severity: "medium",
      incident: inc.id,
      unit: "app.service",
    });
    expect(alerts[0]?.annotations["summary"]).toBe("Service failed: app.service (exit-code)");
    expect(alerts[0]?.startsAt).toBe(new Date((NOW_US - 10 * S) / 1000).toISOString());
    expect(alerts[0]?.endsAt).toBeUndefined();
    expect(alerts[0]?.generatorURL).toBe(`http://127.0.0.1:9142/incidents/${inc.id}`);
    expect(planned).toEqual([{ incidentId: inc.id, labels: alerts[0]?.labels as Record<string, string>, state: "firing" }]);
  });

  test("posted a moment ago: nothing until the resend interval has passed", () => {
    const inc = storedUnitIncident(db, "a1".padEnd(32, "0"), "app.service", NOW_US - 10 * S);
    recordPosted(db, inc.id, plan().alerts[0]?.labels as Record<string, string>, "firing", NOW_US);
    expect(plan(NOW_US + 30 * S).alerts).toHaveLength(0);
    expect(plan(NOW_US + 61 * S).alerts).toHaveLength(1);
  });

  test("a higher severity: the alert under the old labels is ended in the same post", () => {
    const inc = storedUnitIncident(db, "a1".padEnd(32, "0"), "app.service", NOW_US - 10 * S);
    const before = plan().alerts[0]?.labels as Record<string, string>;
    recordPosted(db, inc.id, before, "firing", NOW_US - S);
    saveIncident(db, { ...inc, severity: "critical" });
    const { alerts } = plan();
    expect(alerts).toHaveLength(2);
    expect(alerts[0]?.labels).toEqual(before);
    expect(alerts[0]?.endsAt).toBe(new Date(NOW_US / 1000).toISOString());
    expect(alerts[1]?.labels["severity"]).toBe("critical");
    expect(alerts[1]?.endsAt).toBeUndefined();
  });

  test("resolved after it was posted firing: posted with endsAt until a post of it succeeds", () => {
    const inc = storedUnitIncident(db, "a1".padEnd(32, "0"), "app.service", NOW_US - 600 * S, { resolved: true });
    const labels = { alertname: "unit-failed", instance: "nas", tier: "T3", severity: "medium", incident: inc.id, unit: "app.service" };
    recordPosted(db, inc.id, labels, "firing", NOW_US - 300 * S);
    // Posted firing five minutes ago, a resend interval (1 min) is long past: the end goes out.
    const first = plan();
    expect(first.alerts).toHaveLength(1);
    expect(first.alerts[0]?.endsAt).toBe(new Date((NOW_US - 540 * S) / 1000).toISOString());
    expect(first.planned[0]?.state).toBe("resolved");
    // Not taken (Alertmanager down): still owed on the next pass.
    expect(plan(NOW_US + S).alerts).toHaveLength(1);
    recordPosted(db, inc.id, labels, "resolved", NOW_US + S);
    expect(plan(NOW_US + 2 * S).alerts).toHaveLength(0);
  });

  test("came and went while Alertmanager was away: firing first, resolved once it has fired a resend interval", () => {
    const inc = storedUnitIncident(db, "a1".padEnd(32, "0"), "app.service", NOW_US - 600 * S, { resolved: true });
    const first = plan();
    expect(first.alerts).toHaveLength(1);
    expect(first.alerts[0]?.endsAt).toBeUndefined();
    expect(first.planned[0]?.state).toBe("firing");
    recordPosted(db, inc.id, first.alerts[0]?.labels as Record<string, string>, "firing", NOW_US);
    expect(plan(NOW_US + 30 * S).alerts).toHaveLength(0);
    const later = plan(NOW_US + 61 * S);
    expect(later.alerts[0]?.endsAt).toBe(new Date((NOW_US - 540 * S) / 1000).toISOString());
    expect(later.planned[0]?.state).toBe("resolved");
  });

  test("from before the feed started (Alertmanager configured later): not owed", () => {
    storedUnitIncident(db, "a1".padEnd(32, "0"), "app.service", NOW_US - 7200 * S, { resolved: true });
    expect(plan().alerts).toHaveLength(0);
  });
});
