import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";
import { cli } from "../cli/_run.ts";
import { events, startDaemon, until, withDb, type DaemonUnderTest } from "./_daemon.ts";
import {
  ensureJournald,
  ensureUserManager,
  isRoot,
  memcgOomKill,
  pythonNamed,
  segfault,
  type Journald,
  type UserManager,
} from "./_system.ts";

// The compiled daemon on the real system: a real journald, a real systemd --user manager,
// real cgroup OOM kills and segfaults, alerts to a local ntfy stand-in. What a user would see
// at 3 a.m., checked end to end.

const TOPIC = "lt-e2e";

function config(ntfyUrl: string): string {
  return `
[instance]
id = "e2e-box"

[ntfy]
url = "${ntfyUrl}/${TOPIC}"
timeout = "2s"
# An incident's held-back update (a unit's failures becoming a loop) would otherwise join the
# outbox about a minute later, in the middle of the outage test's count.
update_interval = "1h"

[rules]
# The burst lines of the exactly-once test (counted by rule: the journald restart may add a
# blindness event of the same tier); the process group keeps each
# line its own event unless the lines share a unit.
[[rules.custom]]
name = "lt-burst"
tier = "T4"
# A warning: stored and in the digest, not alerted (T4 alerts from high up), so the burst's
# thousands of events do not queue alerts behind the later tests' checks of the outbox.
severity = "warning"
identifier = "lt-burst"
pattern = "burst (?<process>\\\\d+)"
summary = "burst line {process}"

# Records written to /dev/kmsg, stored by the kernel fast path or from the journal's copy.
[[rules.custom]]
name = "lt-kburst"
tier = "T4"
identifier = "lt-kburst"
pattern = "kburst (?<process>\\\\d+)"
summary = "kernel burst line {process}"

# A marker to know the daemon has read the journal up to here. Another tier than the burst:
# where the test's processes share a unit (init.scope), the cooldown folds same-tier events.
[[rules.custom]]
name = "lt-marker"
tier = "T5"
identifier = "lt-e2e"
pattern = "marker"
`;
}

function journal(identifier: string, lines: string[], priority = "err"): void {
  const p = Bun.spawnSync(["systemd-cat", "-t", identifier, "-p", priority], { stdin: new TextEncoder().encode(`${lines.join("\n")}\n`) });
  if (p.exitCode !== 0) throw new Error(`systemd-cat: ${p.stderr.toString()}`);
}

describe.skipIf(!isRoot)("daemon end to end (root: real journald, systemd --user, OOM kills, segfaults)", () => {
  let journald: Journald;
  let manager: UserManager;
  let ntfy: NtfyStandIn;
  let daemon: DaemonUnderTest;
  let work: string;
  const units: string[] = [];

  async function awaitMarker(n: number): Promise<void> {
    journal("lt-e2e", [`marker ${n}`]);
    // Counted by occurrences: markers fold into one event when they share a unit or process.
    try {
      await until(
        `marker ${n} in the database`,
        () =>
          events(daemon.dbPath)
            .filter((e) => e.rule === "lt-marker")
            .reduce((sum, e) => sum + e.occurrences, 0) ===
          n + 1,
        15_000,
      );
    } catch (error) {
      // Say where it stopped: in the journal, or between the journal and the database.
      const inJournal = Bun.spawnSync(["journalctl", "--quiet", "-o", "cat", "-t", "lt-e2e"])
        .stdout.toString()
        .trim()
        .split("\n")
        .slice(-3)
        .join(" | ");
      throw new Error(
        `${(error as Error).message}; the journal's last lt-e2e lines: ${inJournal || "none"}; daemon output:\n${daemon.output()}`,
      );
    }
  }

  beforeAll(async () => {
    journald = await ensureJournald();
    manager = await ensureUserManager();
    ntfy = await startNtfyStandIn({ rateLimit: null });
    work = mkdtempSync(join(tmpdir(), "logtriage-e2e-daemon-"));
    daemon = await startDaemon(config(ntfy.url));
    await daemon.waitForOutput(/source journal/);
    await until("the daemon's journalctl", () => daemon.journalctlPid() !== null);
    await awaitMarker(0);
  });

  afterAll(async () => {
    if (daemon && daemon.proc.exitCode === null) await daemon.crash();
    for (const unit of units) {
      Bun.spawnSync(["systemctl", "--user", "stop", unit], { env: manager.env });
      Bun.spawnSync(["systemctl", "--user", "reset-failed", unit], { env: manager.env });
    }
    await ntfy?.stop();
    await manager?.stop();
    await journald?.stop();
    if (daemon) rmSync(daemon.box.home, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("the start summary names instance, source, database and ntfy target", () => {
    const out = daemon.output();
    expect(out).toContain("instance e2e-box (desktop)");
    expect(out).toContain("source journal — journald is running and the system journal is readable");
    expect(out).toContain(daemon.dbPath);
    expect(out).toContain(`ntfy ${ntfy.url}/${TOPIC} (T1, T2, T3, T4)`);
  });

  test("a real cgroup OOM kill: one T1 event and one alert naming the victim, within 5 s", async () => {
    const victim = `lt-oom-a-${process.pid}`;
    const before = ntfy.messages.length;
    const { pid } = await memcgOomKill(`lt_e2e_a_${process.pid}`, pythonNamed(work, victim));
    const killedAt = Date.now();
    await until("the OOM alert", () => ntfy.messages.length > before, 5_000);
    const alert = ntfy.messages[before];
    expect(alert?.title).toContain(`[e2e-box]`);
    expect(alert?.title).toContain(victim);
    expect(alert?.priority).toBe(5);
    expect(alert?.message).toContain(`Details: logtriage show `);
    expect((alert?.receivedAtMs ?? Infinity) - killedAt).toBeLessThan(5_000);
    const t1 = events(daemon.dbPath).filter((e) => e.tier === "T1");
    expect(t1.length).toBe(1);
    expect(t1[0]?.summary).toContain(`pid ${pid}`);
    await Bun.sleep(500);
    expect(ntfy.messages.length).toBe(before + 1);
  });

  test("a real segfault: one T2 event and one alert", async () => {
    const before = ntfy.messages.length;
    const pid = await segfault(work);
    await until("the crash alert", () => ntfy.messages.length > before, 5_000);
    expect(ntfy.messages[before]?.title).toContain("python3");
    const t2 = events(daemon.dbPath).filter((e) => e.tier === "T2");
    expect(t2.length).toBe(1);
    expect(t2[0]?.pid).toBe(pid);
  });

  test("a real user unit failing repeatedly: T3 events with unit and exit status, one incident and one notification for them", async () => {
    const unit = `lt-e2e-fail-${process.pid}.service`;
    units.push(unit);
    const before = ntfy.messages.length;
    const run = Bun.spawnSync(
      [
        "systemd-run",
        "--user",
        `--unit=${unit}`,
        "-p",
        "Restart=on-failure",
        "-p",
        "RestartSec=200ms",
        "-p",
        "StartLimitBurst=3",
        "-p",
        "StartLimitIntervalSec=30",
        "/bin/sh",
        "-c",
        "exit 3",
      ],
      { env: manager.env, stdout: "pipe", stderr: "pipe" },
    );
    expect(run.exitCode).toBe(0);
    await until(
      "the unit's T3 events",
      () => events(daemon.dbPath).some((e) => e.tier === "T3" && e.unit === unit && /start|gave|repeated|loop/i.test(e.summary)),
      15_000,
    );
    const t3 = events(daemon.dbPath).filter((e) => e.tier === "T3" && e.unit === unit);
    expect(t3.length).toBeGreaterThanOrEqual(1);
    const facts = t3.map((e) => JSON.parse(e.facts_json) as { kind: string; exitStatus?: string | null });
    expect(facts.some((f) => f.kind === "unit" && f.exitStatus === "3")).toBe(true);
    await awaitMarker(1);
    // Unit failures alert on defaults, as one incident: its repeats (and the start-limit hit)
    // update it in place at most once a minute, so within this test there is one post.
    const posts = () => ntfy.messages.slice(before).filter((m) => m.tags.includes(unit));
    await until("the incident's post (after the unit enricher's lines)", () => posts().length > 0, 15_000);
    await Bun.sleep(500);
    expect(posts()).toHaveLength(1);
    expect(posts()[0]?.sequenceId).toMatch(/^logtriage-[0-9a-f]{16}$/);
  });

  test("a real user unit restarted forever with clean exits: one restart-loop T3 event", async () => {
    const unit = `lt-e2e-loop-${process.pid}.service`;
    units.push(unit);
    const run = Bun.spawnSync(
      [
        "systemd-run",
        "--user",
        `--unit=${unit}`,
        "-p",
        "Restart=always",
        "-p",
        "RestartSec=200ms",
        "-p",
        "StartLimitIntervalSec=0",
        "/bin/sh",
        "-c",
        "exit 0",
      ],
      { env: manager.env, stdout: "pipe", stderr: "pipe" },
    );
    expect(run.exitCode).toBe(0);
    await until(
      "the restart-loop event",
      () => events(daemon.dbPath).some((e) => e.unit === unit && e.rule === "unit-restart-loop"),
      15_000,
    );
    Bun.spawnSync(["systemctl", "--user", "stop", unit], { env: manager.env });
    const mine = events(daemon.dbPath).filter((e) => e.unit === unit);
    expect(mine.length).toBe(1);
    expect(mine[0]?.tier).toBe("T3");
  });

  test("ntfy down during two OOM kills: both alerts arrive after it is back, in order, once", async () => {
    const before = ntfy.messages.length;
    await ntfy.stop();
    const first = `lt-oom-b-${process.pid}`;
    const second = `lt-oom-c-${process.pid}`;
    await memcgOomKill(`lt_e2e_b_${process.pid}`, pythonNamed(work, first));
    await memcgOomKill(`lt_e2e_c_${process.pid}`, pythonNamed(work, second));
    await until("both events stored", () => events(daemon.dbPath).filter((e) => e.tier === "T1").length === 3, 10_000);
    // Only these two OOM alerts count here: an earlier test's unit-failure alert (T3 alerts on
    // defaults) may still be in the queue too.
    const waitingOom = () =>
      withDb(
        daemon.dbPath,
        (db) =>
          (
            db
              .query(
                "SELECT count(*) AS n FROM outbox o JOIN events e ON e.id = o.event_id WHERE o.state = 'pending' AND e.tier = 'T1' AND (e.summary LIKE ?1 OR e.summary LIKE ?2)",
              )
              .get(`%${first}%`, `%${second}%`) as { n: number }
          ).n,
      ) ?? 0;
    await until("both alerts waiting in the outbox", () => waitingOom() === 2, 10_000);
    const status = cli(daemon.box, ["status"]);
    expect(Number(/outbox: (\d+) waiting/.exec(status.stdout)?.[1] ?? 0)).toBeGreaterThanOrEqual(2);
    await ntfy.restart();
    const oomTitles = () =>
      ntfy.messages
        .slice(before)
        .map((m) => m.title)
        .filter((t) => t.includes(first) || t.includes(second));
    await until("the delayed alerts", () => oomTitles().length >= 2, 20_000);
    await Bun.sleep(1000);
    const titles = oomTitles();
    expect(titles.length).toBe(2);
    expect(titles[0]).toContain(first);
    expect(titles[1]).toContain(second);
  });

  test("journalctl killed, journald restarted, daemon kill -9'd mid-burst: every tiered entry is stored exactly once", async () => {
    // 1. The supervisor replaces a killed journalctl.
    const child = daemon.journalctlPid();
    expect(child).not.toBeNull();
    process.kill(child as number, "SIGKILL");
    await until("a new journalctl", () => {
      const pid = daemon.journalctlPid();
      return pid !== null && pid !== child;
    });
    await daemon.waitForOutput(/journalctl exited with signal SIGKILL/);
    // 2. journald restarts (only when this harness owns it).
    if (journald.ours) await journald.restart();
    await awaitMarker(2);
    // 3. A burst of 10,000 error lines; the daemon dies by SIGKILL in the middle of it.
    const total = 10_000;
    const lines = Array.from({ length: total }, (_, i) => `burst ${i}`);
    const writer = Bun.spawn(["systemd-cat", "-t", "lt-burst", "-p", "err"], { stdin: "pipe" });
    for (let i = 0; i < total; i += 1000) {
      writer.stdin.write(`${lines.slice(i, i + 1000).join("\n")}\n`);
      await writer.stdin.flush();
      if (i === 3000) {
        await until(
          "the daemon inside the burst",
          () =>
            (withDb(
              daemon.dbPath,
              (db) => (db.query("SELECT count(*) AS n FROM events WHERE rule = 'lt-burst'").get() as { n: number }).n,
            ) ?? 0) > 0,
          10_000,
        ).catch((error: Error) => {
          throw new Error(
            `${error.message}; daemon output:\n${daemon.output()}\nstatus: ${cli(daemon.box, ["status", "--json"]).stdout}\n${JSON.stringify(events(daemon.dbPath).map((e) => [e.rule, e.summary, e.occurrences, e.unit]))}`,
          );
        });
        await daemon.crash();
      }
    }
    await writer.stdin.end();
    await writer.exited;
    const storedBeforeRestart =
      withDb(
        daemon.dbPath,
        (db) => (db.query("SELECT coalesce(sum(occurrences), 0) AS n FROM events WHERE rule = 'lt-burst'").get() as { n: number }).n,
      ) ?? 0;
    await daemon.restart();
    await awaitMarker(3);
    // journald may drop lines of a burst (RateLimitBurst per service): what counts is that
    // every line it stored is in the database exactly once.
    // journald reads each stream on its own, so the burst's tail may land after the marker:
    // count once the journal stops growing.
    const countInJournal = () =>
      Bun.spawnSync(["journalctl", "--output=cat", "--no-pager", "SYSLOG_IDENTIFIER=lt-burst", `_PID=${writer.pid}`])
        .stdout.toString()
        .split("\n")
        .filter((l) => /^burst \d+$/.test(l)).length;
    let inJournal = countInJournal();
    for (let previous = -1; previous !== inJournal; ) {
      previous = inJournal;
      await Bun.sleep(1000);
      inJournal = countInJournal();
    }
    expect(inJournal).toBeGreaterThan(3000);
    expect(storedBeforeRestart).toBeLessThan(inJournal);
    const burstEvents = () =>
      withDb(
        daemon.dbPath,
        (db) =>
          db.query("SELECT summary, occurrences FROM events WHERE rule = 'lt-burst'").all() as { summary: string; occurrences: number }[],
      ) ?? [];
    const occurrencesOf = (rows: { occurrences: number }[]) => rows.reduce((n, e) => n + e.occurrences, 0);
    await until("every burst line stored", () => occurrencesOf(burstEvents()) >= inJournal, 10_000).catch(
      () => "the expect below reports the counts",
    );
    await Bun.sleep(500);
    const stored = burstEvents();
    expect(occurrencesOf(stored)).toBe(inJournal);
    if (stored.length === inJournal) {
      // Each line its own event: check the exact set.
      const numbers = new Set(stored.map((e) => Number(/burst line (\d+)/.exec(e.summary)?.[1])));
      expect(numbers.size).toBe(inJournal);
    }
  });

  test("kernel records on both paths (kmsg and the journal's copy), daemon kill -9'd and journald restarted mid-burst: each stored exactly once", async () => {
    expect(daemon.output()).toContain("kernel fast path on");
    // Userspace writes to /dev/kmsg are rate-limited (printk_devkmsg=ratelimit: 10 per 5 s).
    const devkmsgBefore = readFileSync("/proc/sys/kernel/printk_devkmsg", "utf8").trim();
    writeFileSync("/proc/sys/kernel/printk_devkmsg", "on\n");
    const tag = `${process.pid}`;
    const total = 2000;
    const kmsg = openSync("/dev/kmsg", "w");
    const storedCount = () =>
      withDb(
        daemon.dbPath,
        (db) => (db.query("SELECT coalesce(sum(occurrences), 0) AS n FROM events WHERE rule = 'lt-kburst'").get() as { n: number }).n,
      ) ?? 0;
    try {
      for (let i = 0; i < total; i++) {
        // One write() is one record; facility 1 (user), so "lt-kburst:" is its identifier on both paths.
        writeSync(kmsg, `<11>lt-kburst: kburst ${tag}${String(i).padStart(5, "0")}\n`);
        if (i === 600) {
          await until("the daemon inside the kernel burst", () => storedCount() > 0, 10_000);
          await daemon.crash();
        }
        if (i === 1200 && journald.ours) await journald.restart();
        if (i === 1500) {
          await daemon.restart();
          await daemon.waitForOutput(/kernel fast path on[\s\S]*kernel fast path on/);
        }
      }
    } finally {
      closeSync(kmsg);
      writeFileSync("/proc/sys/kernel/printk_devkmsg", `${devkmsgBefore}\n`);
    }
    await until("every kernel burst line stored", () => storedCount() >= total, 20_000).catch(() => "the expect below reports the counts");
    await awaitMarker(4);
    await Bun.sleep(1000);
    const rows =
      withDb(
        daemon.dbPath,
        (db) =>
          db.query("SELECT summary, occurrences FROM events WHERE rule = 'lt-kburst'").all() as { summary: string; occurrences: number }[],
      ) ?? [];
    const numbers = rows.map((r) => /kernel burst line (\d+)/.exec(r.summary)?.[1]).filter((n) => n?.startsWith(tag));
    expect(rows.reduce((n, r) => n + r.occurrences, 0)).toBe(total);
    expect(new Set(numbers).size).toBe(total);
    // Both copies did arrive: the journal's were recognized and dropped (status reads the
    // heartbeat row, written every few seconds).
    const fastPath = () =>
      (JSON.parse(cli(daemon.box, ["status", "--json"]).stdout) as { fast_path: { on: boolean; journal_copies_dropped: number } | null })
        .fast_path;
    await until("status to count dropped journal copies", () => (fastPath()?.journal_copies_dropped ?? 0) > 0, 15_000, 500);
    expect(fastPath()?.on).toBe(true);
  });

  test("status while running; SIGTERM stops within 2 s with exit 0; status then says stopped", async () => {
    // The restarts above are news of their own (journald restarted: the blindness watch alerts
    // it); wait until the sender has delivered what is queued.
    const pending = () => (JSON.parse(cli(daemon.box, ["status", "--json"]).stdout) as { outbox: { pending: number } }).outbox.pending;
    await until("the outbox to drain", () => pending() === 0, 20_000, 250);
    const running = cli(daemon.box, ["status", "--json"]);
    const state = JSON.parse(running.stdout) as {
      daemon: { state: string; pid: number };
      source: { name: string; last_error: string | null };
      outbox: { pending: number };
      enrichment: { enriched: number; failed: number; waiting: number };
    };
    expect(state.daemon.state).toBe("running");
    // The crash and OOM events above went through the enrichment stage, none of it failing.
    expect(state.enrichment.failed).toBe(0);
    expect(state.enrichment.waiting).toBe(0);
    expect(cli(daemon.box, ["status"]).stdout).toMatch(/Enrichment: +\d+ event\(s\) enriched/);
    expect(state.daemon.pid).toBe(daemon.proc.pid);
    expect(state.source.name).toBe("journal");
    expect(state.outbox.pending).toBe(0);
    const { code, ms } = await daemon.stop();
    expect(code).toBe(0);
    expect(ms).toBeLessThan(2_000);
    expect(cli(daemon.box, ["status"]).stdout).toMatch(/Daemon: +not running \(stopped /);
  });
});
