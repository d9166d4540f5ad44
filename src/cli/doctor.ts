import { accessSync, constants, existsSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, resolve } from "node:path";
import { defineCommand } from "citty";
import { ConfigError } from "../config/errors.ts";
import { defaultConfigPath, loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { fetchFailure } from "../notify/ntfy.ts";
import { NTFY_OLDER_SERVER, NTFY_UPDATES_IN_PLACE } from "../notify/notifier.ts";
import { parseNtfyUrl } from "../parse/ntfy-url.ts";
import { parseShowBlocks } from "../parse/systemd-show.ts";
import { processRunner, type Runner } from "../run.ts";
import { isKmsgReadable } from "../sources/kmsg.ts";
import { planFastPath } from "../sources/kernel-dedupe.ts";
import { readMemoryPsi } from "../host/proc-files.ts";
import { isJournaldRunning, probeJournal } from "../sources/registry.ts";
import { openStore, schemaVersion, SCHEMA_VERSION } from "../store/db.ts";
import { daemonStatus, readDaemonRow } from "../store/daemon-state.ts";
import { outboxCounts } from "../store/outbox.ts";
import { formatKb } from "../text/format.ts";
import { commonArgs } from "./_context.ts";
import {
  CORRUPT_DB_FIX,
  digestScheduleChecks,
  integrityProblem,
  ntfyAccessChecks,
  sightChecks,
  type Check,
  type CheckStatus,
} from "./_doctor-watch.ts";
import type { DaemonRow } from "../store/daemon-state.ts";

// `logtriage doctor`: every precondition the daemon has, checked and explained, each failure
// with its fix. Checks never stop at the first problem: a broken config is reported and the
// rest still run on the defaults. Exit 1 when anything failed, 0 otherwise (warnings included).

export type { Check, CheckStatus } from "./_doctor-watch.ts";

const MARK: Record<CheckStatus, string> = { ok: "✓", warn: "!", fail: "✗" };

/** The report as text, a line per check and its fix indented below. Pure. */
export function renderChecks(checks: readonly Check[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${MARK[c.status]} ${c.name.padEnd(width)}  ${c.detail}`);
    if (c.fix) lines.push(`  ${" ".repeat(width)}  fix: ${c.fix}`);
  }
  const failed = checks.filter((c) => c.status === "fail").length;
  const warned = checks.filter((c) => c.status === "warn").length;
  lines.push(
    "",
    failed === 0
      ? `all good${warned ? ` (${warned} warning${warned > 1 ? "s" : ""})` : ""}`
      : `${failed} problem${failed > 1 ? "s" : ""}${warned ? `, ${warned} warning${warned > 1 ? "s" : ""}` : ""}`,
  );
  return lines.join("\n");
}

function configCheck(path: string | undefined): { check: Check; config: Config } {
  const env = process.env;
  try {
    const loaded = loadConfig(path, { env, hostname: hostname() });
    return {
      check: {
        name: "config",
        status: "ok",
        detail: loaded.path ? `${loaded.path} is valid` : `no file (${defaultConfigPath(env)}): built-in defaults`,
      },
      config: loaded.config,
    };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const fallback = loadConfig(undefined, { env: { ...env, XDG_CONFIG_HOME: "/nonexistent" }, hostname: hostname() }).config;
    return {
      check: {
        name: "config",
        status: "fail",
        detail: error.message,
        fix: "correct that line; the other checks below use the built-in defaults",
      },
      config: fallback,
    };
  }
}

async function journalChecks(config: Config): Promise<Check[]> {
  const checks: Check[] = [];
  const journalctl = Bun.which("journalctl");
  const wantsJournal = config.sources.use !== "kmsg";
  checks.push(
    journalctl
      ? { name: "journalctl", status: "ok", detail: journalctl }
      : {
          name: "journalctl",
          status: wantsJournal ? "warn" : "ok",
          detail: "not installed",
          fix: "apt install systemd (without it the daemon reads /dev/kmsg: kernel events only)",
        },
  );
  if (journalctl && wantsJournal) {
    if (!isJournaldRunning())
      checks.push({
        name: "journal",
        status: "warn",
        detail: "journald is not running: the daemon reads /dev/kmsg instead (kernel events only)",
      });
    else {
      const probe = await probeJournal();
      checks.push(
        probe.usable
          ? { name: "journal", status: "ok", detail: probe.reason }
          : { name: "journal", status: "fail", detail: probe.reason, fix: "sudo usermod -aG systemd-journal $USER, then log in again" },
      );
    }
  }
  const kmsg = isKmsgReadable();
  const kmsgNeeded = config.sources.use === "kmsg" || !isJournaldRunning();
  checks.push(
    kmsg === null
      ? { name: "/dev/kmsg", status: "ok", detail: "readable" }
      : {
          name: "/dev/kmsg",
          status: kmsgNeeded ? "fail" : "ok",
          detail: kmsgNeeded ? kmsg : `not readable, not needed while the journal is (${kmsg})`,
        },
  );
  if (!kmsgNeeded) {
    const plan = planFastPath(config.sources.use, "journal", config.sources.use === "journal" ? null : kmsg);
    checks.push(
      plan.on
        ? { name: "kernel fast path", status: "ok", detail: "on: /dev/kmsg is read beside the journal" }
        : { name: "kernel fast path", status: "ok", detail: `off: ${plan.reason}` },
    );
  }
  return checks;
}

function toolCheck(name: string, needed: boolean, purpose: string, fix: string): Check {
  const path = Bun.which(name);
  if (path) return { name, status: "ok", detail: path };
  return {
    name,
    status: needed ? "warn" : "ok",
    detail: `not installed${needed ? `: ${purpose}` : " (not needed with this config)"}`,
    ...(needed ? { fix } : {}),
  };
}

function psiCheck(): Check {
  const psi = readMemoryPsi();
  return psi
    ? { name: "PSI", status: "ok", detail: `memory some=${psi.some.avg10.toFixed(1)}% full=${(psi.full?.avg10 ?? 0).toFixed(1)}%` }
    : {
        name: "PSI",
        status: "warn",
        detail: "/proc/pressure/memory is missing: no memory-pressure history",
        fix: "Linux 4.20+ with CONFIG_PSI=y (some distributions need psi=1 on the kernel command line)",
      };
}

/** A request that publishes nothing: ntfy's health endpoint, then the topic's auth check. */
async function ntfyCheck(config: Config): Promise<Check> {
  if (!config.ntfy.url)
    return {
      name: "ntfy",
      status: "warn",
      detail: "no [ntfy] url: events are stored but no alert is sent",
      fix: `set [ntfy] url = "https://ntfy.sh/<a-secret-topic>", then logtriage test-ntfy`,
    };
  const target = parseNtfyUrl(config.ntfy.url);
  if (!target) return { name: "ntfy", status: "fail", detail: `[ntfy] url ${config.ntfy.url} names no topic` };
  const timeout = AbortSignal.timeout(config.ntfy.timeoutMs);
  try {
    const response = await fetch(`${target.serverUrl}/v1/health`, { signal: timeout, redirect: "manual" });
    await response.body?.cancel();
    if (response.status >= 500)
      return {
        name: "ntfy",
        status: "fail",
        detail: `${target.serverUrl} answers ${response.status}`,
        fix: "the server has a problem; alerts wait in the outbox meanwhile",
      };
    return {
      name: "ntfy",
      status: "ok",
      detail: `${target.serverUrl} answers (topic ${target.topic}); 'logtriage test-ntfy' sends a real one`,
    };
  } catch (error) {
    // The same words the daemon's ntfy client and test-ntfy use for the same failure.
    const reason = fetchFailure(error, {
      server: target.serverUrl,
      host: new URL(target.serverUrl).hostname,
      timeoutMs: config.ntfy.timeoutMs,
      cancelled: false,
      timedOut: timeout.aborted,
    }).message;
    return {
      name: "ntfy",
      status: "fail",
      detail: reason,
      fix: "check [ntfy] url and the network; alerts wait in the outbox until it answers",
    };
  }
}

async function unitChecks(runner: Runner): Promise<Check[]> {
  if (!Bun.which("systemctl"))
    return [{ name: "service", status: "warn", detail: "systemctl not found: run 'logtriage daemon' under your own supervisor" }];
  const show = await runner.run(
    ["systemctl", "--user", "show", "logtriage.service", "-p", "LoadState,ActiveState,SubState,UnitFileState,WatchdogUSec,NRestarts"],
    { timeoutMs: 5_000 },
  );
  if (show.exitCode !== 0)
    return [
      {
        name: "service",
        status: "warn",
        detail: `no user manager to ask (${show.stderr.trim().split("\n").pop() ?? "systemctl failed"})`,
        fix: "log in through a session with systemd, or check the unit with 'systemctl status logtriage' if installed with --system",
      },
    ];
  const p = Object.fromEntries(parseShowBlocks(show.stdout)[0] ?? []);
  if (p["LoadState"] !== "loaded")
    return [
      {
        name: "service",
        status: "warn",
        detail: "logtriage.service is not installed for this user",
        fix: "run install.sh (curl -fsSL …/install.sh | sh)",
      },
    ];
  const checks: Check[] = [];
  const active = p["ActiveState"] === "active";
  checks.push({
    name: "service",
    status: active ? "ok" : "fail",
    detail: `logtriage.service ${p["ActiveState"]} (${p["SubState"]}), ${p["UnitFileState"]}, ${p["NRestarts"] ?? "0"} restart(s)`,
    ...(active ? {} : { fix: "systemctl --user enable --now logtriage.service; journalctl --user -u logtriage -n 20 says why it stopped" }),
  });
  const watchdog = p["WatchdogUSec"] ?? "0";
  checks.push(
    watchdog !== "0" && watchdog !== "infinity"
      ? { name: "watchdog", status: "ok", detail: `WatchdogSec=${watchdog}` }
      : {
          name: "watchdog",
          status: "warn",
          detail: "no WatchdogSec on the unit: a wedged daemon would not be restarted",
          fix: "reinstall the unit (install.sh) or add WatchdogSec=60",
        },
  );
  return checks;
}

function databaseCheck(dbPath: string): Check {
  if (!existsSync(dbPath)) {
    // The daemon creates missing directories: the nearest existing one must be writable.
    let dir = dirname(dbPath);
    while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
    try {
      accessSync(dir, constants.W_OK);
      return { name: "database", status: "ok", detail: `${dbPath} not created yet (the daemon creates it; ${dir} is writable)` };
    } catch {
      return {
        name: "database",
        status: "fail",
        detail: `${dbPath} cannot be created: ${dir} is not writable by this user`,
        fix: "set [db] path to a writable place, or fix the directory's owner",
      };
    }
  }
  try {
    accessSync(dbPath, constants.R_OK | constants.W_OK);
  } catch {
    return {
      name: "database",
      status: "fail",
      detail: `${dbPath} is not readable and writable by this user`,
      fix: `chown $USER '${dbPath}'`,
    };
  }
  const sizeKb = Math.round(statSync(dbPath).size / 1024);
  try {
    const db = openStore(dbPath, { readonly: true });
    try {
      // A damaged file opens and answers small queries; only reading every page tells.
      const damage = integrityProblem(db);
      if (damage) return { name: "database", status: "fail", detail: `${dbPath} is damaged: ${damage}`, fix: CORRUPT_DB_FIX };
      const version = schemaVersion(db);
      const daemon = daemonStatus(readDaemonRow(db), Date.now() * 1000);
      return {
        name: "database",
        status: "ok",
        detail: `${dbPath}: ${formatKb(sizeKb)}, schema ${version}/${SCHEMA_VERSION}, integrity ok, daemon ${daemon}`,
      };
    } finally {
      db.close();
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // SQLITE_CORRUPT / SQLITE_NOTADB: the file is there but is not a sound database.
    const corrupt = /malformed|not a database|corrupt/i.test(message);
    return {
      name: "database",
      status: "fail",
      detail: corrupt ? `${dbPath} is damaged: ${message}` : message,
      ...(corrupt ? { fix: CORRUPT_DB_FIX } : {}),
    };
  }
}

/** The running daemon's heartbeat row, for what it says it cannot see; null when there is none to read. */
function runningDaemon(dbPath: string): { row: DaemonRow | null; running: boolean } {
  if (!existsSync(dbPath)) return { row: null, running: false };
  try {
    const db = openStore(dbPath, { readonly: true });
    try {
      const row = readDaemonRow(db);
      return { row, running: daemonStatus(row, Date.now() * 1000) === "running" };
    } finally {
      db.close();
    }
  } catch {
    // An unreadable database is the database check's to report.
    return { row: null, running: false };
  }
}

/**
 * Which ntfy the running daemon speaks to, as its replies showed (ntfy has no version
 * endpoint: a 2.16+ server echoes an alert's sequence id); null until it sent such an alert.
 */
function ntfyServerCheck(daemon: { row: DaemonRow | null; running: boolean }): Check | null {
  const inPlace = daemon.running ? (daemon.row?.state.outbox?.updatesInPlace ?? null) : null;
  if (inPlace === null) return null;
  if (inPlace) return { name: "ntfy server", status: "ok", detail: NTFY_UPDATES_IN_PLACE };
  return {
    name: "ntfy server",
    status: "warn",
    detail: NTFY_OLDER_SERVER,
    fix: "upgrade the ntfy server to 2.16 or newer (docs.ntfy.sh/install); alerts still arrive meanwhile, each update of an incident as a notification of its own",
  };
}

/** What the running daemon's sender reports: a paused outbox, refused or expired alerts. */
function outboxCheck(dbPath: string): Check | null {
  if (!existsSync(dbPath)) return null;
  let db: ReturnType<typeof openStore>;
  try {
    db = openStore(dbPath, { readonly: true });
  } catch (error) {
    // The database check below reports why it cannot be opened; nothing more to say here.
    void error;
    return null;
  }
  try {
    const row = readDaemonRow(db);
    const counts = outboxCounts(db);
    const paused = daemonStatus(row, Date.now() * 1000) === "running" ? (row?.state.outbox?.paused ?? null) : null;
    if (paused) {
      return {
        name: "outbox",
        status: "fail",
        detail: `paused since ${new Date(paused.sinceMs).toISOString()} with ${counts.pending} alert(s) waiting: ${paused.reason}`,
        fix: "fix [ntfy] in the config (or the token file); the daemon notices the change and sends what waits. 'logtriage test-ntfy' tries the settings",
      };
    }
    if (counts.failed || counts.expired) {
      return {
        name: "outbox",
        status: "warn",
        detail: `${counts.failed} alert(s) refused by ntfy, ${counts.expired} dropped unsent after [ntfy] max_age${counts.lastError ? `; last error: ${counts.lastError}` : ""}`,
        fix: "'logtriage outbox' lists them; 'logtriage outbox --retry' queues the refused ones again",
      };
    }
    return { name: "outbox", status: "ok", detail: `${counts.pending} alert(s) waiting, ${counts.sent} sent` };
  } finally {
    db.close();
  }
}

export async function runChecks(
  args: { config?: string | undefined; db?: string | undefined },
  runner: Runner = processRunner,
): Promise<Check[]> {
  const { check, config } = configCheck(args.config);
  const checks: Check[] = [check];
  checks.push(...(await journalChecks(config)));
  checks.push(
    toolCheck(
      "coredumpctl",
      config.detectors.coredumps,
      "crash backtraces come only from the kernel's line",
      "apt install systemd-coredump",
    ),
  );
  checks.push(toolCheck("smartctl", config.smart.enabled, "[smart] is on but disks cannot be queried", "apt install smartmontools"));
  checks.push(psiCheck());
  const ntfy = await ntfyCheck(config);
  checks.push(ntfy);
  if (ntfy.status === "ok") checks.push(...(await ntfyAccessChecks(config)));
  checks.push(...(await unitChecks(runner)));
  const dbPath = args.db ? resolve(args.db) : config.db.path;
  checks.push(databaseCheck(dbPath));
  const outbox = outboxCheck(dbPath);
  if (outbox) checks.push(outbox);
  const server = ntfyServerCheck(runningDaemon(dbPath));
  if (server) checks.push(server);
  checks.push(...(await sightChecks(config, runningDaemon(dbPath))));
  checks.push(...(await digestScheduleChecks(config, runner)));
  return checks;
}

export const doctorCommand = defineCommand({
  meta: {
    name: "doctor",
    description: "Check journal access, tools, PSI, config, ntfy, the service and the database; say how to fix each problem",
  },
  args: { ...commonArgs, json: { type: "boolean", description: "As JSON" } },
  async run({ args }) {
    const checks = await runChecks(args);
    process.stdout.write(args.json ? `${JSON.stringify({ checks })}\n` : `${renderChecks(checks)}\n`);
    if (checks.some((c) => c.status === "fail")) process.exitCode = 1;
  },
});
