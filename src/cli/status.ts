import { existsSync, statSync } from "node:fs";
import { defineCommand } from "citty";
import { TIERS, TIER_NAMES, type Tier } from "../event.ts";
import { readMemoryPsi } from "../host/proc-files.ts";
import { openStore } from "../store/db.ts";
import { countEvents, queryEvents } from "../store/events.ts";
import { daemonStatus, readDaemonRow, type DaemonRow, type DaemonState, type DaemonStatus } from "../store/daemon-state.ts";
import { outboxCounts, type OutboxCounts } from "../store/outbox.ts";
import { formatAgo, formatKb, formatLocalTime, formatUptime, isoTime } from "../text/format.ts";
import type { OutboxPause } from "../notify/pause.ts";
import { NTFY_OLDER_SERVER, NTFY_UPDATES_IN_PLACE } from "../notify/notifier.ts";
import { commonArgs, loadCommandEnv } from "./_context.ts";
import { printableLines } from "./_printable.ts";
import { readFailedUnits, type FailedUnits } from "../metrics/failed-units.ts";
import { processRunner } from "../run.ts";

const DAY_US = 86_400_000_000;

function daemonLine(status: DaemonStatus, row: DaemonRow | null, nowUs: number): string {
  switch (status) {
    case "never started":
      return "not running (never started with this database; run 'logtriage daemon')";
    case "running":
      return `running (pid ${row?.pid}, up ${formatUptime(nowUs - (row?.startedUs ?? nowUs))}, heartbeat ${formatAgo(row?.heartbeatUs ?? nowUs, nowUs)})`;
    case "stopped":
      return `not running (stopped ${formatAgo(row?.stoppedUs ?? nowUs, nowUs)})`;
    case "dead":
      return `not running (pid ${row?.pid} is gone; last heartbeat ${formatAgo(row?.heartbeatUs ?? nowUs, nowUs)} — it crashed or was killed)`;
    case "not responding":
      return `not responding (pid ${row?.pid} exists but its last heartbeat was ${formatAgo(row?.heartbeatUs ?? nowUs, nowUs)})`;
  }
}

function sourceLine(row: DaemonRow | null, nowUs: number): string {
  if (!row) return "—";
  const src = row.state.source;
  if (!src.name) return `none — ${src.reason}`;
  const parts = [`${src.name} (${src.reason})`];
  if (src.stats.lastReadUs !== null) parts.push(`last read ${formatAgo(src.stats.lastReadUs, nowUs)}`);
  if (src.lagUs !== null) parts.push(`${(src.lagUs / 1e6).toFixed(1)}s behind at its last entry`);
  if (src.stats.restarts) parts.push(`${src.stats.restarts} restart(s)`);
  if (src.stats.lost) parts.push(`${src.stats.lost} record(s) lost`);
  if (src.stats.malformed) parts.push(`${src.stats.malformed} malformed`);
  if (src.stats.lastError) parts.push(`last problem: ${src.stats.lastError}`);
  return parts.join("; ");
}

/** The kernel fast path: on with what it did, or off and why. */
function fastPathLine(fp: NonNullable<DaemonState["fastPath"]>): string {
  if (!fp.on) return `off — ${fp.reason}`;
  const parts = [`on (/dev/kmsg beside the journal)`];
  if (fp.kmsg) parts.push(`${fp.kmsg.recordsRead} kernel record(s) read${fp.kmsg.running ? "" : ", reader down"}`);
  if (fp.ledger) parts.push(`${fp.ledger.journalDropped} journal cop${fp.ledger.journalDropped === 1 ? "y" : "ies"} dropped`);
  if (fp.ledger?.journalClaimed) parts.push(`${fp.ledger.journalClaimed} taken from the journal while /dev/kmsg lagged`);
  if (fp.kmsg?.lost) parts.push(`${fp.kmsg.lost} record(s) overwritten before read (the journal's copies kept)`);
  if (fp.kmsg?.lastError) parts.push(`last problem: ${fp.kmsg.lastError}`);
  return parts.join("; ");
}

function outboxText(o: OutboxCounts, paused: OutboxPause | null): string {
  const parts = [`${o.pending} waiting`];
  if (paused) parts.push(`PAUSED since ${formatLocalTime(paused.sinceMs * 1000)}: ${paused.reason}`);
  if (o.failed) parts.push(`${o.failed} refused ('logtriage outbox --retry' queues them again)`);
  if (o.expired) parts.push(`${o.expired} dropped unsent after [ntfy] max_age`);
  if (o.lastError && !paused) parts.push(`last error: ${o.lastError}`);
  return parts.join(", ");
}

/** The running daemon's outbox pause, if it reported one. */
function outboxPause(state: DaemonStatus, daemon: DaemonRow | null): OutboxPause | null {
  return state === "running" ? (daemon?.state.outbox?.paused ?? null) : null;
}

function enrichmentText(e: NonNullable<DaemonState["enrichment"]>): string {
  const parts = [`${e.enriched} event(s) enriched`];
  if (e.waiting) parts.push(`${e.waiting} in progress`);
  if (e.timedOut) parts.push(`${e.timedOut} enricher(s) timed out`);
  if (e.failed) parts.push(`${e.failed} failed`);
  if (e.skipped) parts.push(`${e.skipped} skipped (too many at once)`);
  return parts.join(", ");
}

function failedUnitsText(failed: readonly FailedUnits[]): string {
  const asked = failed.filter((f) => f.units !== null);
  if (asked.length === 0) return "unknown (no systemd manager answered)";
  const units = asked.flatMap((f) => (f.units ?? []).map((u) => (f.manager === "user" ? `${u} (user)` : u)));
  return units.length ? units.join(", ") : `none (${asked.map((f) => f.manager).join(" and ")} manager${asked.length > 1 ? "s" : ""})`;
}

export const statusCommand = defineCommand({
  meta: {
    name: "status",
    description: "Instance, daemon state and source, event database, last event, 24h counts per tier, PSI memory, alert outbox",
  },
  args: {
    ...commonArgs,
    json: { type: "boolean", description: "As one JSON object" },
  },
  async run({ args }) {
    const env = loadCommandEnv(args);
    const { config } = env;
    const nowUs = Date.now() * 1000;
    const psi = readMemoryPsi();
    const counts: Record<Tier, number> = { T1: 0, T2: 0, T3: 0, T4: 0, T5: 0 };
    let last: ReturnType<typeof queryEvents>[number] | null = null;
    let daemon: DaemonRow | null = null;
    let outbox: OutboxCounts | null = null;
    const dbExists = existsSync(env.dbPath);
    if (dbExists) {
      const db = openStore(env.dbPath, { readonly: true });
      try {
        for (const tier of TIERS) counts[tier] = countEvents(db, { sinceUs: nowUs - DAY_US, tiers: [tier] });
        last = queryEvents(db, { sinceUs: 0, limit: 1 })[0] ?? null;
        daemon = readDaemonRow(db);
        outbox = outboxCounts(db);
      } finally {
        db.close();
      }
    }
    const state = daemonStatus(daemon, nowUs);
    const paused = outboxPause(state, daemon);
    // What the daemon's last replies from ntfy showed; the server outlives a daemon restart.
    const inPlace = daemon?.state.outbox?.updatesInPlace ?? null;
    const failedUnits = await readFailedUnits(processRunner);
    const dbSizeKb = dbExists ? Math.round(statSync(env.dbPath).size / 1024) : null;
    if (args.json) {
      const out = {
        instance: config.instance.id,
        role: config.instance.role,
        config: env.configPath,
        daemon: {
          state,
          pid: daemon?.pid ?? null,
          started: daemon ? isoTime(daemon.startedUs) : null,
          heartbeat: daemon ? isoTime(daemon.heartbeatUs) : null,
          uptime_s: state === "running" && daemon ? Math.round((nowUs - daemon.startedUs) / 1e6) : null,
          version: daemon?.state.version ?? null,
        },
        source: daemon && {
          name: daemon.state.source.name,
          reason: daemon.state.source.reason,
          last_read: daemon.state.source.stats.lastReadUs === null ? null : isoTime(daemon.state.source.stats.lastReadUs),
          lag_s: daemon.state.source.lagUs === null ? null : daemon.state.source.lagUs / 1e6,
          records_read: daemon.state.source.stats.recordsRead,
          restarts: daemon.state.source.stats.restarts,
          lost: daemon.state.source.stats.lost,
          malformed: daemon.state.source.stats.malformed,
          last_error: daemon.state.source.stats.lastError,
        },
        fast_path: daemon?.state.fastPath
          ? {
              on: daemon.state.fastPath.on,
              reason: daemon.state.fastPath.reason,
              records_read: daemon.state.fastPath.kmsg?.recordsRead ?? null,
              lost: daemon.state.fastPath.kmsg?.lost ?? null,
              committed: daemon.state.fastPath.committed,
              journal_copies_dropped: daemon.state.fastPath.ledger?.journalDropped ?? null,
              journal_claimed: daemon.state.fastPath.ledger?.journalClaimed ?? null,
            }
          : null,
        blind:
          state === "running" && daemon
            ? (daemon.state.blind ?? []).map((b) => ({ subject: b.subject, cause: b.cause, fix: b.fix, since: isoTime(b.sinceUs) }))
            : [],
        failed_units: Object.fromEntries(failedUnits.map((f) => [f.manager, f.units])),
        monitors: daemon?.state.monitors ?? null,
        enrichment: daemon?.state.enrichment ?? null,
        outbox: outbox && {
          pending: outbox.pending,
          sent: outbox.sent,
          refused: outbox.failed,
          expired: outbox.expired,
          last_error: outbox.lastError,
          paused: paused && { since: isoTime(paused.sinceMs * 1000), status: paused.status, reason: paused.reason },
          updates_in_place: inPlace,
        },
        db: { path: env.dbPath, exists: dbExists, size_kb: dbSizeKb },
        last_event: last && { id: last.id, tier: last.tier, summary: last.summary, timestamp: isoTime(last.timestampUs) },
        events_24h: counts,
        psi_memory: psi && { some_avg10: psi.some.avg10, full_avg10: psi.full?.avg10 ?? null },
        notifications: config.ntfy.url ? "ntfy" : "off",
      };
      process.stdout.write(`${JSON.stringify(out)}\n`);
      return;
    }
    const psiText = psi
      ? `some=${psi.some.avg10.toFixed(1)}% full=${(psi.full?.avg10 ?? 0).toFixed(1)}% (${psi.some.avg10 >= config.psi.warnSomeAvg10 || (psi.full?.avg10 ?? 0) >= config.psi.warnFullAvg10 ? "under pressure" : "healthy"})`
      : "unavailable (kernel without PSI: needs Linux 4.20+ with CONFIG_PSI)";
    const lines = [
      `Instance:     ${config.instance.id}`,
      `Role:         ${config.instance.role}`,
      `Daemon:       ${daemonLine(state, daemon, nowUs)}`,
      `Source:       ${sourceLine(daemon, nowUs)}`,
      ...(daemon?.state.fastPath ? [`Fast path:    ${fastPathLine(daemon.state.fastPath)}`] : []),
      ...(state === "running" && daemon?.state.blind?.length
        ? daemon.state.blind.map((b) => `Blind:        ${b.cause} (since ${formatAgo(b.sinceUs, nowUs)})${b.fix ? ` — fix: ${b.fix}` : ""}`)
        : []),
      `Config:       ${env.configPath ?? "built-in defaults (no config file)"}`,
      `Database:     ${env.dbPath}${dbExists ? ` (${formatKb(dbSizeKb)})` : " (not created yet)"}`,
      `Last event:   ${last ? `[${last.tier}] ${last.summary} — ${formatAgo(last.timestampUs, nowUs)} (${formatLocalTime(last.timestampUs)})` : "none"}`,
      `Events (24h): ${TIERS.map((t) => `${counts[t]} ${TIER_NAMES[t]}`).join(", ")}`,
      `PSI memory:   ${psiText}`,
      `Failed units: ${failedUnitsText(failedUnits)}`,
      ...(daemon?.state.monitors ? [`Monitors:     ${daemon.state.monitors.length ? daemon.state.monitors.join(", ") : "none"}`] : []),
      ...(daemon?.state.enrichment ? [`Enrichment:   ${enrichmentText(daemon.state.enrichment)}`] : []),
      `Alerts:       ${config.ntfy.url ? `ntfy (${config.ntfy.alertTiers.join(", ")})` : "off (set [ntfy] url)"}${outbox && (config.ntfy.url || outbox.pending) ? `; outbox: ${outboxText(outbox, paused)}` : ""}`,
      ...(inPlace === null ? [] : [`ntfy:         ${inPlace ? NTFY_UPDATES_IN_PLACE : NTFY_OLDER_SERVER}`]),
    ];
    // Summaries, reasons and errors come from logs and servers: shown escaped, never interpreted.
    console.log(printableLines(lines.join("\n")));
  },
});
