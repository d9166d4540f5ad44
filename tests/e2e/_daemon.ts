import { Database } from "bun:sqlite";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, sandbox, type Sandbox } from "../cli/_run.ts";
import { until as waitUntil } from "../_builders.ts";
import { ensureJournald, ensureUserManager, type Journald, type UserManager } from "./_system.ts";

/** The shared wait, with the 15 s these end-to-end checks have always allowed by default. */
export function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000, everyMs = 25): Promise<void> {
  return waitUntil(what, check, timeoutMs, everyMs);
}

// The compiled daemon as a child of the test (or the benchmark): its own temporary HOME and
// config, its output collected, its database read directly.

export interface DaemonUnderTest {
  readonly box: Sandbox;
  readonly dbPath: string;
  proc: ReturnType<typeof Bun.spawn<"ignore", "pipe", "pipe">>;
  output(): string;
  /** Resolves when the output matches; throws (with the output) after the timeout. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** The daemon's journalctl child, if it has one. */
  journalctlPid(): number | null;
  /** SIGTERM and wait; resolves with exit code and how long it took. */
  stop(): Promise<{ code: number | null; ms: number }>;
  /** kill -9 (and its journalctl, which a dead parent cannot reap), as a crash would. */
  crash(): Promise<void>;
  /** Start a new daemon process on the same HOME and database. */
  restart(): Promise<void>;
}

/** The pids of `pid`'s children (all its threads'), from /proc; [] once it is gone. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // The process is gone: no children to report.
  }
  return out;
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** `wrap`: a command prefix for the daemon, e.g. setpriv to drop a capability. */
export async function startDaemon(configToml: string, args: string[] = [], wrap: string[] = []): Promise<DaemonUnderTest> {
  const box = sandbox();
  const configPath = join(box.configDir, "config.toml");
  writeFileSync(configPath, configToml);
  const dbPath = join(box.dataDir, "events.db");
  let text = "";
  const spawn = () => {
    const proc = Bun.spawn([...wrap, BIN, "daemon", ...args], { env: box.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const decoder = new TextDecoder();
    for (const stream of [proc.stdout, proc.stderr]) {
      void (async () => {
        for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
      })();
    }
    return proc;
  };
  const d: DaemonUnderTest = {
    box,
    dbPath,
    proc: spawn(),
    output: () => text,
    async waitForOutput(pattern, timeoutMs = 15_000) {
      try {
        await until(`daemon output ${pattern}`, () => pattern.test(text), timeoutMs);
      } catch (error) {
        throw new Error(`${(error as Error).message}; output so far:\n${text}`);
      }
    },
    journalctlPid() {
      return childrenOf(d.proc.pid).find((pid) => commOf(pid) === "journalctl") ?? null;
    },
    async stop() {
      const started = Date.now();
      d.proc.kill("SIGTERM");
      const code = await d.proc.exited;
      return { code, ms: Date.now() - started };
    },
    async crash() {
      const child = d.journalctlPid();
      d.proc.kill("SIGKILL");
      await d.proc.exited;
      if (child !== null) {
        try {
          process.kill(child, "SIGKILL");
        } catch {
          // It already died of SIGPIPE.
        }
      }
    },
    async restart() {
      d.proc = spawn();
    },
  };
  return d;
}

/**
 * A config with one custom rule for `marker <word>` lines logged under the identifier
 * `lt-<name>-e2e`, stored as "<name> marker <word>": a test logs one after what it caused and
 * waits for it, so that everything before it has been read.
 */
export function markerConfig(name: string): string {
  return `
[instance]
id = "e2e-${name}"

[[rules.custom]]
name = "lt-${name}-marker"
tier = "T5"
identifier = "lt-${name}-e2e"
pattern = "marker (?<process>\\\\w+)"
summary = "${name} marker {process}"
`;
}

export interface DaemonOnSystem {
  readonly manager: UserManager;
  readonly daemon: DaemonUnderTest;
  /** Stops the daemon, the user manager and journald, and removes the daemon's HOME. */
  stop(): Promise<void>;
}

/**
 * Real journald and a real `systemd --user` manager, then the compiled daemon, returned once
 * the daemon follows the journal (its journalctl child runs). What it started before a failure
 * it stops again, so a failed start leaves no manager or journald behind.
 */
export async function startDaemonOnSystem(configToml: string): Promise<DaemonOnSystem> {
  let journald: Journald | undefined;
  let manager: UserManager | undefined;
  let daemon: DaemonUnderTest | undefined;
  const stop = async () => {
    if (daemon && daemon.proc.exitCode === null) await daemon.stop();
    await manager?.stop();
    await journald?.stop();
    if (daemon) rmSync(daemon.box.home, { recursive: true, force: true });
  };
  try {
    journald = await ensureJournald();
    manager = await ensureUserManager();
    daemon = await startDaemon(configToml);
    await daemon.waitForOutput(/source journal/);
    const started = daemon;
    await until("the daemon's journalctl", () => started.journalctlPid() !== null);
    return { manager, daemon, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A read-only look at the daemon's database (WAL: readable while the daemon writes). */
export function withDb<T>(dbPath: string, read: (db: Database) => T): T | null {
  if (!existsSync(dbPath)) return null;
  const db = new Database(dbPath, { readonly: true });
  try {
    db.run("PRAGMA busy_timeout = 2000");
    return read(db);
  } catch (error) {
    // The daemon may not have created its tables yet.
    if (/no such table/.test(String(error))) return null;
    throw error;
  } finally {
    db.close();
  }
}

export interface EventRow {
  id: string;
  tier: string;
  rule: string;
  summary: string;
  process: string | null;
  pid: number | null;
  unit: string | null;
  occurrences: number;
  detail: string;
  facts_json: string;
}

/**
 * How many stored events hold the journal entry `cursor`, as their first line or as an
 * occurrence folded into them: 1 once the daemon has read and stored it (exactly once).
 */
export function eventsHoldingCursor(dbPath: string, cursor: string): number {
  const rows = withDb(dbPath, (db) => db.query("SELECT cursors_json FROM events").all() as { cursors_json: string }[]) ?? [];
  return rows.reduce((n, r) => n + (JSON.parse(r.cursors_json) as string[]).filter((c) => c === cursor).length, 0);
}

export function events(dbPath: string): EventRow[] {
  return (
    withDb(
      dbPath,
      (db) =>
        db
          .query("SELECT id, tier, rule, summary, process, pid, unit, occurrences, detail, facts_json FROM events ORDER BY timestamp")
          .all() as EventRow[],
    ) ?? []
  );
}
