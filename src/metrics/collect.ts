import type { Database } from "bun:sqlite";
import { TIERS } from "../event.ts";
import type { PsiReading } from "../parse/psi.ts";
import type { ProbeStatus } from "../monitors/probes.ts";
import { outboxCounts } from "../store/outbox.ts";
import { occurrencesByTier } from "../store/event-queries.ts";
import type { MetricFamily, Sample } from "./exposition.ts";
import { unitFamilies, type UnitReader } from "./units.ts";
import type { FailedUnits } from "./failed-units.ts";

// What GET /metrics serves: logtriage's own state (events, outbox, source, PSI, probes) and
// the allowlisted systemd units. Each scrape reads the database and /proc/pressure/memory
// (cheap) and the units through UnitReader's cache.

export interface MetricsSources {
  db: Database;
  version: string;
  /** This daemon's instance: its tiers are listed with 0 before any event, so rate() works from the first scrape. */
  instanceId: string;
  source: () => { name: string | null; running: boolean; lagUs: number | null };
  readPsi: () => PsiReading | null;
  /** Each health probe's last check; null without [services]. */
  probes: (() => ReadonlyMap<string, Readonly<ProbeStatus>>) | null;
  units: UnitReader | null;
  /** Whether the outbox is paused because ntfy refuses every alert (notify/pause.ts); absent: not paused. */
  outboxPaused?: () => boolean;
  /** The units failed now per manager (metrics/failed-units.ts); absent: not exported. */
  failedUnits?: (() => Promise<FailedUnits[]>) | null;
}

export function eventFamilies(db: Database, instanceId: string): MetricFamily[] {
  const rows = occurrencesByTier(db);
  const total: Sample[] = [];
  const last: Sample[] = [];
  const seen = new Set(rows.map((r) => `${r.instance_id}\u0000${r.tier}`));
  for (const tier of TIERS) if (!seen.has(`${instanceId}\u0000${tier}`)) total.push({ labels: { instance: instanceId, tier }, value: 0 });
  for (const r of rows) {
    total.push({ labels: { instance: r.instance_id, tier: r.tier }, value: r.occurrences });
    last.push({ labels: { instance: r.instance_id, tier: r.tier }, value: r.last_seen / 1e6 });
  }
  return [
    {
      name: "logtriage_events_total",
      type: "counter",
      help: "Occurrences of events stored, by instance and tier (a repeat folded into an open event counts too). Retention deletes old events, which lowers this sum; Prometheus reads a drop as a counter reset, so increase() and rate() stay right.",
      samples: total,
    },
    {
      name: "logtriage_last_event_timestamp_seconds",
      type: "gauge",
      help: "When the latest occurrence of each instance's tier was seen, seconds since the epoch.",
      samples: last,
    },
  ];
}

export async function collectMetrics(s: MetricsSources, nowUs: number): Promise<MetricFamily[]> {
  const families: MetricFamily[] = [
    {
      name: "logtriage_build_info",
      type: "gauge",
      help: "Always 1; the labels say which logtriage and instance answer.",
      samples: [{ labels: { version: s.version, instance: s.instanceId }, value: 1 }],
    },
  ];
  families.push(...eventFamilies(s.db, s.instanceId));
  families.push({
    name: "logtriage_outbox_pending",
    type: "gauge",
    help: "Alerts waiting to be sent to ntfy (including those waiting for their event's enrichment).",
    samples: [{ value: outboxCounts(s.db).pending }],
  });
  families.push({
    name: "logtriage_outbox_paused",
    type: "gauge",
    help: "1 while the outbox is paused because ntfy refuses every alert (401/403/404, a redirect, a bad token file): nothing reaches the phone until the config is fixed. 0 otherwise, notifications off included.",
    samples: [{ value: s.outboxPaused?.() ? 1 : 0 }],
  });

  const source = s.source();
  const sourceLabels = { source: source.name ?? "none" };
  families.push({
    name: "logtriage_source_up",
    type: "gauge",
    help: "1 while the log source's reader (journalctl or /dev/kmsg) runs; 0 means logtriage is blind.",
    samples: [{ labels: sourceLabels, value: source.running ? 1 : 0 }],
  });
  families.push({
    name: "logtriage_source_lag_seconds",
    type: "gauge",
    help: "How long after it was written the last log entry was processed.",
    samples: source.lagUs === null ? [] : [{ labels: sourceLabels, value: Math.max(0, source.lagUs) / 1e6 }],
  });

  const psi = s.readPsi();
  families.push({
    name: "logtriage_psi_memory_some_avg10",
    type: "gauge",
    help: "Memory pressure: percent of the last 10 s some task waited for memory (/proc/pressure/memory).",
    samples: psi ? [{ value: psi.some.avg10 }] : [],
  });
  families.push({
    name: "logtriage_psi_memory_full_avg10",
    type: "gauge",
    help: "Memory pressure: percent of the last 10 s all non-idle tasks waited for memory (/proc/pressure/memory).",
    samples: psi?.full ? [{ value: psi.full.avg10 }] : [],
  });

  const probeUp: Sample[] = [];
  const probeLatency: Sample[] = [];
  for (const [service, status] of s.probes?.() ?? []) {
    // Before the first check has answered there is nothing to say: no sample rather than a guess.
    if (status.up !== null) probeUp.push({ labels: { service }, value: status.up ? 1 : 0 });
    if (status.latencyMs !== null) probeLatency.push({ labels: { service }, value: status.latencyMs / 1000 });
  }
  families.push({
    name: "logtriage_probe_up",
    type: "gauge",
    help: "1 when the service's last health check passed, 0 when it failed ([services.NAME]).",
    samples: probeUp,
  });
  families.push({
    name: "logtriage_probe_latency_seconds",
    type: "gauge",
    help: "How long the service's last health check took, to its answer or its failure.",
    samples: probeLatency,
  });

  if (s.units) families.push(...unitFamilies(await s.units.read(Math.floor(nowUs / 1000)), nowUs));
  if (s.failedUnits) {
    const failed = await s.failedUnits();
    families.push({
      name: "systemd_units_failed",
      type: "gauge",
      help: "Units in the failed state now (systemctl list-units --state=failed), per manager; no sample for a manager that could not be asked.",
      samples: failed.filter((f) => f.units !== null).map((f) => ({ labels: { manager: f.manager }, value: f.units?.length ?? 0 })),
    });
  }
  return families;
}
