// The live daemon's figures, on the real system — root, a real journald, real cgroup
// OOM kills, the ntfy stand-in. Run by `bun run bench` after the replay/query figures, or alone:
// `bun scripts/bench-daemon.ts`. Environment: BENCH_KILLS (default 20), BENCH_IDLE_S (60),
// BENCH_STORM_LINES (200000).
//   1. latency from a real cgroup OOM kill to its POST arriving at the ntfy stand-in: p50/p95;
//   2. idle RSS of the compiled daemon after BENCH_IDLE_S with the journal source and PSI on,
//      beside a bare compiled Bun program idling as long;
//   3. a log storm through journald: the end-to-end rate (journald → daemon → SQLite), the
//      daemon's own catch-up rate from a cold start over the stored storm, peak RSS, alerts sent.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNtfyStandIn, type NtfyStandIn } from "../tests/_ntfy-standin.ts";
import { events, startDaemon, until, withDb, type DaemonUnderTest } from "../tests/e2e/_daemon.ts";
import { ensureJournald, memcgOomKill, pythonNamed } from "../tests/e2e/_system.ts";

const KILLS = Number(process.env["BENCH_KILLS"] ?? 20);
const IDLE_S = Number(process.env["BENCH_IDLE_S"] ?? 60);
const STORM_LINES = Number(process.env["BENCH_STORM_LINES"] ?? 200_000);
const WRITERS = 4;

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function statusKb(pid: number, field: "VmRSS" | "VmHWM" | "VmLck"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? NaN);
}

const STORM_CONFIG = `
[[rules.custom]]
name = "lt-storm-hit"
tier = "T2"
identifier = "lt-storm"
pattern = "hit"

[[rules.custom]]
name = "lt-storm-end"
tier = "T4"
identifier = "lt-storm"
pattern = "^end of storm"
`;

const KILL_SPACING_MS = 6_500;

/**
 * `kills` real cgroup OOM kills, one at a time, each timed from the kernel's own time of the
 * report (the event's timestamp: the first line as the kernel or journald stamped it) to its
 * POST arriving at the stand-in, so the figure includes the reader, triage, commit and the POST.
 * Victims are named `${prefix}-N` (python3 under that name, so each alert can be told apart).
 */
export async function oomToPostLatencies(
  daemon: DaemonUnderTest,
  ntfy: NtfyStandIn,
  work: string,
  kills: number,
  prefix: string,
): Promise<number[]> {
  const latenciesMs: number[] = [];
  let lastKillMs = -Infinity;
  for (let i = 0; i < kills; i++) {
    // The daemon gives at most 10 incidents a minute their own notification (the rest go into
    // one summary: incidents/flood.ts), so kills come at most 10 to any minute.
    await Bun.sleep(Math.max(0, lastKillMs + KILL_SPACING_MS - Date.now()));
    lastKillMs = Date.now();
    const before = ntfy.messages.length;
    const victim = `${prefix}-${i}`;
    await memcgOomKill(`${prefix.replaceAll("-", "_")}_${process.pid}_${i}`, pythonNamed(work, victim));
    await until(`alert ${i}`, () => ntfy.messages.length > before, 10_000, 2);
    const received = ntfy.messages[before]?.receivedAtMs ?? NaN;
    const t1 = events(daemon.dbPath).find((e) => e.summary.includes(victim));
    const eventUs =
      withDb(
        daemon.dbPath,
        (db) => (db.query("SELECT timestamp FROM events WHERE id = ?").get(t1?.id ?? "") as { timestamp: number } | null)?.timestamp,
      ) ?? NaN;
    latenciesMs.push(received - eventUs / 1000);
  }
  return latenciesMs;
}

async function benchOomLatency(work: string): Promise<void> {
  const ntfy = await startNtfyStandIn({ rateLimit: null });
  const daemon = await startDaemon(`[ntfy]\nurl = "${ntfy.url}/bench"\n`);
  try {
    await until("the daemon's journalctl", () => daemon.journalctlPid() !== null);
    // Past the start-up trim (2 s after start): measure the daemon as it idles at 3 a.m.
    await Bun.sleep(5_000);
    const latenciesMs = await oomToPostLatencies(daemon, ntfy, work, KILLS, "lt-bench");
    console.log(`\n## OOM kill → ntfy POST latency (${KILLS} real cgroup OOM kills)`);
    console.log(
      `p50 ${fmt(percentile(latenciesMs, 50))} ms   p95 ${fmt(percentile(latenciesMs, 95))} ms   max ${fmt(Math.max(...latenciesMs))} ms   (aim: p95 < 1000 ms)`,
    );
  } finally {
    await daemon.stop();
    await ntfy.stop();
    rmSync(daemon.box.home, { recursive: true, force: true });
  }
}

async function benchIdleRss(work: string): Promise<void> {
  // A bare compiled Bun program that idles, for comparison: what the runtime alone costs.
  const bareSrc = join(work, "bare.ts");
  writeFileSync(bareSrc, "setInterval(() => {}, 1000);\n");
  const bareBin = join(work, "bare");
  const build = Bun.spawnSync(["bun", "build", "--compile", bareSrc, "--outfile", bareBin], { stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`cannot build the bare program: ${build.stderr.toString()}`);
  const bare = Bun.spawn([bareBin], { stdout: "ignore", stderr: "ignore" });
  console.log(`\n## Idle RSS after ${IDLE_S} s (journal source, kmsg off, PSI on, no ntfy; aim ≤ 22 MB)`);
  try {
    // One at a time: MADV_PAGEOUT leaves pages another process maps, and both would map the binary.
    // As root the daemon locks its working set (CAP_IPC_LOCK); a user unit cannot (its memlock
    // limit is the user manager's 8 MB), so measure that too, with the capability dropped.
    for (const [label, wrap] of [
      ["memory not locked (as a user unit runs)", ["setpriv", "--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock"]],
      ["mlockall(ONFAULT) (root / system unit)", []],
    ] as const) {
      const daemon = await startDaemon(`[psi]\nenabled = true\n`, [], [...wrap]);
      try {
        await until("the daemon's journalctl", () => daemon.journalctlPid() !== null);
        await Bun.sleep(IDLE_S * 1000);
        const journalctlPid = daemon.journalctlPid();
        const childRss = journalctlPid === null ? NaN : statusKb(journalctlPid, "VmRSS");
        const lock = statusKb(daemon.proc.pid, "VmLck") > 0 ? "locked" : "not locked";
        console.log(
          `logtriage daemon, ${label}: ${fmt(statusKb(daemon.proc.pid, "VmRSS") / 1024, 1)} MB (${lock}; its journalctl child: ${fmt(childRss / 1024, 1)} MB)`,
        );
      } finally {
        await daemon.stop();
        rmSync(daemon.box.home, { recursive: true, force: true });
      }
    }
    console.log(`bare compiled Bun program: ${fmt(statusKb(bare.pid, "VmRSS") / 1024, 1)} MB`);
  } finally {
    bare.kill();
  }
}

/** Writes `lines` storm lines through `writers` parallel systemd-cat pipes; 1 in 100 is a rule hit. */
export async function storm(lines: number, writers: number): Promise<{ ms: number }> {
  const per = Math.ceil(lines / writers);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const p = Bun.spawn(["systemd-cat", "-t", "lt-storm", "-p", "err"], { stdin: "pipe" });
      for (let i = 0; i < per; i += 1000) {
        const chunk: string[] = [];
        for (let j = i; j < Math.min(per, i + 1000); j++)
          chunk.push(j % 100 === 0 ? `storm ${w}/${j}: hit` : `storm ${w}/${j}: benign noise from a chatty service`);
        p.stdin.write(`${chunk.join("\n")}\n`);
        await p.stdin.flush();
      }
      // Last on the writer's own stream, so journald stores it after all of that writer's lines.
      p.stdin.write("end of storm\n");
      await p.stdin.end();
      await p.exited;
    }),
  );
  return { ms: performance.now() - t0 };
}

/** Resolves when the daemon has stored `n` end-of-storm lines (each writer's last line). */
async function caughtUp(daemon: DaemonUnderTest, n: number): Promise<void> {
  // Counted by occurrences: the end lines fold into one event (same unit or process).
  await until(
    `the daemon to read ${n} end-of-storm lines`,
    () =>
      events(daemon.dbPath)
        .filter((e) => e.rule === "lt-storm-end")
        .reduce((sum, e) => sum + e.occurrences, 0) >= n,
    600_000,
    20,
  );
}

async function benchStorm(): Promise<void> {
  const ntfy = await startNtfyStandIn({ rateLimit: null });
  const daemon = await startDaemon(`[ntfy]\nurl = "${ntfy.url}/storm"\n${STORM_CONFIG}`);
  try {
    await until("the daemon's journalctl", () => daemon.journalctlPid() !== null);
    await Bun.sleep(500);
    const t0 = performance.now();
    const written = await storm(STORM_LINES, WRITERS);
    await caughtUp(daemon, WRITERS);
    const totalMs = performance.now() - t0;
    const peakKb = statusKb(daemon.proc.pid, "VmHWM");
    const rssAfterKb = statusKb(daemon.proc.pid, "VmRSS");
    await Bun.sleep(2000);
    const alerts = ntfy.messages.length;
    const stored = withDb(
      daemon.dbPath,
      (db) =>
        db.query("SELECT count(*) AS events, coalesce(sum(occurrences), 0) AS hits FROM events WHERE rule = 'lt-storm-hit'").get() as {
          events: number;
          hits: number;
        },
    );
    console.log(`\n## Log storm: ${fmt(STORM_LINES)} error lines through journald (1% rule hits), ${WRITERS} writers`);
    console.log(`writers done after ${fmt(written.ms)} ms; the daemon had stored the storm's last line ${fmt(totalMs)} ms after it began:`);
    console.log(
      `live, journald → daemon → SQLite: ${fmt(STORM_LINES / (totalMs / 1000))} entries/s   peak RSS ${fmt(peakKb / 1024, 1)} MB (RSS after: ${fmt(rssAfterKb / 1024, 1)} MB)`,
    );
    console.log(
      `${fmt(stored?.hits ?? 0)} rule hits → ${fmt(stored?.events ?? 0)} events → ${alerts} alerts (cooldown + crash-loop aggregation)`,
    );

    // Cold catch-up: the daemon stopped, a storm lands, the daemon starts and reads it all.
    await daemon.stop();
    const again = await storm(STORM_LINES, WRITERS);
    await Bun.sleep(2_000); // journald finishes storing it
    const t1 = performance.now();
    await daemon.restart();
    await caughtUp(daemon, 2 * WRITERS);
    const catchUpMs = performance.now() - t1;
    console.log(
      `catch-up from a cold start over ${fmt(STORM_LINES)} stored lines: ${fmt(STORM_LINES / (catchUpMs / 1000))} entries/s (${fmt(catchUpMs)} ms incl. start-up; written in ${fmt(again.ms)} ms)   peak RSS ${fmt(statusKb(daemon.proc.pid, "VmHWM") / 1024, 1)} MB`,
    );
  } finally {
    if (daemon.proc.exitCode === null) await daemon.stop();
    await ntfy.stop();
    rmSync(daemon.box.home, { recursive: true, force: true });
  }
}

export async function benchDaemon(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log("\n## Live daemon figures: skipped (they need root for journald and cgroup OOM kills)");
    return;
  }
  const journald = await ensureJournald({ rateLimitOff: true });
  if (!journald.ours)
    console.log("\n(a journald was already running: its rate limit, if on, may drop storm lines and stall the storm figures)");
  const work = mkdtempSync(join(tmpdir(), "logtriage-bench-daemon-"));
  try {
    await benchOomLatency(work);
    await benchIdleRss(work);
    await benchStorm();
  } finally {
    await journald.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) await benchDaemon();
