import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { AlertmanagerClient, postableAlert, type AlertSubject } from "../../src/notify/alertmanager.ts";
import { NotifyError } from "../../src/notify/notifier.ts";
import { until } from "./_daemon.ts";
import { ALERTMANAGER, startAlertmanager, type RealAlertmanager } from "./_alertmanager.ts";

// The Alertmanager client against a real prometheus-alertmanager: what it posts is taken,
// listed with the labels we gave, grouped into one webhook notification, resolved by endsAt,
// and silenced by a silence it creates.

const present = existsSync(ALERTMANAGER);

function subject(overrides: Partial<AlertSubject>): AlertSubject {
  return {
    name: "kernel-oom-kill",
    tier: "T1",
    severity: "critical",
    summary: "OOM kill: python3 (pid 4242, 180 MiB RSS)",
    description: "python3 grew 60 MiB/s in its last 3 s; cgroup lt_test hit its own limit of 64 MiB",
    unit: "lt-hog.service",
    process: "python3",
    disk: null,
    incidentId: "inc-1",
    openedUs: Date.now() * 1000,
    resolvedUs: null,
    ...overrides,
  };
}

describe.skipIf(!present)("Alertmanager client against a real prometheus-alertmanager", () => {
  let am: RealAlertmanager;
  let client: AlertmanagerClient;
  const signal = new AbortController().signal;

  beforeAll(async () => {
    am = await startAlertmanager({ groupBy: ["instance"] });
    client = new AlertmanagerClient({
      urls: [am.url],
      auth: { bearerToken: null, bearerTokenFile: null, basic: null },
      tls: { caFile: null, insecureSkipVerify: false },
      timeoutMs: 5_000,
    });
  });
  afterAll(async () => {
    await am?.stop();
  });

  test("two incidents of one instance: listed with their labels, one grouped webhook notification", async () => {
    const oom = subject({ incidentId: "inc-oom" });
    const unit = subject({
      incidentId: "inc-unit",
      name: "unit-failed",
      tier: "T3",
      severity: "high",
      summary: "lt-fail.service failed (exit-code)",
      process: null,
      unit: "lt-fail.service",
      description: "",
    });
    await client.postAlerts([postableAlert(oom, "host-a", null), postableAlert(unit, "host-a", "http://127.0.0.1:8080")], signal);
    const listed = await client.alerts(am.url, { instance: "host-a" }, signal);
    expect(listed.map((a) => a.labels["alertname"]).sort()).toEqual(["kernel-oom-kill", "unit-failed"]);
    const unitAlert = listed.find((a) => a.labels["alertname"] === "unit-failed");
    expect(unitAlert?.labels).toMatchObject({
      instance: "host-a",
      tier: "T3",
      severity: "high",
      unit: "lt-fail.service",
      incident: "inc-unit",
    });
    await until(
      "the grouped webhook notification",
      () => am.received.some((n) => n.commonLabels["instance"] === "host-a" && n.alerts.length === 2),
      15_000,
      100,
    );
    const grouped = am.received.filter((n) => n.commonLabels["instance"] === "host-a");
    expect(grouped).toHaveLength(1);
    expect(grouped[0]?.status).toBe("firing");
  });

  test("endsAt resolves the alert: the webhook says resolved", async () => {
    const opened = Date.now() * 1000 - 60_000_000;
    const open = subject({ incidentId: "inc-resolve", openedUs: opened });
    const instance = "host-resolve";
    await client.postAlerts([postableAlert(open, instance, null)], signal);
    await until(
      "the firing notification",
      () => am.received.some((n) => n.commonLabels["instance"] === instance && n.status === "firing"),
      15_000,
      100,
    );
    await client.postAlerts([postableAlert({ ...open, resolvedUs: Date.now() * 1000 }, instance, null)], signal);
    await until(
      "the resolved notification",
      () => am.received.some((n) => n.commonLabels["instance"] === instance && n.status === "resolved"),
      15_000,
      100,
    );
  });

  test("a silence made through the client suppresses the alert it matches", async () => {
    const instance = "host-silence";
    const id = await client.createSilence(
      {
        matchers: [
          { name: "instance", value: instance, isRegex: false, isEqual: true },
          { name: "incident", value: "inc-silenced", isRegex: false, isEqual: true },
        ],
        startsAt: new Date(),
        endsAt: new Date(Date.now() + 3_600_000),
        createdBy: "logtriage test",
        comment: "muted from the test",
      },
      signal,
    );
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await client.postAlerts([postableAlert(subject({ incidentId: "inc-silenced" }), instance, null)], signal);
    await until(
      "Alertmanager to show the alert silenced",
      async () => (await client.alerts(am.url, { instance }, signal)).some((a) => a.silencedBy.includes(id)),
      10_000,
      100,
    );
    // group_wait is 1 s: give the notification pipeline well past it, then nothing may have come.
    await Bun.sleep(2_500);
    expect(am.received.filter((n) => n.commonLabels["instance"] === instance)).toHaveLength(0);
  });

  test("Alertmanager down: the post fails as retryable, naming the address", async () => {
    await am.pause();
    try {
      const failure = await client.postAlerts([postableAlert(subject({}), "host-down", null)], signal).then(
        () => null,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(NotifyError);
      expect((failure as NotifyError).retryable).toBe(true);
      expect((failure as NotifyError).message).toContain(am.url);
    } finally {
      await am.start();
    }
  });

  test("a bad alert is refused as not retryable", async () => {
    const bad = { ...postableAlert(subject({}), "host-bad", null), labels: {} };
    const failure = await client.postAlerts([bad], signal).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(NotifyError);
    expect((failure as NotifyError).retryable).toBe(false);
    expect((failure as NotifyError).status).toBe(400);
  });
});
