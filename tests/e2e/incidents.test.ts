import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startNtfyStandIn, type NtfyStandIn, type ReceivedMessage } from "../_ntfy-standin.ts";
import { events, startDaemon, until, withDb, type DaemonUnderTest } from "./_daemon.ts";
import { ensureJournald, ensureUserManager, isRoot, type Journald, type UserManager } from "./_system.ts";

// Incidents end to end: the compiled daemon on a real journald and a real `systemd --user`,
// alerting a local ntfy stand-in that follows ntfy 2.16's sequence ids. (a) A real unit that
// fails 20 times in a few seconds and then runs: one incident, posted at most three times
// (opened, crash loop, resolved) under one sequence id. (b) A unit's process OOM-killed in its
// own memory cgroup: the kernel's report and the unit's oom-kill failure are one incident and
// one notification.

const RUNTIME_UNITS = "/run/user/0/systemd/user";
const API_TOKEN = "e2e-incidents-token";

function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = s.port as number;
  s.stop(true);
  return port;
}

interface IncidentRow {
  id: string;
  fingerprint: string;
  state: string;
  occurrences: number;
  loop: number;
  resolution: string | null;
  events: number;
}

function incidents(dbPath: string): IncidentRow[] {
  return (
    withDb(
      dbPath,
      (db) =>
        db
          .query(
            "SELECT i.id, i.fingerprint, i.state, i.occurrences, i.loop, i.resolution, (SELECT count(*) FROM events e WHERE e.incident_id = i.id) AS events FROM incidents i ORDER BY first_seen",
          )
          .all() as IncidentRow[],
    ) ?? []
  );
}

describe.skipIf(!isRoot)("incidents end to end (root: real journald, real systemd --user, real OOM kill)", () => {
  let journald: Journald | null = null;
  let manager: UserManager;
  let daemon: DaemonUnderTest;
  let ntfy: NtfyStandIn;
  const flappy = `lt-e2e-flap-${process.pid}`;
  const hog = `lt-e2e-inc-oom-${process.pid}.service`;
  const counter = `/tmp/lt-e2e-flap-${process.pid}.count`;
  const systemctl = (...args: string[]) =>
    Bun.spawnSync(["systemctl", "--user", ...args], { env: manager.env, stdout: "pipe", stderr: "pipe" });
  const postsAbout = (unit: string): ReceivedMessage[] => ntfy.messages.filter((m) => m.tags.includes(unit) || m.title.includes(unit));

  const apiPort = freePort();
  beforeAll(async () => {
    journald = await ensureJournald();
    manager = await ensureUserManager();
    ntfy = await startNtfyStandIn({ rateLimit: null });
    mkdirSync(RUNTIME_UNITS, { recursive: true });
    // Fails on its first 20 starts (restarted 100 ms later each time), then stays up.
    writeFileSync(
      join(RUNTIME_UNITS, `${flappy}.service`),
      `[Unit]\nStartLimitIntervalSec=0\n[Service]\nRestart=on-failure\nRestartSec=100ms\nExecStart=/bin/sh -c 'n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; echo "attempt $n"; [ $n -gt 20 ] && exec sleep 3600; exit 1'\n`,
    );
    rmSync(counter, { force: true });
    expect(systemctl("daemon-reload").exitCode).toBe(0);
    daemon = await startDaemon(`
[instance]
id = "e2e-incidents"

[ntfy]
url = "${ntfy.url}/lt-incidents"
update_interval = "3s"
control_topic = "lt-incidents-control"

[incidents]
resolve_unit = "6s"

[http]
listen = "127.0.0.1:${apiPort}"
token = "${API_TOKEN}"
public_url = "http://127.0.0.1:${apiPort}"
`);
    await daemon.waitForOutput(/source journal/);
  });

  afterAll(async () => {
    if (daemon && daemon.proc.exitCode === null) await daemon.stop();
    await ntfy?.stop();
    if (!manager) return;
    systemctl("stop", `${flappy}.service`, hog);
    systemctl("reset-failed", `${flappy}.service`, hog);
    rmSync(join(RUNTIME_UNITS, `${flappy}.service`), { force: true });
    rmSync(counter, { force: true });
    systemctl("daemon-reload");
    await manager.stop();
    await journald?.stop();
  });

  test("a unit failing 20 times, then running: one incident, at most 3 posts under one sequence id, resolved in words", async () => {
    const startedMs = Date.now();
    expect(systemctl("start", "--no-block", `${flappy}.service`).exitCode).toBe(0);
    const unit = `${flappy}.service`;
    await until("the resolved post", () => postsAbout(unit).some((m) => m.title.includes("Resolved")), 60_000).catch((error: Error) => {
      throw new Error(
        `${error.message}; posts: ${JSON.stringify(postsAbout(unit).map((m) => [m.title, m.sequenceId]))}; incidents: ${JSON.stringify(incidents(daemon.dbPath))}`,
      );
    });
    const posts = postsAbout(unit);
    const mine = incidents(daemon.dbPath).filter((i) => i.fingerprint === `unit:${unit}`);
    const failures = events(daemon.dbPath).filter((e) => e.unit === unit);
    console.log(
      `FIGURE unit failing 20 times in ${Math.round((Date.now() - startedMs) / 1000)} s: ${mine.length} incident(s), ${posts.length} post(s), ${new Set(posts.map((p) => p.sequenceId)).size} sequence id(s), occurrences ${mine[0]?.occurrences}; posts: ${JSON.stringify(posts.map((p) => p.title))}`,
    );
    expect(mine).toHaveLength(1);
    expect(mine[0]!.state).toBe("resolved");
    expect(mine[0]!.loop).toBe(1);
    expect(mine[0]!.occurrences).toBeGreaterThanOrEqual(20);
    expect(mine[0]!.resolution).toBe("restart loop quiet for 6 s");
    expect(failures.every((e) => e.occurrences >= 1)).toBe(true);
    expect(posts.length).toBeLessThanOrEqual(3);
    expect(posts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(posts.map((p) => p.sequenceId))).toEqual(new Set([`logtriage-${mine[0]!.id}`]));
    expect(ntfy.notifications("lt-incidents").filter((n) => n.sequenceId === `logtriage-${mine[0]!.id}`)).toHaveLength(1);
    expect(posts.at(-1)!.message).toMatch(/^Resolved after \d+ s: restart loop quiet for 6 s/);
  }, 90_000);

  test("a unit's process OOM-killed: one incident with the kernel's report and the unit's failure, one notification", async () => {
    const script = "import sys\nprint('allocating', flush=True)\na = []\nwhile True: a.append(bytearray(1 << 20))";
    const run = Bun.spawnSync(["systemd-run", "--user", `--unit=${hog}`, "-p", "MemoryLimit=48M", "python3", "-c", script], {
      env: manager.env,
      stdout: "pipe",
      stderr: "pipe",
    });
    if (run.exitCode !== 0) throw new Error(`systemd-run: ${run.stderr.toString()}`);
    await until(
      "the T1 and T3 events in one incident",
      () => incidents(daemon.dbPath).some((i) => i.fingerprint === `unit:${hog}` && i.events >= 2),
      30_000,
    ).catch((error: Error) => {
      throw new Error(
        `${error.message}; incidents: ${JSON.stringify(incidents(daemon.dbPath))}; events: ${JSON.stringify(events(daemon.dbPath).map((e) => [e.tier, e.rule, e.unit]))}`,
      );
    });
    await until("its post", () => postsAbout(hog).length > 0, 20_000);
    // The unit's failure came after the kernel's report: give a second post, were there one, time to arrive.
    await until(
      "the outbox drained",
      () =>
        (withDb(
          daemon.dbPath,
          (db) => (db.query("SELECT count(*) AS n FROM outbox WHERE state IN ('pending', 'enriching')").get() as { n: number }).n,
        ) ?? 1) === 0,
      20_000,
    );
    const mine = incidents(daemon.dbPath).filter((i) => i.fingerprint === `unit:${hog}`);
    const posts = postsAbout(hog);
    const tiers = events(daemon.dbPath)
      .filter((e) => e.unit === hog)
      .map((e) => e.tier)
      .sort();
    console.log(
      `FIGURE OOM kill of a unit's process: ${mine.length} incident(s), events ${JSON.stringify(tiers)}, ${posts.length} post(s): ${JSON.stringify(posts.map((p) => p.title))}`,
    );
    expect(mine).toHaveLength(1);
    expect(tiers).toEqual(["T1", "T3"]);
    expect(posts).toHaveLength(1);
    expect(posts[0]!.title).toContain("OOM kill");
    expect(posts[0]!.sequenceId).toBe(`logtriage-${mine[0]!.id}`);
  }, 60_000);

  test("the alert's 'Mute 24 h' button, published to the control topic as the phone would, mutes the incident in the daemon", async () => {
    const post = postsAbout(hog)[0]!;
    const button = post.actions[0] as { action: string; label: string; url: string; method: string; body: string };
    expect([button.action, button.label, button.url]).toEqual(["http", "Mute 24 h", `${ntfy.url}/lt-incidents-control`]);
    const [inc] = incidents(daemon.dbPath).filter((i) => i.fingerprint === `unit:${hog}`);
    const muted = () =>
      withDb(
        daemon.dbPath,
        (db) => (db.query("SELECT mute_json FROM incidents WHERE id = ?").get(inc!.id) as { mute_json: string | null }).mute_json,
      ) ?? null;
    expect(muted()).toBeNull();
    await fetch(button.url, { method: button.method, body: button.body });
    await until("the mute", () => muted() !== null, 10_000).catch((error: Error) => {
      throw new Error(`${error.message}; daemon output: ${daemon.output().slice(-2000)}`);
    });
    expect(JSON.parse(muted()!)).toMatchObject({ severity: "critical", loop: false });
    await daemon.waitForOutput(/muted for 24 h from the phone/);
    // The same message again is a replay: refused, and said once.
    await fetch(button.url, { method: button.method, body: button.body });
    await daemon.waitForOutput(/refused a message \(replayed\)/);
  }, 30_000);

  test("the alert's 'Details' button opens the incident's page on the daemon's API without the API token", async () => {
    const post = postsAbout(hog)[0]!;
    const button = post.actions.find((a) => a["label"] === "Details") as { action: string; url: string } | undefined;
    const [inc] = incidents(daemon.dbPath).filter((i) => i.fingerprint === `unit:${hog}`);
    expect(button?.action).toBe("view");
    expect(button!.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${apiPort}/details/${inc!.id}/[0-9a-f]{32}$`));
    // Opened as a phone's browser would: no Authorization header.
    const page = await fetch(button!.url);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(hog);
    expect(html).toContain("OOM kill");
    // The rest of the API still wants the token; a link with another token is nothing.
    expect((await fetch(`http://127.0.0.1:${apiPort}/incidents/${inc!.id}`)).status).toBe(401);
    expect((await fetch(button!.url.replace(/[0-9a-f]{32}$/, "0".repeat(32)))).status).toBe(404);
  }, 30_000);
});
