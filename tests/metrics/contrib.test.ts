import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLog } from "../../src/log.ts";
import { collectMetrics } from "../../src/metrics/collect.ts";
import { renderExposition } from "../../src/metrics/exposition.ts";
import { UnitReader } from "../../src/metrics/units.ts";
import { openStore } from "../../src/store/db.ts";
import { fixturePath } from "../_fixtures.ts";
import { PROMTOOL, promtoolMissing } from "./_promtool.ts";

// contrib/: the alert rules go through Prometheus's own checker and rule-test runner; the
// dashboard must only ask for metrics /metrics really serves.

const CONTRIB = join(import.meta.dir, "..", "..", "contrib");
const RULES = join(CONTRIB, "prometheus-alerts.yml");
const work = mkdtempSync(join(tmpdir(), "logtriage-contrib-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function promtool(args: string[]): { code: number; output: string } {
  const r = Bun.spawnSync([PROMTOOL as string, ...args], { cwd: work, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, output: r.stdout.toString() + r.stderr.toString() };
}

describe("contrib/prometheus-alerts.yml", () => {
  test("promtool check rules accepts both rules", () => {
    if (!PROMTOOL) return promtoolMissing("the alert rules");
    const r = promtool(["check", "rules", RULES]);
    expect(r.output).toContain("SUCCESS: 2 rules found");
    expect(r.code).toBe(0);
  });

  test("promtool test rules: the restart loop fires on a 4th restart within 15 min and not on 3; a timer silent for 25 h is stale, one that fires is not", () => {
    if (!PROMTOOL) return promtoolMissing("the alert rules' behaviour");
    // One sample a minute. loop.service restarts 5 times in 5 minutes; calm.service 3 times in
    // 15 minutes; daily.timer last fired 24 h 50 min before the start and then never again;
    // hourly.timer fires every hour (its seconds since active drop back to 0).
    const tests = `
rule_files: [${JSON.stringify(RULES)}]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'systemd_unit_restart_count_total{unit="loop.service"}'
        values: '0 1 2 3 4 5 5 5 5 5'
      - series: 'systemd_unit_restart_count_total{unit="calm.service"}'
        values: '0 0 0 0 0 1 1 1 1 1 2 2 2 2 2 3 3 3 3 3'
      - series: 'systemd_unit_seconds_since_active{unit="daily.timer"}'
        values: '89400+60x40'
      - series: 'systemd_unit_seconds_since_active{unit="hourly.timer"}'
        values: '0+60x40'
    alert_rule_test:
      - eval_time: 6m
        alertname: SystemdUnitRestartLoop
        exp_alerts:
          - exp_labels: { unit: loop.service, severity: warning }
            exp_annotations:
              summary: "loop.service is restart-looping on "
              description: "loop.service was restarted 5 times by systemd in the last 15 minutes."
      - eval_time: 19m
        alertname: SystemdUnitRestartLoop
        exp_alerts: []
      - eval_time: 5m
        alertname: SystemdTimerStale
        exp_alerts: []
      - eval_time: 30m
        alertname: SystemdTimerStale
        exp_alerts:
          - exp_labels: { unit: daily.timer, severity: warning }
            exp_annotations:
              summary: "daily.timer has not fired for 1d 1h 20m 0s on "
              description: "The timer last triggered 1d 1h 20m 0s ago; a daily timer should fire every 24 hours."
`;
    writeFileSync(join(work, "alerts.test.yml"), tests);
    const r = promtool(["test", "rules", "alerts.test.yml"]);
    expect(r.output).toContain("SUCCESS");
    expect(r.code).toBe(0);
  });
});

describe("contrib/grafana-dashboard.json", () => {
  const dashboard = JSON.parse(readFileSync(join(CONTRIB, "grafana-dashboard.json"), "utf8")) as {
    title: string;
    __inputs: { name: string; pluginId: string }[];
    panels: { type: string; title: string; targets?: { expr: string }[] }[];
  };

  test("is an importable dashboard asking for a Prometheus data source", () => {
    expect(dashboard.title).toBe("logtriage");
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: "DS_PROMETHEUS", pluginId: "prometheus" })]);
    const titles = dashboard.panels.filter((p) => p.type !== "row").map((p) => p.title);
    for (const wanted of [
      "Events by tier",
      "Unit restarts (15 min)",
      "Unit active",
      "Probe up",
      "Probe latency",
      "Memory PSI (avg10, %)",
      "Alerts waiting for ntfy (outbox)",
    ])
      expect(titles).toContain(wanted);
  });

  test("every metric its panels query is one /metrics serves", async () => {
    const dir = mkdtempSync(join(work, "db-"));
    const db = openStore(join(dir, "events.db"));
    // The units as a real systemd 252 user manager reported them (tests/fixtures/real/).
    const show = readFileSync(fixturePath("real/systemctl-show-user-units.txt"), "utf8");
    const units = new UnitReader({
      units: [
        "lt-capture-loop.service",
        "lt-capture-ok.service",
        "lt-capture-tick.timer",
        "lt-capture-tick.service",
        "no-such-unit.service",
      ],
      runner: {
        run: async (argv) => ({
          exitCode: argv.includes("--user") ? 0 : 1,
          stdout: argv.includes("--user") ? show : "",
          stderr: "",
          timedOut: false,
        }),
      },
      log: createLog("error"),
    });
    const families = await collectMetrics(
      {
        db,
        version: "test",
        instanceId: "nas",
        source: () => ({ name: "journal", running: true, lagUs: 0 }),
        readPsi: () => null,
        probes: null,
        units,
      },
      Date.now() * 1000,
    );
    db.close();
    const served = new Set(families.map((f) => f.name));
    expect(renderExposition(families)).toContain("logtriage_events_total");
    const queried = new Set(
      dashboard.panels.flatMap((p) => p.targets ?? []).flatMap((t) => t.expr.match(/\b(?:logtriage|systemd)_[a-z0-9_]+/g) ?? []),
    );
    expect(queried.size).toBeGreaterThan(8);
    expect([...queried].filter((name) => !served.has(name))).toEqual([]);
  });
});
