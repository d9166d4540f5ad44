import { PreviousBootMonitor } from "./previous-boot.ts";
import type { Database } from "bun:sqlite";
import type { Config } from "../config/schema.ts";
import type { Log } from "../log.ts";
import type { Runner } from "../run.ts";
import type { MemoryHistory } from "../host/memory-history.ts";
import type { Monitor } from "./monitor.ts";
import { ProbesMonitor } from "./probes.ts";
import { PsiMonitor } from "./psi.ts";
import { SmartMonitor } from "./smart.ts";
import { TimersMonitor } from "./timers.ts";
import { snapshotsDir } from "../store/snapshots.ts";

// The one list of monitors the daemon runs beside its log source, each enabled by config.

export interface MonitorDeps {
  config: Config;
  db: Database;
  /** Filled by the PSI monitor; null when [psi] is off. */
  memory: MemoryHistory | null;
  runner: Runner;
  log: Log;
}

export function createMonitors(deps: MonitorDeps): Monitor[] {
  const monitors: Monitor[] = [];
  const { psi } = deps.config;
  if (psi.enabled && deps.memory) {
    monitors.push(
      new PsiMonitor({
        memory: deps.memory,
        pollIntervalMs: psi.pollIntervalMs,
        warnSomeAvg10: psi.warnSomeAvg10,
        warnFullAvg10: psi.warnFullAvg10,
        log: deps.log.withTag("psi"),
      }),
    );
  }
  const { smart } = deps.config;
  if (smart.enabled) {
    monitors.push(
      new SmartMonitor({
        devices: smart.devices,
        pollIntervalMs: smart.pollIntervalMs,
        db: deps.db,
        runner: deps.runner,
        log: deps.log.withTag("smart"),
      }),
    );
  }
  if (Object.keys(deps.config.services).length > 0) {
    monitors.push(
      new ProbesMonitor({
        services: deps.config.services,
        db: deps.db,
        memory: deps.memory,
        runner: deps.runner,
        log: deps.log.withTag("probes"),
        snapshotsDir: snapshotsDir(deps.config.db.path),
      }),
    );
  }
  const { timers } = deps.config;
  if (timers.watch.length > 0 || timers.all) {
    monitors.push(
      new TimersMonitor({
        watch: timers.watch,
        all: timers.all,
        pollIntervalMs: timers.pollIntervalMs,
        db: deps.db,
        runner: deps.runner,
        log: deps.log.withTag("timers"),
      }),
    );
  }
  // Once per boot, at the first start in it: how did the previous boot end?
  monitors.push(
    new PreviousBootMonitor({
      db: deps.db,
      runner: deps.runner,
      log: deps.log.withTag("previous-boot"),
      instanceId: deps.config.instance.id,
    }),
  );
  return monitors;
}
