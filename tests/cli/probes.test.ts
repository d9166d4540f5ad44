import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Candidate } from "../../src/event.ts";
import { openStore } from "../../src/store/db.ts";
import { commitEvent } from "../../src/store/events.ts";
import { writeSnapshot, type FailureSnapshot } from "../../src/store/snapshots.ts";
import { cli, sandbox, type Sandbox } from "./_run.ts";

// `logtriage query --service` and `show` of a probe event, on the compiled binary over a real
// database and real snapshot files in a sandboxed HOME.

const boxes: Sandbox[] = [];
afterEach(() => {
  for (const b of boxes.splice(0)) rmSync(b.home, { recursive: true, force: true });
});

const T_US = Date.now() * 1000 - 60_000_000;

function snapshot(): FailureSnapshot {
  const reading = (i: number) => ({
    timeUs: T_US - (10 - i) * 30_000_000,
    cpuPercent: 20 + i,
    memUsedKb: 900_000 + i * 10_000,
    memTotalKb: 1_000_000,
    swapUsedKb: 0,
    swapTotalKb: 0,
    disks: [{ mount: "/", usedPercent: 87 }],
    load1: 4.2,
    load5: 3,
    load15: 2,
  });
  return {
    version: 1,
    service: "nextcloud",
    healthUrl: "http://127.0.0.1:8080/status.php",
    unit: "nextcloud.service",
    timeUs: T_US,
    check: { timeUs: T_US, outcome: "status", status: 503, expectedStatus: 200, latencyMs: 12, error: "HTTP 503 (expected 200)" },
    failedChecks: [
      {
        timeUs: T_US - 30_000_000,
        outcome: "timeout",
        status: null,
        expectedStatus: 200,
        latencyMs: 5000,
        error: "timeout: no answer within 5 s",
      },
    ],
    summary: "RAM: 99% | disk: 87% | load: 4.2",
    readings: Array.from({ length: 10 }, (_, i) => reading(i)),
    psi: [{ timeUs: T_US - 1_000_000, someAvg10: 41.5, fullAvg10: 12 }],
    topConsumers: [{ pid: 4242, comm: "php-fpm", cmdline: "php-fpm: pool www", rssKb: 812_000, owner: "nextcloud.service" }],
    topConsumersTimeUs: T_US - 1_000_000,
    journal: {
      unit: "nextcloud.service",
      scope: "system",
      lines: [{ timeUs: T_US - 5_000_000, priority: 3, identifier: "php-fpm", pid: 4242, message: "Allowed memory size exhausted" }],
    },
    missing: [],
  };
}

function setUp(): { box: Sandbox; eventId: string; path: string } {
  const box = sandbox();
  boxes.push(box);
  mkdirSync(box.dataDir, { recursive: true });
  const db = openStore(join(box.dataDir, "events.db"));
  const path = writeSnapshot(join(box.dataDir, "snapshots"), "nextcloud", snapshot());
  const c: Candidate = {
    tier: "T3",
    severity: "high",
    rule: "service-unhealthy",
    summary: "Service unhealthy: nextcloud — HTTP 503 (expected 200) (2 checks) · RAM: 99% | disk: 87% | load: 4.2",
    process: null,
    pid: null,
    unit: "nextcloud.service",
    timestampUs: T_US,
    facts: {
      kind: "probe",
      probe: {
        service: "nextcloud",
        state: "unhealthy",
        healthUrl: "http://127.0.0.1:8080/status.php",
        check: "HTTP 503 (expected 200)",
        failedChecks: 2,
        systemSummary: "RAM: 99% | disk: 87% | load: 4.2",
        snapshotPath: path,
        snapshotProblem: null,
        downSinceUs: T_US,
        downForMs: null,
      },
    },
    entries: [],
  };
  const outcome = commitEvent(db, c, { instanceId: "nas", cooldownMs: 300_000, aggregateThreshold: 3 });
  db.close();
  return { box, eventId: outcome.id, path };
}

describe("probe events and failure snapshots in the CLI", () => {
  test("query --service lists the service's events and its snapshots", () => {
    const { box } = setUp();
    const r = cli(box, ["query", "--service", "nextcloud"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Service unhealthy: nextcloud — HTTP 503");
    expect(r.stdout).toMatch(/Failure snapshots of nextcloud/);
    expect(r.stdout).toContain("HTTP 503 · RAM: 99% | disk: 87% | load: 4.2");
    const other = cli(box, ["query", "--service", "gitea"]);
    expect(other.stdout).toContain("No health-probe events for gitea");
  });

  test("show renders the snapshot as a timeline: checks, readings, PSI, top consumers, journal", () => {
    const { box, eventId, path } = setUp();
    const r = cli(box, ["show", eventId]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Failure snapshot: ${path}`);
    expect(r.stdout).toContain("timeout: no answer within 5 s");
    expect(r.stdout).toContain("System readings (10, oldest first):");
    expect(r.stdout).toMatch(/some 41\.50%\s+full 12\.00%/);
    expect(r.stdout).toMatch(/1\. php-fpm\s+\S+ \S+\s+pid 4242/);
    expect(r.stdout).toContain("php-fpm[4242]: Allowed memory size exhausted");
  });

  test("a snapshot trimmed away is said, not a stack trace", () => {
    const { box, eventId, path } = setUp();
    rmSync(path);
    const r = cli(box, ["show", eventId]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("is gone (only the newest 50 per service are kept)");
  });

  test("a bad --service name is a usage error naming the rule", () => {
    const { box } = setUp();
    const r = cli(box, ["query", "--service", "../etc"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('--service: expected a service name of letters, digits, "_" and "-"');
  });
});
