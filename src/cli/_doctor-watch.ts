import type { Database } from "bun:sqlite";
import type { Config } from "../config/schema.ts";
import { blindnessFix } from "../daemon/blindness.ts";
import { chooseSource } from "../daemon/daemon.ts";
import { ntfyAuthorization } from "../notify/ntfy.ts";
import { parseNtfyUrl } from "../parse/ntfy-url.ts";
import type { Runner } from "../run.ts";
import type { DaemonRow } from "../store/daemon-state.ts";

// The doctor's checks of what matters at 3 a.m.: will the daemon see anything (and does the
// running one), will ntfy take our credentials for the topic, is the database sound, and will
// the digest ever run. Each answers with what is wrong and what to do.

export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

/** ntfy's answers are small JSON objects; more than this is not ntfy. */
const MAX_BODY_CHARS = 4096;

async function readJson(response: Response): Promise<Record<string, unknown> | null> {
  const text = (await response.text()).slice(0, MAX_BODY_CHARS);
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    // Not JSON (a proxy's HTML page): the status code alone speaks.
    return null;
  }
}

/**
 * Credentials and topic access without publishing. ntfy (server/server.go, v2) answers any
 * request whose Authorization it cannot verify with 401 before routing, so `GET /v1/account`
 * checks the login (and names the account: "*" is anonymous); `GET /<topic>/auth` is the web
 * app's check of a topic and answers {"success":true}, or 403 when this login may not *read*
 * the topic. Write access is not asked by any endpoint short of publishing: a write-only
 * token gets a 403 here and still delivers, so that is a warning, and `test-ntfy` is the proof.
 * ntfy's API does not say its version; a `Server` header from a proxy is shown when present.
 */
export async function ntfyAccessChecks(config: Config): Promise<Check[]> {
  if (!config.ntfy.url) return [];
  const target = parseNtfyUrl(config.ntfy.url);
  if (!target) return [];
  let authorization: string | null;
  try {
    authorization = await ntfyAuthorization(config.ntfy);
  } catch (error) {
    return [
      {
        name: "ntfy login",
        status: "fail",
        detail: error instanceof Error ? error.message : String(error),
        fix: "correct [ntfy] token / token_file",
      },
    ];
  }
  const headers: Record<string, string> = authorization ? { Authorization: authorization } : {};
  const get = (path: string) =>
    fetch(`${target.serverUrl}${path}`, { headers, redirect: "manual", signal: AbortSignal.timeout(config.ntfy.timeoutMs) });
  const checks: Check[] = [];
  const credentials =
    authorization === null ? "no credentials" : authorization.startsWith("Bearer") ? "the token" : `user ${config.ntfy.user}`;
  try {
    const account = await get("/v1/account");
    const body = await readJson(account);
    const server = account.headers.get("server");
    const version = server ? `; server says ${server}` : "; the server does not say its version";
    if (account.status === 401) {
      checks.push({
        name: "ntfy login",
        status: "fail",
        detail: `${target.serverUrl} refused ${credentials} (401 unauthorized)`,
        fix: "check [ntfy] token (tk_…) or user/password: 'ntfy token list' on the server shows valid tokens",
      });
    } else if (account.ok && body) {
      const who =
        body["username"] === "*" || body["username"] === undefined
          ? "anonymous"
          : `account ${String(body["username"])}${body["role"] ? ` (${String(body["role"])})` : ""}`;
      const stats = body["stats"] as Record<string, unknown> | undefined;
      const left = typeof stats?.["messages_remaining"] === "number" ? `, ${stats["messages_remaining"]} message(s) left today` : "";
      checks.push({
        name: "ntfy login",
        status: "ok",
        detail: `${credentials === "no credentials" ? "no credentials: " : ""}${who}${left}${version}`,
      });
    } else {
      checks.push({
        name: "ntfy login",
        status: "warn",
        detail: `GET /v1/account answered ${account.status}: not an ntfy 2.x server, or behind a proxy that hides it${version}`,
      });
    }
  } catch (error) {
    // The reachability check above already says why in the same words; no second line for it.
    return [{ name: "ntfy login", status: "warn", detail: `not checked: ${error instanceof Error ? error.message : String(error)}` }];
  }
  try {
    const auth = await get(`/${target.topic}/auth`);
    await auth.body?.cancel();
    if (auth.ok)
      checks.push({
        name: "ntfy topic",
        status: "ok",
        detail: `${credentials} may use topic ${target.topic} (ntfy's /auth check; 'logtriage test-ntfy' publishes a real one)`,
      });
    else if (auth.status === 401)
      checks.push({
        name: "ntfy topic",
        status: "fail",
        detail: `topic ${target.topic}: ${credentials} refused (401)`,
        fix: "check [ntfy] token or user/password",
      });
    else if (auth.status === 403)
      checks.push({
        name: "ntfy topic",
        status: "warn",
        detail: `topic ${target.topic}: ${credentials} may not read it (403); publishing needs write access, which only a real publish proves`,
        fix: `run 'logtriage test-ntfy'; if that is refused too: 'ntfy access <user> ${target.topic} rw' on the server${authorization === null ? ", and set [ntfy] token" : ""}`,
      });
    else
      checks.push({
        name: "ntfy topic",
        status: "warn",
        detail: `GET /${target.topic}/auth answered ${auth.status}: the server has no topic auth check (older ntfy?)`,
      });
  } catch (error) {
    checks.push({ name: "ntfy topic", status: "warn", detail: `not checked: ${error instanceof Error ? error.message : String(error)}` });
  }
  return checks;
}

/**
 * SQLite's own check of the file (PRAGMA quick_check: every page and index entry, without
 * the full cross-check of integrity_check). Null when sound, else its first complaints.
 */
export function integrityProblem(db: Database): string | null {
  const rows = db.query("PRAGMA quick_check(5)").all() as { quick_check: string }[];
  const lines = rows.map((r) => r.quick_check);
  return lines.length === 1 && lines[0] === "ok" ? null : lines.join("; ");
}

export const CORRUPT_DB_FIX =
  "stop the daemon, keep the damaged file (mv events.db events.db.corrupt): the daemon starts a fresh one; 'sqlite3 events.db.corrupt .recover | sqlite3 events.db' salvages what it can";

/** `[digest] schedule` through systemd's own calendar parser, and the installed timer's next run. */
export async function digestScheduleChecks(config: Config, runner: Runner): Promise<Check[]> {
  if (!config.digest.enabled) return [{ name: "digest", status: "ok", detail: "off ([digest] enabled = false)" }];
  if (!Bun.which("systemd-analyze"))
    return [
      { name: "digest", status: "warn", detail: `schedule "${config.digest.schedule}" not checked: systemd-analyze is not installed` },
    ];
  const checks: Check[] = [];
  const r = await runner.run(["systemd-analyze", "calendar", config.digest.schedule], { timeoutMs: 5_000, maxOutputBytes: 16 * 1024 });
  if (r.exitCode !== 0) {
    const why = r.stderr.trim().split("\n").pop() ?? `exit code ${r.exitCode}`;
    return [
      {
        name: "digest",
        status: "fail",
        detail: `[digest] schedule = "${config.digest.schedule}" is not a systemd calendar spec: ${why}`,
        fix: 'write it as OnCalendar= takes it, e.g. "Sun 09:00" (systemd-analyze calendar "Sun 09:00" shows when it runs)',
      },
    ];
  }
  const next = /Next elapse:\s*(.+)/.exec(r.stdout)?.[1]?.trim();
  checks.push({ name: "digest", status: "ok", detail: `schedule "${config.digest.schedule}"${next ? `: next ${next}` : ""}` });
  if (Bun.which("systemctl")) {
    const show = await runner.run(["systemctl", "--user", "show", "logtriage-digest.timer", "-p", "LoadState,ActiveState,TimersCalendar"], {
      timeoutMs: 5_000,
      maxOutputBytes: 16 * 1024,
    });
    const p = Object.fromEntries(
      show.stdout
        .trim()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    if (show.exitCode === 0 && p["LoadState"] === "loaded") {
      if (p["ActiveState"] !== "active")
        checks.push({
          name: "digest timer",
          status: "warn",
          detail: `logtriage-digest.timer is ${p["ActiveState"]}: no digest is sent`,
          fix: "systemctl --user enable --now logtriage-digest.timer",
        });
      else
        checks.push({
          name: "digest timer",
          status: "ok",
          detail: `logtriage-digest.timer active (${p["TimersCalendar"] ?? "calendar unknown"})`,
        });
    }
  }
  return checks;
}

/**
 * Would a daemon started now see anything, and does the running one? The same probes the
 * daemon makes at start (daemon.ts chooseSource), and what the running daemon last said it
 * cannot see (its heartbeat row), each with the fix.
 */
export async function sightChecks(config: Config, daemon: { row: DaemonRow | null; running: boolean }): Promise<Check[]> {
  const checks: Check[] = [];
  const selection = await chooseSource(config);
  if (selection.name === null) {
    const fix = blindnessFix(selection.reason);
    checks.push({
      name: "sight",
      status: "fail",
      detail: `a daemon started now would be blind: ${selection.reason}`,
      ...(fix ? { fix } : {}),
    });
  } else {
    checks.push({
      name: "sight",
      status: "ok",
      detail: `a daemon started now reads ${selection.name === "journal" ? "the journal" : "/dev/kmsg (kernel events only)"}`,
    });
  }
  const blind = daemon.running ? (daemon.row?.state.blind ?? []) : [];
  for (const b of blind)
    checks.push({
      name: "sight (running)",
      status: "fail",
      detail: `the running daemon is blind: ${b.cause}`,
      ...(b.fix ? { fix: b.fix } : {}),
    });
  return checks;
}
