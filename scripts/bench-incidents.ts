// `bun scripts/bench-incidents.ts`: what the incident step adds to storing an event. The same
// candidates (real captured journal lines: a unit OOM-killed, a crash's four lines, a unit's
// failures; spread over 50 units so incidents open, join and escalate) are committed one at a
// time, as the daemon's pipeline does at a quiet point, into a fresh WAL database on disk: once
// through the writer alone and once with the incident step. Reports p50/p95/p99 of one commit
// each way, and of the difference. Environment: BENCH_INCIDENT_COMMITS (default 5000).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../src/config/defaults.ts";
import { IncidentStep } from "../src/daemon/incident-step.ts";
import { EventWriter } from "../src/daemon/writer.ts";
import type { Candidate } from "../src/event.ts";
import { incidentPolicy, resolveWindows } from "../src/incidents/policy.ts";
import { alertFor } from "../src/notify/alert.ts";
import { withSequence } from "../src/notify/incident-alert.ts";
import { openStore } from "../src/store/db.ts";
import type { StoredEventWithLines } from "../src/store/events.ts";
import { triageFixture } from "../tests/_fixtures.ts";

const COMMITS = Number(process.env["BENCH_INCIDENT_COMMITS"] ?? 5000);

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

async function workload(): Promise<Candidate[]> {
  const pool: Candidate[] = [];
  for (const f of ["real/unit-oom-killed-user-service.jsonl", "real/coredump-c-program.jsonl", "real/timer-service-fails.jsonl"])
    pool.push(...(await triageFixture(f)).candidates);
  const t0 = Date.now() * 1000;
  return Array.from({ length: COMMITS }, (_, i) => {
    const c = pool[i % pool.length] as Candidate;
    const unit = c.unit ? c.unit.replace(/\.service$/, `-${i % 50}.service`) : null;
    return { ...c, unit, pid: c.pid === null ? null : c.pid + (i % 50), timestampUs: t0 + i * 1000 };
  });
}

function run(candidates: readonly Candidate[], withIncidents: boolean): number[] {
  const dir = mkdtempSync(join(tmpdir(), "lt-bench-incidents-"));
  const db = openStore(join(dir, "events.db"));
  const config = resolveConfig(
    { ntfy: { url: "https://ntfy.example/t" } },
    { hostname: "bench", env: { HOME: tmpdir() }, file: join(tmpdir(), "config.toml") },
  );
  const toNotification = (event: StoredEventWithLines) => withSequence(alertFor(event, config.ntfy, "bench"), event.incidentId);
  const incidents = withIncidents
    ? new IncidentStep({
        instanceId: "bench",
        policy: incidentPolicy(config),
        rules: { updateIntervalMs: config.ntfy.updateIntervalMs },
        windows: resolveWindows(config.incidents),
        onResolve: "update",
        toNotification,
        click: null,
      })
    : null;
  const writer = new EventWriter({
    db,
    policy: { instanceId: "bench", cooldownMs: 300_000, aggregateThreshold: 3 },
    alerts: { tiers: new Set(config.ntfy.alertTiers), toNotification },
    incidents,
  });
  const ms: number[] = [];
  for (const c of candidates) {
    const start = Bun.nanoseconds();
    writer.commit([c], { name: "journal", position: `cursor-${ms.length}` });
    ms.push((Bun.nanoseconds() - start) / 1e6);
  }
  db.close();
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

const candidates = await workload();
run(candidates.slice(0, 200), true); // warm-up: JIT and page cache
const without = run(candidates, false);
const withStep = run(candidates, true);
const diff = withStep.map((ms, i) => ms - (without[i] as number));
const fmt = (xs: number[]) =>
  `p50 ${percentile(xs, 50).toFixed(3)} ms, p95 ${percentile(xs, 95).toFixed(3)} ms, p99 ${percentile(xs, 99).toFixed(3)} ms`;
console.log(`commits: ${COMMITS} (one candidate each, WAL database on disk)`);
console.log(`store only:          ${fmt(without)}`);
console.log(`store + incidents:   ${fmt(withStep)}`);
console.log(`added by incidents:  ${fmt(diff)}  (per commit, same candidate)`);
