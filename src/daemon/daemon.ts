import type { Database } from "bun:sqlite";
import type { Log } from "../log.ts";
import { LogLevels } from "consola/core";
import { Triage } from "../classify/triage.ts";
import type { Config } from "../config/schema.ts";
import type { Tier } from "../event.ts";
import { alertFor } from "../notify/alert.ts";
import { NtfyNotifier } from "../notify/ntfy.ts";
import { parseNtfyUrl } from "../parse/ntfy-url.ts";
import { OutboxSender } from "../notify/sender.ts";
import { filesFingerprint } from "../notify/pause.ts";
import { Redactor } from "../text/redact.ts";
import { loadConfig } from "../config/load.ts";
import { hostname } from "node:os";
import { alertmanagerClient } from "../notify/alertmanager.ts";
import { AlertmanagerFeed } from "../notify/alertmanager-feed.ts";
import { JournalSource, journalMatches } from "../sources/journal.ts";
import { createKmsgSource, isKmsgReadable } from "../sources/kmsg.ts";
import {
  JOURNAL_CLAIM_ROW,
  KernelLedger,
  KMSG_LEDGER_ROW,
  planFastPath,
  withJournalLedger,
  withKmsgLedger,
  type FastPathPlan,
} from "../sources/kernel-dedupe.ts";
import { readFileSync } from "node:fs";
import { readMemoryPsi } from "../host/proc-files.ts";
import { probeJournal, selectSource, type SourceSelection } from "../sources/registry.ts";
import type { Source } from "../sources/source.ts";
import { loadCursor } from "../store/cursor.ts";
import type { StoredEventWithLines } from "../store/events.ts";
import { daemonStatus, markStopped, readDaemonRow, writeHeartbeat, type DaemonState } from "../store/daemon-state.ts";
import { StoreError } from "../store/errors.ts";
import { explainSqliteError } from "../store/sqlite-errors.ts";
import { outboxCounts, releaseAllEnriching } from "../store/outbox.ts";
import { applyRetention } from "../store/retention.ts";
import { formatDuration } from "../text/format.ts";
import { VERSION } from "../version.ts";
import { Pipeline } from "./pipeline.ts";
import { EventWriter } from "./writer.ts";
import { IncidentStep } from "./incident-step.ts";
import { detailsPath } from "../incidents/details.ts";
import type { UnitStart } from "../classify/unit-history.ts";
import { unitStateVia } from "./unit-state.ts";
import { ControlSubscriber, controlKeyPath, loadOrCreateControlKey, muteButton } from "./control.ts";
import type { Notification, NtfyAction } from "../text/alert.ts";
import { incidentPolicy, resolveWindows } from "../incidents/policy.ts";
import { withSequence } from "../notify/incident-alert.ts";
import { EnrichmentStage } from "../enrich/stage.ts";
import { createEnrichers } from "../enrich/registry.ts";
import { MemoryHistory } from "../host/memory-history.ts";
import { createMonitors } from "../monitors/monitors.ts";
import type { Monitor } from "../monitors/monitor.ts";
import { processRunner } from "../run.ts";
import { trimStartupMemory } from "./trim.ts";
import { IdleFloor, memoryNote, readMemory, settleAfterBursts, stormLeftMemory } from "./settle.ts";
import { RESTARTED_ENV, RestartInPlace, restartedFrom } from "./restart.ts";
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
  /** The config file read, so a paused outbox can pick up a fixed [ntfy] section; null for defaults. */
  configPath?: string | null;
  /**
   * A second, independent triage for the kernel fast path's pipeline (its own kernel report
   * assembler). Without it the fast path stays off.
   */
  newTriage?: () => Triage;
  /**
   * Asks the caller to stop the daemon cleanly and restart it in place (restart.ts): the
   * daemon calls it when a storm left memory the runtime keeps. Without it, it never does.
   */
  requestRestart?: (why: string) => void;
}

const HEARTBEAT_MS = 5_000;
/** Start-up (its trim, the first collections) is over by then: the idle floor is measured from here. */
const FLOOR_AFTER_START_MS = 10_000;
/** A burst this large is a storm; smaller ones leave too little behind to restart for. */
const STORM_ENTRIES = 20_000;
/** Restarts in place for memory at least this far apart. */
const RESTART_GAP_MS = 600_000;

/** Where the local API answers, for links in alerts; null when it is off or on a Unix socket (no URL reaches it). */
function apiBaseUrl(listen: Config["http"]["listen"]): string | null {
  if (listen === null || "unix" in listen) return null;
  return `http://${listen.host.includes(":") ? `[${listen.host}]` : listen.host}:${listen.port}`;
}

export function notificationTarget(config: Config): string {
  const am = config.alertmanager.urls.length > 0 ? `Alertmanager ${config.alertmanager.urls.join(", ")}` : null;
  if (!config.ntfy.url) return am ?? "notifications off";
  const target = parseNtfyUrl(config.ntfy.url);
  const ntfy = target ? `ntfy ${target.serverUrl}/${target.topic} (${config.ntfy.alertTiers.join(", ")})` : `ntfy ${config.ntfy.url}`;
  return am ? `${ntfy}; ${am}` : ntfy;
}

export async function chooseSource(config: Config): Promise<SourceSelection & { fastPath: FastPathPlan }> {
  const kmsgProblem = config.sources.use === "journal" ? "not probed" : isKmsgReadable();
  const journal = config.sources.use === "kmsg" ? { usable: false, reason: "not probed" } : await probeJournal();
  const selection = selectSource(
    config.sources.use,
    journal,
    kmsgProblem === null ? { usable: true, reason: "/dev/kmsg is readable" } : { usable: false, reason: kmsgProblem },
  );
  return { ...selection, fastPath: planFastPath(config.sources.use, selection.name, kmsgProblem) };
}

interface FastPath {
  ledger: KernelLedger;
  kmsg: Source;
  pipeline: Pipeline;
}

function readBootId(): string | null {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || null;
  } catch {
    // Without a boot id the records of two boots cannot be told apart: no fast path.
    return null;
  }
}

/**
 * The kernel fast path (sources/kernel-dedupe.ts): /dev/kmsg through its own pipeline beside
 * the journal's, and the journal source wrapped so it drops the kernel records the kmsg path
 * stored. Both pipelines write through the same writer; each saves its own position and its
 * half of the ledger in its own transactions.
 */
function createFastPath(o: DaemonOptions, journal: Source, writer: EventWriter): { fastPath: FastPath; journal: Source } | null {
  const bootId = readBootId();
  if (o.newTriage === undefined || bootId === null) return null;
  const ledger = new KernelLedger({
    bootId,
    savedCoverage: loadCursor(o.db, KMSG_LEDGER_ROW),
    savedClaim: loadCursor(o.db, JOURNAL_CLAIM_ROW),
  });
  const kmsg = withKmsgLedger(
    createKmsgSource({ after: loadCursor(o.db, "kmsg"), log: o.log.withTag("kmsg"), onTail: (_seq, us) => ledger.kmsgTail(us) }),
    ledger,
  );
  const pipeline = new Pipeline({
    source: kmsg,
    triage: o.newTriage(),
    writer,
    log: o.log.withTag("kmsg"),
    sideRows: (position) => (position === null ? [] : [ledger.kmsgRow(position)]),
    onCommitted: (position) => {
      if (position !== null) ledger.kmsgCommitted(position);
    },
  });
  return { fastPath: { ledger, kmsg, pipeline }, journal: withJournalLedger(journal, ledger, { kmsgRunning: () => kmsg.stats.running }) };
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
  const mainSource = createSource(selection, o);
  const redactor = new Redactor(config.redact);
  const notifier = config.ntfy.url ? new NtfyNotifier(config.ntfy, redactor) : null;
  const configPath = o.configPath ?? null;
  const sender = notifier
    ? new OutboxSender({
        db,
        notifier,
        log: log.withTag("ntfy"),
        maxAgeMs: config.ntfy.maxAgeMs,
        configVersion: () => filesFingerprint([configPath, config.ntfy.tokenFile]),
        reload: () => {
          if (configPath === null) return null;
          const fresh = loadConfig(configPath, { env: process.env, hostname: hostname() }).config;
          return new NtfyNotifier(fresh.ntfy, new Redactor(fresh.redact));
        },
      })
    : null;
  const alertTiers = new Set<Tier>(config.ntfy.alertTiers);
  const amClient = alertmanagerClient(config.alertmanager);
  const alertmanager = amClient
    ? new AlertmanagerFeed({
        db,
        client: amClient,
        instanceId: config.instance.id,
        resendMs: config.alertmanager.resendIntervalMs,
        detailsBaseUrl: apiBaseUrl(config.http.listen),
        log: log.withTag("alertmanager"),
      })
    : null;
  /** Incidents changed: whoever tells the outside world looks now. */
  const wakeNotifiers = () => {
    sender?.wake();
    alertmanager?.wake();
  };
  // The incident's sequence id travels with its lead event's alert, also through the
  // enrichment stage's rewrite, so the phone keeps one notification per incident.
  const controlTopic = notifier ? config.ntfy.controlTopic : null;
  // "Details" opens the incident's page on this daemon's API, so only where a phone can reach
  // it ([http] public_url, behind a proxy or a VPN); the link is made with the same key.
  const detailsBase = notifier && config.http.listen && config.http.publicUrl ? config.http.publicUrl : null;
  let controlKey: Buffer | null = null;
  if (controlTopic !== null || detailsBase !== null) {
    try {
      controlKey = loadOrCreateControlKey(controlKeyPath(db.filename));
    } catch (error) {
      log.error(
        `${controlTopic !== null ? "control topic" : "Details buttons"} off: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  // Without a control topic there is no mute button: nothing would hear it.
  const withButtons = (n: Notification, incidentId: string | null | undefined): Notification => {
    if (!controlKey || !notifier || !incidentId) return n;
    const actions: NtfyAction[] = [];
    if (controlTopic) actions.push(muteButton(controlKey, notifier.target, controlTopic, incidentId, Date.now() * 1000));
    if (detailsBase)
      actions.push({ action: "view", label: "Details", url: `${detailsBase}${detailsPath(controlKey, incidentId)}`, clear: false });
    return actions.length > 0 ? { ...n, actions } : n;
  };
  const toNotification = notifier
    ? (event: StoredEventWithLines) =>
        withButtons(withSequence(alertFor(event, config.ntfy, config.instance.id), event.incidentId), event.incidentId)
    : null;
  const control =
    controlKey && notifier && controlTopic
      ? new ControlSubscriber(db, controlKey, notifier.target, controlTopic, () => notifier.authorizationHeader(), log.withTag("control"))
      : null;
  const incidents = new IncidentStep({
    instanceId: config.instance.id,
    policy: incidentPolicy(config),
    rules: { updateIntervalMs: config.ntfy.updateIntervalMs },
    windows: resolveWindows(config.incidents),
    onResolve: config.ntfy.onResolve,
    toNotification,
    click: config.ntfy.click,
    unitState: unitStateVia(processRunner),
  });
  // Alerts a previous run left waiting for enrichment are written now, from what their events
  // hold, and go out. Without ntfy they wait, unwritten, for a run that can send them.
  const released = toNotification ? releaseAllEnriching(db, toNotification) : 0;
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
    onReleased: wakeNotifiers,
    // A root cause found after the alert went out updates the incident's notification.
    onLateCause: (database, eventId, nowUs) => incidents.rootCauseFound(database, eventId, nowUs),
  });
  const writer = new EventWriter({
    db,
    policy: {
      instanceId: config.instance.id,
      cooldownMs: config.cooldown.windowMs,
      aggregateThreshold: config.cooldown.aggregateThreshold,
    },
    alerts: toNotification ? { tiers: alertTiers, toNotification } : null,
    enrichment,
    incidents,
    onAlertsQueued: () => sender?.wake(),
    onStored: () => alertmanager?.wake(),
  });
  const fast = selection.fastPath.on && mainSource ? createFastPath(o, mainSource, writer) : null;
  const fastPath = fast?.fastPath ?? null;
  const fastPathReason =
    selection.fastPath.on && !fastPath
      ? "off: the boot id cannot be read, so kernel records of two boots cannot be told apart"
      : selection.fastPath.reason;
  const source = fast?.journal ?? mainSource;
  // A unit started again ends its incident: one at a time, each after systemctl answered.
  let unitStarts: Promise<void> = Promise.resolve();
  const onUnitStarts = (starts: UnitStart[]) => {
    for (const start of starts)
      unitStarts = unitStarts
        .then(() => incidents.unitStarted(db, start, Date.now() * 1000))
        .then((queued) => {
          if (queued > 0) sender?.wake();
          alertmanager?.wake();
        })
        .catch((error: unknown) =>
          // The quiet window still resolves it.
          log.warn(`incidents: ${start.unit} started again, not looked at: ${error instanceof Error ? error.message : String(error)}`),
        );
  };
  const pipeline = source
    ? new Pipeline({
        source,
        triage: o.triage,
        writer,
        log,
        // The journal path's claims on kernel records the kmsg path could not read in time.
        sideRows: () => {
          const row = fastPath?.ledger.journalRow();
          return row ? [row] : [];
        },
        onUnitStarts,
      })
    : null;
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
      // The journalctl reader itself: with the kernel fast path, `source` is a wrapper around it
      // (sources/kernel-dedupe.ts withJournalLedger), which is no JournalSource.
      if (mainSource instanceof JournalSource) mainSource.restartReader(why);
    },
  });

  log.info(
    `logtriage ${VERSION} daemon: instance ${config.instance.id} (${config.instance.role}), source ${selection.name ?? "none"} — ${selection.reason}; db ${db.filename}; ${notificationTarget(config)}`,
  );
  const restarted = restartedFrom(process.env[RESTARTED_ENV]);
  // Not passed on to journalctl and the tools the daemon runs.
  delete process.env[RESTARTED_ENV];
  if (restarted) log.info(`restarted in place: ${restarted.why}`);
  if (!source) log.error(`no log source can be read, so nothing will be detected: ${selection.reason}`);
  if (selection.name === "journal") log.info(`kernel fast path ${fastPath ? "on" : "off"}: ${fastPathReason}`);

  const state = (): DaemonState => ({
    version: VERSION,
    instance: config.instance.id,
    source: {
      name: selection.name,
      reason: selection.reason,
      stats: source
        ? { ...source.stats }
        : { recordsRead: 0, malformed: 0, lost: 0, restarts: 0, lastError: selection.reason, lastReadUs: null, running: false },
      lastEntryUs: pipeline?.counters.lastEntryUs ?? null,
      lagUs: pipeline?.counters.lagUs ?? null,
      committed: pipeline?.counters.committedPosition ?? null,
    },
    fastPath:
      selection.name === "journal"
        ? {
            on: fastPath !== null,
            reason: fastPathReason,
            kmsg: fastPath ? { ...fastPath.kmsg.stats } : null,
            committed: fastPath?.pipeline.counters.committedPosition ?? null,
            ledger: fastPath ? { ...fastPath.ledger.counters } : null,
          }
        : null,
    psi: config.psi.enabled ? psiNow() : null,
    notifications: notificationTarget(config),
    heldCandidates: pipeline?.heldCandidates ?? 0,
    monitors: monitors.map((m) => m.name),
    enrichment: { ...enrichment.counters, waiting: enrichment.pending },
    outbox: sender
      ? {
          paused: sender.counters.paused,
          expired: sender.counters.expired,
          refused: sender.counters.refused,
          updatesInPlace: sender.counters.updatesInPlace,
        }
      : null,
    blind: blindness.current(),
  });
  const systemd = openSystemdNotifier();
  // The idle floor a storm is measured against: from when start-up has settled.
  const idleFloor = new IdleFloor();
  /** Writes the heartbeat row (and systemd's STATUS=); false when the database refused it. */
  const beat = (): boolean => {
    if (Date.now() - startedUs / 1000 >= FLOOR_AFTER_START_MS) idleFloor.observe(readMemory());
    try {
      const s = state();
      writeHeartbeat(db, process.pid, startedUs, Date.now() * 1000, s);
      systemd?.send(`STATUS=${statusLine(s, pipeline?.counters.eventsNew ?? 0)}`);
      if (heartbeatFailing) log.info("the database takes writes again");
      heartbeatFailing = false;
      return true;
    } catch (error) {
      if (!heartbeatFailing)
        log.warn(
          `cannot write the heartbeat: ${explainSqliteError(error, db.filename)?.message ?? (error instanceof Error ? error.message : String(error))}`,
        );
      heartbeatFailing = true;
      return false;
    }
  };
  // First look before the first STATUS=, so a daemon that starts blind says so at once.
  blindness.start();
  beat();
  const heartbeat = setInterval(beat, HEARTBEAT_MS);
  // The memory figures (bun:jsc, loaded for them) only when they would be written.
  const debugLog = log.level >= LogLevels.debug;
  // Once everything has started: the start-up code and garbage need not stay resident, and
  // what stays (the working set) is locked, so a thrashing machine does not page us out.
  setTimeout(() => {
    const trim = trimStartupMemory();
    if (trim.error) log.debug(`start-up memory not trimmed: ${trim.error}`);
    const lock = lockMemory();
    if (!lock.locked) log.info(lock.reason);
    if (debugLog)
      void memoryNote().then((note) =>
        log.debug(`start-up memory trimmed, ${lock.locked ? `${lock.what} locked` : "not locked"}; ${note}`),
      );
  }, 2_000).unref();
  const watchdog = systemd ? startWatchdog(systemd, source, beat, log) : null;
  // [db] retention, ten minutes after start and then daily. Its code is not needed again until
  // tomorrow, so its pages are given back after it (as the start-up ones were).
  const retain = () => {
    try {
      const r = applyRetention(db, Date.now() * 1000, config.db.retentionMs);
      if (r.events || r.alerts || r.incidents)
        log.info(
          `retention: removed ${r.events} event(s), ${r.incidents} resolved incident(s) and ${r.alerts} sent alert(s) older than ${formatDuration(config.db.retentionMs)}; the file shrank by ${r.pagesFreed} page(s)`,
        );
    } catch (error) {
      log.warn(`retention failed, tried again tomorrow: ${error instanceof Error ? error.message : String(error)}`);
    }
    trimStartupMemory();
  };
  // Held-back updates and quiet incidents: looked at often enough for a one-minute update
  // interval to be kept to within a few seconds.
  let sweeping = false;
  const sweep = setInterval(
    () => {
      if (sweeping) return;
      sweeping = true;
      incidents
        .sweep(db, Date.now() * 1000)
        .then((queued) => {
          if (queued > 0) sender?.wake();
          alertmanager?.wake();
        })
        .catch((error: unknown) =>
          log.warn(`incidents: ${error instanceof Error ? error.message : String(error)}; looked at again shortly`),
        )
        .finally(() => {
          sweeping = false;
        });
    },
    Math.max(250, Math.min(5_000, config.ntfy.updateIntervalMs / 4)),
  );
  // A storm's heap the runtime keeps after the trim's full collection: given back by a restart
  // in place, once the storm is over and no enrichment would be cut short, at most every
  // RESTART_GAP_MS (a fresh image's own storm waits, so no loop).
  const restartIfStormLeftMemory = (entries: number) => {
    const idle = idleFloor.get();
    const lastMs = restarted?.atMs ?? 0;
    if (!o.requestRestart || entries < STORM_ENTRIES || !idle || !enrichment.quiet || Date.now() - lastMs < RESTART_GAP_MS) return;
    // Read only once a storm could call for it.
    const now = readMemory();
    if (!now || !stormLeftMemory(idle, now)) return;
    const mb = (kb: number) => (kb / 1024).toFixed(1);
    o.requestRestart(
      `a burst of ${entries} entries left the heap at ${mb(now.anonKb)} MB against ${mb(idle.anonKb)} MB idle, memory the runtime keeps`,
    );
  };
  const settle = settleAfterBursts({
    // A storm fills SQLite's page cache (up to 2 MB a connection by default); read again from
    // the OS's file cache when next needed.
    release: () => db.run("PRAGMA shrink_memory"),
    // Every record the main source read (its pipeline sees only those its prefilter kept, so
    // adding both counted each kept record twice), plus the fast path's kernel records.
    entriesRead: () => (source?.stats.recordsRead ?? 0) + (fastPath?.pipeline.counters.entries ?? 0),
    onTrim: (r, entries) => {
      if (debugLog)
        void memoryNote().then((note) =>
          log.debug(`after a burst of ${entries} entries: memory trimmed${r.error ? ` (${r.error})` : ""}; ${note}`),
        );
      restartIfStormLeftMemory(entries);
    },
  });
  const firstRetention = setTimeout(retain, 600_000);
  const retention = setInterval(retain, 86_400_000);
  void announceReady(systemd, source, signal);
  const http = config.http.listen ? startApi(o, state, () => !heartbeatFailing, monitors, detailsBase ? controlKey : null) : null;
  const pending = outboxCounts(db).pending;
  if (pending > 0)
    log.info(
      sender
        ? `${pending} alert(s) from before wait in the outbox; sending them first`
        : `${pending} alert(s) wait in the outbox, unsent while [ntfy] url is not set`,
    );

  try {
    await Promise.all([
      pipeline?.run(signal),
      fastPath?.pipeline.run(signal),
      sender?.run(signal),
      control?.run(signal),
      alertmanager?.run(signal),
      ...monitors.map((m) => runMonitor(m, writer, log, signal)),
      source ? undefined : new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true })),
    ]);
  } finally {
    await enrichment.close();
    // A start being looked at finishes (its systemctl is bounded); what it resolves is stored.
    await unitStarts;
    const unstored = writer.close();
    if (unstored > 0) log.error(`stopping with ${unstored} monitor event(s) the database refused; they are lost`);
    await http?.stop();
    // Restarting in place: the same pid comes back and says READY=1 again, as after a reload.
    systemd?.send(signal.reason instanceof RestartInPlace ? "RELOADING=1" : "STOPPING=1");
    clearInterval(heartbeat);
    blindness.stop();
    if (watchdog) clearInterval(watchdog);
    clearInterval(sweep);
    clearTimeout(firstRetention);
    clearInterval(settle);
    clearInterval(retention);
    beat();
    systemd?.close();
    markStopped(db, Date.now() * 1000);
    const entries = (pipeline?.counters.entries ?? 0) + (fastPath?.pipeline.counters.entries ?? 0);
    const eventsNew = (pipeline?.counters.eventsNew ?? 0) + (fastPath?.pipeline.counters.eventsNew ?? 0);
    log.info(`stopped: ${entries} entries read, ${eventsNew} new events, ${sender?.counters.sent ?? 0} alerts sent this run`);
  }
}

/** The local HTTP API and /metrics ([http] listen): the daemon's own state and database handle, read-only. */
function startApi(
  o: DaemonOptions,
  state: () => DaemonState,
  dbWritable: () => boolean,
  monitors: Monitor[],
  detailsKey: Buffer | null,
): HttpServer | null {
  const { config, db, log } = o;
  const listen = config.http.listen;
  if (!listen) return null;
  const probes = monitors.find((m): m is ProbesMonitor => m instanceof ProbesMonitor) ?? null;
  const failedUnits = new FailedUnitsReader(processRunner);
  const units = config.metrics.units.length
    ? new UnitReader({ units: config.metrics.units, runner: processRunner, log: log.withTag("metrics") })
    : null;
  return startHttpServer({
    listen,
    openLoopback: config.http.allowUnauthenticatedLoopback,
    log: log.withTag("http"),
    deps: {
      db,
      token: config.http.token,
      detailsKey,
      redactor: new Redactor(config.redact),
      services: Object.keys(config.services),
      snapshotsDir: snapshotsDir(config.db.path),
      nowUs: () => Date.now() * 1000,
      health: () => {
        const s = state().source;
        return {
          sourceName: s.name,
          sourceRunning: s.stats.running,
          sourceError: s.stats.lastError,
          dbWritable: dbWritable(),
          blind: state().blind ?? [],
          outboxPaused: state().outbox?.paused ?? null,
        };
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
            outboxPaused: () => (state().outbox?.paused ?? null) !== null,
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
    monitorLog.error(
      `the ${monitor.name} monitor stopped: ${error instanceof Error ? error.message : String(error)}; the rest of the daemon goes on`,
    );
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
function startWatchdog(
  systemd: SystemdNotifier,
  source: Source | null,
  beat: () => boolean,
  log: Log,
): ReturnType<typeof setInterval> | null {
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
      log.warn(
        `not answering systemd's watchdog: ${dbOk ? `the ${source?.name} source is down (${source?.stats.lastError ?? "no reader"})` : "the database takes no writes"}; systemd restarts the daemon if this lasts`,
      );
    }
  }, pingMs);
}

export function statusLine(s: DaemonState, newEvents: number): string {
  const blind = blindLine(s.blind ?? []);
  const src = s.source.name
    ? `${s.source.name}${s.source.stats.running ? "" : " (down)"}: ${s.source.stats.recordsRead} records read`
    : "no source";
  return `${blind ? `${blind} | ` : ""}${src}, ${newEvents} new events this run`;
}

function psiNow(): DaemonState["psi"] {
  const psi = readMemoryPsi();
  return psi && { someAvg10: psi.some.avg10, fullAvg10: psi.full?.avg10 ?? null };
}
