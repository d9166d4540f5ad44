import type { Database } from "bun:sqlite";
import type { Log } from "../log.ts";
import { Triage } from "../classify/triage.ts";
import type { Config } from "../config/schema.ts";
import type { Tier } from "../event.ts";
import { alertFor } from "../notify/alert.ts";
import { NtfyNotifier, parseNtfyUrl } from "../notify/ntfy.ts";
import { OutboxSender } from "../notify/sender.ts";
import { JournalSource, journalMatches } from "../sources/journal.ts";
import { createKmsgSource, isKmsgReadable } from "../sources/kmsg.ts";
import { readMemoryPsi } from "../host/proc-files.ts";
import { probeJournal, selectSource, type SourceSelection } from "../sources/registry.ts";
import type { Source } from "../sources/source.ts";
import { loadCursor } from "../store/cursor.ts";
import type { StoredEventWithLines } from "../store/events.ts";
import { daemonStatus, markStopped, readDaemonRow, writeHeartbeat, type DaemonState } from "../store/daemon-state.ts";
import { StoreError } from "../store/errors.ts";
import { outboxCounts, releaseAllEnriching } from "../store/outbox.ts";
import { applyRetention } from "../store/retention.ts";
import { formatDuration } from "../config/duration.ts";
import { VERSION } from "../version.ts";
import { Pipeline } from "./pipeline.ts";
import { EventWriter } from "./writer.ts";
import { EnrichmentStage } from "../enrich/stage.ts";
import { createEnrichers } from "../enrich/registry.ts";
import { MemoryHistory } from "../host/memory-history.ts";
import { createMonitors } from "../monitors/monitors.ts";
import type { Monitor } from "../monitors/monitor.ts";
import { processRunner } from "../run.ts";
import { trimStartupMemory } from "./trim.ts";
import { lockMemory } from "./mlock.ts";
import { openSystemdNotifier, watchdogPingMs, type SystemdNotifier } from "./sd-notify.ts";
import { sleep } from "../sleep.ts";
import { startHttpServer, type HttpServer } from "../http/server.ts";
import { collectMetrics } from "../metrics/collect.ts";
import { renderExposition } from "../metrics/exposition.ts";
import { UnitReader } from "../metrics/units.ts";
import { ProbesMonitor } from "../monitors/probes.ts";
import { snapshotsDir } from "../store/snapshots.ts";
import { BlindnessWatch, blindLine } from "./blindness.ts";
import { FailedUnitsReader } from "../metrics/failed-units.ts";

// The daemon's wiring: pick a source, resume it from the committed position, run the
// pipeline and the outbox sender side by side, keep the heartbeat row fresh, and stop cleanly
// on abort. Reading never waits for ntfy: the pipeline only writes outbox rows; the sender
// drains them on its own schedule.

export interface DaemonOptions {
  config: Config;
  db: Database;
  log: Log;
  triage: Triage;
  /** With no committed position: read the journal back this far instead of starting at now. */
  backfillMs: number | null;
}

const HEARTBEAT_MS = 5_000;

export function notificationTarget(config: Config): string {
  if (!config.ntfy.url) return "notifications off";
  const target = parseNtfyUrl(config.ntfy.url);
  return target ? `ntfy ${target.serverUrl}/${target.topic} (${config.ntfy.alertTiers.join(", ")})` : `ntfy ${config.ntfy.url}`;
}

export async function chooseSource(config: Config): Promise<SourceSelection> {
  const kmsgProblem = config.sources.use === "journal" ? "not probed" : isKmsgReadable();
  const journal = config.sources.use === "kmsg" ? { usable: false, reason: "not probed" } : await probeJournal();
  return selectSource(config.sources.use, journal, kmsgProblem === null ? { usable: true, reason: "/dev/kmsg is readable" } : { usable: false, reason: kmsgProblem });
}

function createSource(selection: SourceSelection, o: DaemonOptions): Source | null {
  const after = selection.name ? loadCursor(o.db, selection.name) : null;
  const sourceLog = o.log.withTag(selection.name ?? "source");
  switch (selection.name) {
    case "journal":
      return new JournalSource({
        after,
        sinceUs: after === null && o.backfillMs !== null ? Date.now() * 1000 - o.backfillMs * 1000 : null,
        matches: journalMatches(o.triage.classifier.rawPrefilter),
        keepLine: (line) => o.triage.wantsRawLine(line, true),
        log: sourceLog,
      });
    case "kmsg":
      return createKmsgSource({ after, log: sourceLog });
    case null:
      return null;
  }
}

export async function runDaemon(o: DaemonOptions, signal: AbortSignal): Promise<void> {
  const { config, db, log } = o;
  const startedUs = Date.now() * 1000;
  // Two daemons on one database would each read and store the same entries.
  const previous = readDaemonRow(db);
  if (previous && previous.pid !== process.pid && daemonStatus(previous, startedUs) === "running") {
    throw new StoreError(
      `another logtriage daemon (pid ${previous.pid}) is running with ${db.filename}: stop it first (systemctl --user stop logtriage, or kill ${previous.pid}), or give this one another --db`,
      db.filename,
    );
  }
  const selection = await chooseSource(config);
  const source = createSource(selection, o);
  const notifier = config.ntfy.url ? new NtfyNotifier(config.ntfy) : null;
  const sender = notifier ? new OutboxSender({ db, notifier, log: log.withTag("ntfy") }) : null;
  const alertTiers = new Set<Tier>(config.ntfy.alertTiers);
  const toNotification = notifier ? (event: StoredEventWithLines) => alertFor(event, config.ntfy, config.instance.id) : null;
  // Alerts a previous run left waiting for enrichment go out as they are.
  const released = releaseAllEnriching(db);
  if (released > 0) log.info(`${released} alert(s) left waiting for context by the previous run are sent without it`);
  const memory = config.psi.enabled ? new MemoryHistory() : null;
  const enrichment = new EnrichmentStage({
    db,
    enrichers: createEnrichers(config),
    runner: processRunner,
    memory,
    instanceId: config.instance.id,
    log: log.withTag("enrich"),
    toNotification,
    onReleased: () => sender?.wake(),
  });
  const writer = new EventWriter({
    db,
    policy: { instanceId: config.instance.id, cooldownMs: config.cooldown.windowMs, aggregateThreshold: config.cooldown.aggregateThreshold },
    alerts: toNotification ? { tiers: alertTiers, toNotification } : null,
    enrichment,
    onAlertsQueued: () => sender?.wake(),
  });
  const pipeline = source ? new Pipeline({ source, triage: o.triage, writer, log }) : null;
  const monitors = createMonitors({ config, db, memory, runner: processRunner, log });
  const blindLog = log.withTag("blindness");
  let heartbeatFailing = false;
  const blindness = new BlindnessWatch({
    source,
    startReason: selection.reason,
    watchJournald: selection.name === "journal",
    dbWritable: () => !heartbeatFailing,
    emit: (candidate) => {
      writer.submit([candidate], blindLog);
      // `status` and STATUS= say it now, not at the next heartbeat.
      beat();
    },
    log: blindLog,
    onJournaldBack: (why) => {
      if (source instanceof JournalSource) source.restartReader(why);
    },
  });

  log.info(
    `logtriage ${VERSION} daemon: instance ${config.instance.id} (${config.instance.role}), source ${selection.name ?? "none"} — ${selection.reason}; db ${db.filename}; ${notificationTarget(config)}`,
  );
  if (!source) log.error(`no log source can be read, so nothing will be detected: ${selection.reason}`);

  const state = (): DaemonState => ({
    version: VERSION,
    instance: config.instance.id,
    source: {
      name: selection.name,
      reason: selection.reason,
      stats: source ? { ...source.stats } : { recordsRead: 0, malformed: 0, lost: 0, restarts: 0, lastError: selection.reason, lastReadUs: null, running: false },
      lastEntryUs: pipeline?.counters.lastEntryUs ?? null,
      lagUs: pipeline?.counters.lagUs ?? null,
      committed: pipeline?.counters.committedPosition ?? null,
    },
    psi: config.psi.enabled ? psiNow() : null,
    notifications: notificationTarget(config),
    heldCandidates: pipeline?.heldCandidates ?? 0,
    monitors: monitors.map((m) => m.name),
    enrichment: { ...enrichment.counters, waiting: enrichment.pending },
    blind: blindness.current(),
  });
  const systemd = openSystemdNotifier();
  /** Writes the heartbeat row (and systemd's STATUS=); false when the database refused it. */
  const beat = (): boolean => {
    try {
      const s = state();
      writeHeartbeat(db, process.pid, startedUs, Date.now() * 1000, s);
      systemd?.send(`STATUS=${statusLine(s, pipeline?.counters.eventsNew ?? 0)}`);
      if (heartbeatFailing) log.info("the database takes writes again");
      heartbeatFailing = false;
      return true;
    } catch (error) {
      if (!heartbeatFailing) log.warn(`cannot write the heartbeat: ${error instanceof Error ? error.message : String(error)}`);
      heartbeatFailing = true;
      return false;
    }
  };
  // First look before the first STATUS=, so a daemon that starts blind says so at once.
  blindness.start();
  beat();
  const heartbeat = setInterval(beat, HEARTBEAT_MS);
  // Once everything has started: the start-up code and garbage need not stay resident, and
  // what stays (the working set) is locked, so a thrashing machine does not page us out.
  setTimeout(() => {
    const trim = trimStartupMemory();
    if (trim.error) log.debug(`start-up memory not trimmed: ${trim.error}`);
    const lock = lockMemory();
    if (!lock.locked) log.info(lock.reason);
  }, 2_000).unref();
  const watchdog = systemd ? startWatchdog(systemd, source, beat, log) : null;
  // [db] retention, ten minutes after start and then daily. Its code is not needed again until
  // tomorrow, so its pages are given back after it (as the start-up ones were).
  const retain = () => {
    try {
      const r = applyRetention(db, Date.now() * 1000, config.db.retentionMs);
      if (r.events || r.alerts) log.info(`retention: removed ${r.events} event(s) and ${r.alerts} sent alert(s) older than ${formatDuration(config.db.retentionMs)}; the file shrank by ${r.pagesFreed} page(s)`);
    } catch (error) {
      log.warn(`retention failed, tried again tomorrow: ${error instanceof Error ? error.message : String(error)}`);
    }
    trimStartupMemory();
  };
  const firstRetention = setTimeout(retain, 600_000);
  const retention = setInterval(retain, 86_400_000);
  void announceReady(systemd, source, signal);
  const http = config.http.listen ? startApi(o, state, () => !heartbeatFailing, monitors) : null;
  const pending = outboxCounts(db).pending;
  if (pending > 0) log.info(sender ? `${pending} alert(s) from before wait in the outbox; sending them first` : `${pending} alert(s) wait in the outbox, unsent while [ntfy] url is not set`);

  try {
    await Promise.all([
      pipeline?.run(signal),
      sender?.run(signal),
      ...monitors.map((m) => runMonitor(m, writer, log, signal)),
      source ? undefined : new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true })),
    ]);
  } finally {
    await enrichment.close();
    const unstored = writer.close();
    if (unstored > 0) log.error(`stopping with ${unstored} monitor event(s) the database refused; they are lost`);
    await http?.stop();
    systemd?.send("STOPPING=1");
    clearInterval(heartbeat);
    blindness.stop();
    if (watchdog) clearInterval(watchdog);
    clearTimeout(firstRetention);
    clearInterval(retention);
    beat();
    systemd?.close();
    markStopped(db, Date.now() * 1000);
    log.info(`stopped: ${pipeline?.counters.entries ?? 0} entries read, ${pipeline?.counters.eventsNew ?? 0} new events, ${sender?.counters.sent ?? 0} alerts sent this run`);
  }
}

/** The local HTTP API and /metrics ([http] listen): the daemon's own state and database handle, read-only. */
function startApi(o: DaemonOptions, state: () => DaemonState, dbWritable: () => boolean, monitors: Monitor[]): HttpServer | null {
  const { config, db, log } = o;
  const listen = config.http.listen;
  if (!listen) return null;
  const probes = monitors.find((m): m is ProbesMonitor => m instanceof ProbesMonitor) ?? null;
  const failedUnits = new FailedUnitsReader(processRunner);
  const units = config.metrics.units.length ? new UnitReader({ units: config.metrics.units, runner: processRunner, log: log.withTag("metrics") }) : null;
  return startHttpServer({
    listen,
    log: log.withTag("http"),
    deps: {
      db,
      token: config.http.token,
      services: Object.keys(config.services),
      snapshotsDir: snapshotsDir(config.db.path),
      nowUs: () => Date.now() * 1000,
      health: () => {
        const s = state().source;
        return { sourceName: s.name, sourceRunning: s.stats.running, sourceError: s.stats.lastError, dbWritable: dbWritable(), blind: state().blind ?? [] };
      },
      metrics: async () => {
        const families = await collectMetrics(
          {
            db,
            version: VERSION,
            instanceId: config.instance.id,
            source: () => {
              const s = state().source;
              // Up means reading what is written: a running journalctl behind a dead journald is blind too.
              const blind = (state().blind ?? []).some((b) => b.subject === "source" || b.subject === "journald");
              return { name: s.name, running: s.stats.running && !blind, lagUs: s.lagUs };
            },
            readPsi: () => readMemoryPsi(),
            probes: probes ? () => probes.status() : null,
            units,
            failedUnits: () => failedUnits.read(Date.now()),
          },
          Date.now() * 1000,
        );
        return renderExposition(families);
      },
    },
  });
}

/** A monitor runs beside the log; one that fails is logged and the rest go on. */
async function runMonitor(monitor: Monitor, writer: EventWriter, log: Log, signal: AbortSignal): Promise<void> {
  const monitorLog = log.withTag(monitor.name);
  try {
    await monitor.run(signal, (candidate) => writer.submit([candidate], monitorLog));
  } catch (error) {
    monitorLog.error(`the ${monitor.name} monitor stopped: ${error instanceof Error ? error.message : String(error)}; the rest of the daemon goes on`);
  }
}

/** READY=1 once the source's reader is up (or at once when there is no source to wait for). */
async function announceReady(systemd: SystemdNotifier | null, source: Source | null, signal: AbortSignal): Promise<void> {
  if (!systemd) return;
  while (source && !source.stats.running && !signal.aborted) await sleep(50, signal);
  if (!signal.aborted) systemd.send("READY=1");
}

/**
 * WATCHDOG=1 at half of WatchdogSec, and only while the pipeline is healthy: the heartbeat
 * write goes through (the database is writable and the event loop turns) and the source's
 * reader is up, or has been down for less than one ping period (a journalctl being restarted).
 * A wedged database or a source that stays down lets systemd restart the daemon.
 */
function startWatchdog(systemd: SystemdNotifier, source: Source | null, beat: () => boolean, log: Log): ReturnType<typeof setInterval> | null {
  const pingMs = watchdogPingMs(process.env, process.pid);
  if (pingMs === null) return null;
  let downSinceMs: number | null = null;
  let withheld = false;
  return setInterval(() => {
    const now = Date.now();
    if (source && !source.stats.running) downSinceMs ??= now;
    else downSinceMs = null;
    const sourceOk = downSinceMs === null || now - downSinceMs < pingMs;
    const dbOk = beat();
    if (sourceOk && dbOk) {
      systemd.send("WATCHDOG=1");
      withheld = false;
    } else if (!withheld) {
      withheld = true;
      log.warn(`not answering systemd's watchdog: ${dbOk ? `the ${source?.name} source is down (${source?.stats.lastError ?? "no reader"})` : "the database takes no writes"}; systemd restarts the daemon if this lasts`);
    }
  }, pingMs);
}

export function statusLine(s: DaemonState, newEvents: number): string {
  const blind = blindLine(s.blind ?? []);
  const src = s.source.name ? `${s.source.name}${s.source.stats.running ? "" : " (down)"}: ${s.source.stats.recordsRead} records read` : "no source";
  return `${blind ? `${blind} | ` : ""}${src}, ${newEvents} new events this run`;
}

function psiNow(): DaemonState["psi"] {
  const psi = readMemoryPsi();
  return psi && { someAvg10: psi.some.avg10, fullAvg10: psi.full?.avg10 ?? null };
}
