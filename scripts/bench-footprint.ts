// The kernel fast path and the footprint, side by side in one run (root: real journald, real
// cgroup OOM kills). Run by `bun run bench`, or alone: `bun scripts/bench-footprint.ts`.
// Environment: BENCH_KILLS (20), BENCH_IDLE_S (60: RSS is read after it), BENCH_CPU_S (300:
// the idle CPU window, after the idle wait), BENCH_STORM_LINES (200000), BENCH_FOOTPRINT (which
// parts: "latency,idle,storm", the default), BENCH_TIMELINE (set: RSS every 5 s after a storm).
//   1. real cgroup OOM kill → ntfy stand-in POST: p50/p95/max with [sources] use = "journal"
//      (journal only) and with the fast path (auto: /dev/kmsg beside the journal);
//   2. idle, for both: the daemon's RSS after BENCH_IDLE_S, its journalctl child's, the total,
//      beside a bare compiled Bun program idling as long, and CPU over BENCH_CPU_S; each RSS
//      also split into anonymous and file-backed (and locked) from /proc/PID/status;
//   3. a storm through journald, then RSS 60 s after it, against the idle figure, and when in
//      those 60 s the daemon's settle trim ran (its debug log line, with its memory figures).
// Daemons run one at a time (they map the same binary; see bench-daemon.ts). The machine may
// be shared: CPU figures are noisy, compare within one run only.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNtfyStandIn } from "../tests/_ntfy-standin.ts";
import { BIN } from "../tests/cli/_run.ts";
import { events, startDaemon, until } from "../tests/e2e/_daemon.ts";
import { ensureJournald } from "../tests/e2e/_system.ts";
import { oomToPostLatencies, percentile, storm } from "./bench-daemon.ts";

const KILLS = Number(process.env["BENCH_KILLS"] ?? 20);
const IDLE_S = Number(process.env["BENCH_IDLE_S"] ?? 60);
const CPU_S = Number(process.env["BENCH_CPU_S"] ?? 300);
const STORM_LINES = Number(process.env["BENCH_STORM_LINES"] ?? 200_000);
const TICKS_PER_S = 100;
const PARTS = new Set((process.env["BENCH_FOOTPRINT"] ?? "latency,idle,storm").split(","));

const MODES = [
  { label: "journal only", config: `[sources]\nuse = "journal"\n` },
  { label: "fast path", config: "" },
] as const;

function mb(kb: number): string {
  return (kb / 1024).toFixed(1);
}

function rssKb(pid: number | null): number {
  if (pid === null) return 0;
  try {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

async function oomLatency(work: string, mode: (typeof MODES)[number]): Promise<number[]> {
  const ntfy = await startNtfyStandIn({ rateLimit: null });
  const daemon = await startDaemon(`${mode.config}[ntfy]\nurl = "${ntfy.url}/bench"\n`);
  let latenciesMs: number[] = [];
  try {
    await until("the daemon's journalctl", () => daemon.journalctlPid() !== null);
    await Bun.sleep(3_000);
    latenciesMs = await oomToPostLatencies(daemon, ntfy, work, KILLS, `lt-fp-${mode.label === "fast path" ? "k" : "j"}`);
    const t1 = events(daemon.dbPath).filter((e) => e.tier === "T1").length;
    if (t1 !== KILLS) console.log(`(${mode.label}: ${t1} T1 events for ${KILLS} kills: duplicates or losses)`);
  } finally {
    await daemon.stop();
    await ntfy.stop();
    rmSync(daemon.box.home, { recursive: true, force: true });
  }
  return latenciesMs;
}

async function idle(
  mode: (typeof MODES)[number],
  barePid: number,
): Promise<{ daemonKb: number; childKb: number; bareKb: number; cpuPct: number; bareCpuPct: number; split: string }> {
  const daemon = await startDaemon(mode.config);
  try {
    await until("the daemon's journalctl", () => daemon.journalctlPid() !== null);
    await Bun.sleep(IDLE_S * 1000);
    const daemonKb = rssKb(daemon.proc.pid);
    const childKb = rssKb(daemon.journalctlPid());
    const bareKb = rssKb(barePid);
    const split = `daemon ${splitText(memSplit(daemon.proc.pid))}, journalctl ${splitText(memSplit(daemon.journalctlPid()))}, bare Bun ${splitText(memSplit(barePid))}`;
    const d0 = cpuTicks(daemon.proc.pid);
    const b0 = cpuTicks(barePid);
    await Bun.sleep(CPU_S * 1000);
    const cpuPct = ((cpuTicks(daemon.proc.pid) - d0) / TICKS_PER_S / CPU_S) * 100;
    const bareCpuPct = ((cpuTicks(barePid) - b0) / TICKS_PER_S / CPU_S) * 100;
    return { daemonKb, childKb, bareKb, cpuPct, bareCpuPct, split };
  } finally {
    await daemon.stop();
    rmSync(daemon.box.home, { recursive: true, force: true });
  }
}

/** RSS split from /proc/PID/status: anonymous (heap, malloc) vs file-backed (the binary, mapped journal files), and locked. */
interface MemSplit {
  rssKb: number;
  anonKb: number;
  fileKb: number;
  lockedKb: number;
}

function memSplit(pid: number | null): MemSplit {
  const none = { rssKb: NaN, anonKb: NaN, fileKb: NaN, lockedKb: NaN };
  if (pid === null) return none;
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
    return { rssKb: kb("VmRSS"), anonKb: kb("RssAnon"), fileKb: kb("RssFile") + kb("RssShmem"), lockedKb: kb("VmLck") };
  } catch {
    return none;
  }
}

function formatSigned(n: number): string {
  return `${n >= 0 ? "+" : "−"}${Math.abs(n).toFixed(0)}`;
}

function splitText(m: MemSplit): string {
  return `${mb(m.rssKb)} MB (anon ${mb(m.anonKb)} + file ${mb(m.fileKb)}, locked ${mb(m.lockedKb)})`;
}

const TRIMMED = /after a burst of (\d+) entries: memory trimmed/g;

async function stormRecovery(): Promise<{
  idle: MemSplit;
  peakKb: number;
  after: MemSplit;
  trimsAtS: number[];
  timeline: string[];
  notes: string[];
}> {
  // Debug level: the settle trim says when it ran, so the figure can be read against it.
  const daemon = await startDaemon(`
[log]
level = "debug"

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
`);
  try {
    await until("the daemon's journalctl", () => daemon.journalctlPid() !== null);
    await Bun.sleep(IDLE_S * 1000);
    const idle = memSplit(daemon.proc.pid);
    await storm(STORM_LINES, 4);
    await until(
      "the storm's end",
      () =>
        events(daemon.dbPath)
          .filter((e) => e.rule === "lt-storm-end")
          .reduce((n, e) => n + e.occurrences, 0) >= 4,
      600_000,
      50,
    ).catch((error) => {
      // Say what the daemon saw, so that a storm it did not get through can be looked into.
      const status = Bun.spawnSync([BIN, "status", "--json"], { env: daemon.box.env }).stdout.toString();
      const stored = events(daemon.dbPath).filter((e) => e.rule.startsWith("lt-storm"));
      throw new Error(
        `${(error as Error).message}\nstored: ${JSON.stringify(stored.map((e) => [e.rule, e.occurrences]))}\nstatus: ${status}\n` +
          `daemon output (last 30 lines):\n${daemon.output().split("\n").slice(-30).join("\n")}`,
      );
    });
    const peakKb = Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${daemon.proc.pid}/status`, "utf8"))?.[1] ?? NaN);
    const trimsBefore = [...daemon.output().matchAll(TRIMMED)].length;
    const trimsAtS: number[] = [];
    const timeline: string[] = [];
    const t0 = performance.now();
    for (let s = 0; s <= 60; s += 1) {
      await Bun.sleep(Math.max(0, t0 + s * 1000 - performance.now()));
      const trims = [...daemon.output().matchAll(TRIMMED)].length;
      while (trimsBefore + trimsAtS.length < trims) trimsAtS.push(s);
      if (s % 5 === 0) timeline.push(`  +${String(s).padStart(2)} s  ${splitText(memSplit(daemon.proc.pid))}`);
    }
    const notes = daemon
      .output()
      .split("\n")
      // The trims, and any restart of the journal reader during the storm (a stall taken for
      // one would show here).
      .filter((l) => /memory trimmed|restarting journalctl|stalled|in place/.test(l));
    return { idle, peakKb, after: memSplit(daemon.proc.pid), trimsAtS, timeline, notes };
  } finally {
    await daemon.stop();
    rmSync(daemon.box.home, { recursive: true, force: true });
  }
}

export async function benchFootprint(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log("\n## Fast path and footprint: skipped (they need root for journald, /dev/kmsg and cgroup OOM kills)");
    return;
  }
  const journald = await ensureJournald({ rateLimitOff: true });
  const work = mkdtempSync(join(tmpdir(), "logtriage-bench-footprint-"));
  const bareSrc = join(work, "bare.ts");
  writeFileSync(bareSrc, "setInterval(() => {}, 1000);\n");
  const bareBin = join(work, "bare");
  const build = Bun.spawnSync(["bun", "build", "--compile", bareSrc, "--outfile", bareBin], { stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`cannot build the bare program: ${build.stderr.toString()}`);
  const bare = Bun.spawn([bareBin], { stdout: "ignore", stderr: "ignore" });
  try {
    if (PARTS.has("latency"))
      console.log(`\n## OOM kill → ntfy POST, ${KILLS} real cgroup OOM kills each (aim with the fast path: p95 ≤ 50 ms)`);
    for (const mode of PARTS.has("latency") ? MODES : []) {
      const ms = await oomLatency(work, mode);
      console.log(
        `${mode.label.padEnd(13)} p50 ${percentile(ms, 50).toFixed(0)} ms   p95 ${percentile(ms, 95).toFixed(0)} ms   max ${Math.max(...ms).toFixed(0)} ms`,
      );
    }
    if (PARTS.has("idle"))
      console.log(`\n## Idle: RSS after ${IDLE_S} s, CPU over the next ${CPU_S} s (PSI on by default; shared machine: CPU is noisy)`);
    for (const mode of PARTS.has("idle") ? MODES : []) {
      const r = await idle(mode, bare.pid);
      const total = r.daemonKb + r.childKb;
      console.log(
        `${mode.label.padEnd(13)} daemon ${mb(r.daemonKb)} MB + journalctl ${mb(r.childKb)} MB = ${mb(total)} MB; bare Bun ${mb(r.bareKb)} MB (daemon ${(r.daemonKb / r.bareKb).toFixed(2)}×, total ${(total / r.bareKb).toFixed(2)}×); CPU daemon ${r.cpuPct.toFixed(3)} %, bare Bun ${r.bareCpuPct.toFixed(3)} % of a core`,
      );
      console.log(`${"".padEnd(13)} ${r.split}`);
    }
    if (!PARTS.has("storm")) return;
    console.log(
      `\n## ${STORM_LINES.toLocaleString("en-US")}-line storm through journald, fast path on (aim: back within 10 % of idle in 60 s)`,
    );
    const s = await stormRecovery();
    console.log(
      `idle ${mb(s.idle.rssKb)} MB → peak ${mb(s.peakKb)} MB → 60 s after ${mb(s.after.rssKb)} MB (${formatSigned((s.after.rssKb / s.idle.rssKb - 1) * 100)} % against idle)`,
    );
    console.log(`idle          ${splitText(s.idle)}\n60 s after    ${splitText(s.after)}`);
    console.log(
      s.trimsAtS.length
        ? `settle trim ran ${s.trimsAtS.map((t) => `${t} s`).join(", ")} after the daemon caught up`
        : "settle trim did not run within the 60 s",
    );
    if (process.env["BENCH_TIMELINE"]) console.log(s.timeline.join("\n"));
    for (const line of s.notes) console.log(`daemon: ${line}`);
  } finally {
    bare.kill();
    await journald.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) await benchFootprint();
