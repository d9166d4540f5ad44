import type { Database } from "bun:sqlite";
import type { Config } from "../config/schema.ts";
import type { Log } from "../log.ts";
import type { Runner } from "../run.ts";
import type { MemoryHistory } from "./memory-history.ts";
import type { Monitor } from "./monitor.ts";

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
  void deps;
  return monitors;
}
