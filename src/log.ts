import { createConsola, LogLevels, type ConsolaInstance, type ConsolaReporter, type LogObject } from "consola/core";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** The levels `[log] level` takes, quietest last. */
export type LogLevel = (typeof LOG_LEVELS)[number];

// One log for every command and the daemon: consola's core with a one-line reporter that
// writes through console.error. consola's full entry (its fancy reporter and Node streams) cost
// the compiled daemon ~6 MB of anonymous and ~12 MB of file-backed idle RSS, measured with
// tiny compiled programs (process.stderr.write alone: +2 MB / +6 MB; console.error: ~0).
// Under systemd (JOURNAL_STREAM set) each line starts with a syslog level prefix ("<4>"),
// which journald turns into the entry's PRIORITY, so `journalctl -p warning` finds them.

const SYSLOG_LEVEL: Record<string, number> = {
  fatal: 2,
  error: 3,
  warn: 4,
  log: 6,
  info: 6,
  success: 6,
  start: 6,
  ready: 6,
  box: 6,
  debug: 7,
  trace: 7,
  verbose: 7,
};

function lineReporter(toJournal: boolean): ConsolaReporter {
  return {
    log(logObj: LogObject) {
      const text = logObj.args.map((a) => (a instanceof Error ? (a.stack ?? a.message) : String(a))).join(" ");
      const tag = logObj.tag ? `[${logObj.tag}] ` : "";
      const prefix = toJournal ? `<${SYSLOG_LEVEL[logObj.type] ?? 6}>` : "";
      const level = logObj.type === "info" || logObj.type === "log" ? "" : `${logObj.type}: `;
      console.error(`${prefix}${tag}${level}${text}`);
    },
  };
}

export type Log = ConsolaInstance;

export function createLog(level: LogLevel = "info", env: Record<string, string | undefined> = process.env): Log {
  return createConsola({ level: LogLevels[level], reporters: [lineReporter(env["JOURNAL_STREAM"] !== undefined)] }).withTag("logtriage");
}

/**
 * A logger that says each problem once per run, by key: a monitor meeting the same missing tool
 * or refused device at every poll tells the user the first time, not every hour.
 */
export class OnceLog {
  private readonly told = new Set<string>();
  constructor(private readonly log: Pick<Log, "warn" | "info" | "debug">) {}

  tell(key: string, level: "warn" | "info" | "debug", message: string): void {
    if (this.told.has(key)) return;
    this.told.add(key);
    this.log[level](message);
  }
}
