import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import { IncidentStep } from "../../src/daemon/incident-step.ts";
import { EventWriter } from "../../src/daemon/writer.ts";
import { createCrashEnricher } from "../../src/enrich/crash.ts";
import { EnrichmentStage } from "../../src/enrich/stage.ts";
import type { Candidate } from "../../src/event.ts";
import { incidentPolicy } from "../../src/incidents/policy.ts";
import { alertFor } from "../../src/notify/alert.ts";
import { withSequence } from "../../src/notify/incident-alert.ts";
import { NtfyNotifier } from "../../src/notify/ntfy.ts";
import { OutboxSender } from "../../src/notify/sender.ts";
import type { RunResult, Runner } from "../../src/run.ts";
import { openStore } from "../../src/store/db.ts";
import type { StoredEventWithLines } from "../../src/store/events.ts";
import { ntfyTestConfig, incidentsTestConfig } from "../_builders.ts";
import { fixturePath, triageFixture } from "../_fixtures.ts";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";

// A root cause found after the alert went out, through the daemon's own wiring: a real captured
// crash (the kernel's segfault line) classified and stored in a real SQLite database, its
// incident opened by the incident step, the real crash enricher in the real enrichment stage,
// and the real outbox sender posting with the real ntfy client to the local stand-in. What
// stands in: `coredumpctl`, which answers "no coredumps" until the first alert was delivered
// (systemd-coredump still writing a large core) and then with the captured `coredumpctl info`
// of that crash. The phone ends with one notification, updated in place with the backtrace.

const quiet = { warn() {}, debug() {}, info() {}, error() {} };
const cInfo = readFileSync(fixturePath("real/coredumpctl-info.txt"), "utf8").split(/\n\n(?=\s*PID: )/)[0] as string;
const incidentsConfig = incidentsTestConfig();

let db: Database;
let proc: string;
let ntfy: NtfyStandIn;
beforeEach(async () => {
  db = openStore(":memory:");
  proc = mkdtempSync(join(tmpdir(), "logtriage-late-"));
  mkdirSync(join(proc, "sys/kernel"), { recursive: true });
  writeFileSync(join(proc, "sys/kernel/core_pattern"), "|/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h %d\n");
  ntfy = await startNtfyStandIn({ rateLimit: null });
});
afterEach(async () => {
  db.close();
  rmSync(proc, { recursive: true, force: true });
  await ntfy.stop();
});

test("a crash whose core dump is logged after the alert went out: the incident's notification is updated in place with the backtrace", async () => {
  const config = ntfyTestConfig(ntfy.topicUrl("alerts"), { alertTiers: ["T1", "T2", "T3", "T4"], minSeverity: {} });
  const notifier = new NtfyNotifier(config);
  const sender = new OutboxSender({ db, notifier, log: quiet, idlePollMs: 20 });
  const toNotification = (event: StoredEventWithLines) => withSequence(alertFor(event, config, "vm"), event.incidentId);
  const step = new IncidentStep({
    instanceId: "vm",
    policy: incidentPolicy({ ntfy: config, incidents: incidentsConfig }),
    rules: { updateIntervalMs: config.updateIntervalMs },
    windows: { unitMs: 300_000, programMs: 86_400_000, diskMs: 86_400_000, otherMs: 3_600_000 },
    onResolve: "update",
    toNotification,
    click: null,
  });
  const noUnit: RunResult = { exitCode: 1, stdout: "", stderr: "", timedOut: false };
  const runner: Runner = {
    run: (argv) => {
      if (argv[0] !== "coredumpctl") return Promise.resolve(noUnit);
      // The dump is there once the phone has had the first alert.
      if (sender.counters.sent === 0) return Promise.resolve({ exitCode: 1, stdout: "", stderr: "No coredumps found.\n", timedOut: false });
      return Promise.resolve({ exitCode: 0, stdout: cInfo, stderr: "", timedOut: false });
    },
  };
  const stage = new EnrichmentStage({
    db,
    // Gives up asking half a second in, as the daemon's would after 6 s.
    enrichers: [createCrashEnricher({ procRoot: proc, crashDir: join(proc, "crash"), timeoutMs: 4_500 })],
    runner,
    memory: null,
    instanceId: "vm",
    log: quiet,
    toNotification,
    onReleased: () => sender.wake(),
    onLateCause: (d, eventId, nowUs) => step.rootCauseFound(d, eventId, nowUs),
  });
  const writer = new EventWriter({
    db,
    policy: { instanceId: "vm", cooldownMs: 300_000, aggregateThreshold: 3 },
    alerts: { tiers: new Set(["T2"]), toNotification },
    enrichment: stage,
    incidents: step,
    onAlertsQueued: () => sender.wake(),
  });
  const stop = new AbortController();
  const sending = sender.run(stop.signal);

  const segfault = (await triageFixture("real/coredump-c-program.jsonl")).candidates.find((c) => c.rule === "kernel-segfault") as Candidate;
  writer.commit([{ ...segfault, timestampUs: Date.now() * 1000 }], null);
  await stage.idle();
  while (sender.counters.sent < 2 && sender.counters.lastError === null) await Bun.sleep(10);
  stop.abort();
  await sending;
  await stage.close();

  const posts = ntfy.messages.filter((m) => m.topic === "alerts");
  expect(posts).toHaveLength(2);
  const incidentId = (db.query("SELECT id FROM incidents").get() as { id: string }).id;
  expect(posts.map((p) => p.sequenceId)).toEqual([`logtriage-${incidentId}`, `logtriage-${incidentId}`]);
  expect(posts[0]!.message).toContain("no backtrace yet (the alert is updated if it comes)");
  expect(posts[0]!.message).not.toContain("#0 main");
  expect(posts[1]!.message).toStartWith("Update (root cause found)");
  expect(posts[1]!.message).toContain("#0 main (crashme + 0x1218)");
  expect(posts[1]!.message).not.toContain("no backtrace yet");
  // One notification on the phone, showing the backtrace.
  const shown = ntfy.notifications("alerts");
  expect(shown).toHaveLength(1);
  expect(shown[0]!.publishes).toBe(2);
  expect(shown[0]!.latest.message).toContain("#0 main (crashme + 0x1218)");
  expect(stage.counters.late).toBe(1);
}, 20_000);
