import { hostname } from "node:os";
import { resolve } from "node:path";
import type { ArgsDef } from "citty";
import type { RuleGroup } from "../classify/rule-spec.ts";
import type { TriageOptions } from "../classify/triage.ts";
import { loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { readPageSizeKb } from "../host/proc-files.ts";
import { createLog, type Log } from "../log.ts";

// What every command shares: the options --config / --db / --debug, and turning them into
// a loaded config and paths. Commands get their environment through this module, so tests
// can run them with a temporary HOME and XDG dirs.

export const commonArgs = {
  config: { type: "string", description: "Config file (default: $XDG_CONFIG_HOME/logtriage/config.toml)", valueHint: "PATH" },
  db: { type: "string", description: "Event database (default: [db] path, ~/.local/share/logtriage/events.db)", valueHint: "PATH" },
  debug: { type: "boolean", description: "Show stack traces for internal errors" },
} as const satisfies ArgsDef;

export { UsageError } from "./_usage-error.ts";

export interface CommandEnv {
  config: Config;
  /** The config file that was read, or null for built-in defaults. */
  configPath: string | null;
  dbPath: string;
  log: Log;
}

export function loadCommandEnv(args: { config?: string | undefined; db?: string | undefined }): CommandEnv {
  const env = process.env;
  const loaded = loadConfig(args.config, { env, hostname: hostname() });
  const dbPath = args.db ? resolve(args.db) : loaded.config.db.path;
  return {
    // --db is the one database path: whatever derives a place from [db] path (the failure
    // snapshots beside it, the lock) must follow it, or the daemon would write where `query` does not look.
    config: { ...loaded.config, db: { ...loaded.config.db, path: dbPath } },
    configPath: loaded.path,
    dbPath,
    log: createLog(loaded.config.log.level),
  };
}

/** The rule groups the config's detectors (and role) switch on. */
export function enabledGroups(config: Config): Set<RuleGroup> {
  const d = config.detectors;
  const groups = new Set<RuleGroup>(["core"]);
  if (d.gpu) groups.add("gpu");
  if (d.raid) groups.add("raid");
  if (d.fileSharing) groups.add("file_sharing");
  if (d.containers) groups.add("containers");
  if (d.coredumps) groups.add("coredumps");
  if (d.memoryPressure) groups.add("memory_pressure");
  return groups;
}

export function triageOptions(config: Config, pageSizeKb = readPageSizeKb()): TriageOptions {
  return {
    pageSizeKb,
    enabledGroups: enabledGroups(config),
    disabled: config.rules.disable,
    custom: config.rules.custom,
  };
}

/** All values of a repeatable option: `--tier T1 --tier T2`, `--tier=T1,T2`. citty keeps only the last. */
export function repeatedOption(rawArgs: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i] as string;
    if (arg === `--${name}` && i + 1 < rawArgs.length) values.push(rawArgs[++i] as string);
    else if (arg.startsWith(`--${name}=`)) values.push(arg.slice(name.length + 3));
  }
  return values
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
}
