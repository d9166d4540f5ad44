// The PSI monitor's figures, run by `bun run bench` or alone: `bun scripts/bench-psi.ts`.
//   1. idle RSS the PSI monitor adds to the compiled daemon: [psi] off beside [psi] on at its
//      default reading every 5 s, and on at 10 readings a second, which fills the history to
//      its maximum (616 readings, what 10 minutes of 1 s readings under pressure leave) in
//      about 62 s; as a user unit runs it (memory not locked);
//   2. the CPU that one reading costs (PSI, meminfo and the top-5 scan of every /proc/PID/statm)
//      as a share of one core at one reading a second, on this machine's processes and with
//      300 more sleeping ones.
// Environment: BENCH_RUNS (default 5; the RSS pairs use min(3, runs)), BENCH_PSI_S (70).

import { readdirSync, readFileSync, rmSync } from "node:fs";
import { readMemorySample, TOP_PROCESSES } from "../src/monitors/psi.ts";
import { TopProcessSampler } from "../src/host/proc-sample.ts";
import { readPageSizeKb } from "../src/host/proc-files.ts";
import { startDaemon } from "../tests/e2e/_daemon.ts";

const RUNS = Number(process.env["BENCH_RUNS"] ?? 5);
const HOLD_S = Number(process.env["BENCH_PSI_S"] ?? 70);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? NaN);
}

async function daemonRss(psi: boolean, pollInterval: string): Promise<number> {
  const config = `[sources]\nuse = "kmsg"\n\n[psi]\nenabled = ${psi}\npoll_interval = "${pollInterval}"\n`;
  // As a user unit runs it: no CAP_IPC_LOCK, so no mlockall (which would keep the start-up peak).
  const daemon = await startDaemon(config, [], ["setpriv", "--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock"]);
  try {
    await daemon.waitForOutput(/source kmsg/);
    await Bun.sleep(HOLD_S * 1000);
    if (daemon.proc.exitCode !== null) throw new Error(`the daemon exited: ${daemon.output()}`);
    return rssKb(daemon.proc.pid);
  } finally {
    await daemon.stop();
    rmSync(daemon.box.home, { recursive: true, force: true });
  }
}

async function benchRss(): Promise<void> {
  const pairs = Math.min(3, RUNS);
  const off: number[] = [];
  const on: number[] = [];
  const full: number[] = [];
  // Alternated, one daemon at a time (the start-up trim skips pages another process maps).
  for (let i = 0; i < pairs; i++) {
    off.push(await daemonRss(false, "5s"));
    on.push(await daemonRss(true, "5s"));
    full.push(await daemonRss(true, "100ms"));
  }
  const mb = (kb: number) => (kb / 1024).toFixed(1);
  const list = (xs: number[]) => xs.map(mb).join(", ");
  console.log(`\n## PSI monitor and memory history: RSS after ${HOLD_S} s, kmsg source, not locked, ${pairs} rounds`);
  console.log(`daemon, [psi] off                      : median ${mb(median(off))} MB  (${list(off)})`);
  console.log(`daemon, [psi] on, idle (a reading / 5 s): median ${mb(median(on))} MB  (${list(on)})`);
  console.log(`daemon, [psi] on, 10 readings/s (history full after ~62 s): median ${mb(median(full))} MB  (${list(full)})`);
  console.log(
    `added when idle: median of rounds ${(median(on.map((kb, i) => kb - (off[i] as number))) / 1024).toFixed(2)} MB (aim ≤ 2 MB); with a full history at 10 readings/s: ${(median(full.map((kb, i) => kb - (off[i] as number))) / 1024).toFixed(2)} MB`,
  );
}

function cpuPerReadingMs(readings: number): number {
  const sampler = new TopProcessSampler(TOP_PROCESSES, readPageSizeKb());
  const before = process.cpuUsage();
  for (let i = 0; i < readings; i++) readMemorySample(Date.now() * 1000, sampler);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / readings;
}

function processCount(): number {
  return readdirSync("/proc").filter((n) => /^\d+$/.test(n)).length;
}

function benchCpu(): void {
  const batches = Math.max(3, RUNS);
  const measure = () => median(Array.from({ length: batches }, () => cpuPerReadingMs(100)));
  console.log(
    `\n## PSI monitor: CPU of one reading (PSI + meminfo + top 5 of every /proc/PID/statm), medians of ${batches} × 100 readings`,
  );
  const base = measure();
  console.log(
    `${processCount()} processes: ${base.toFixed(3)} ms CPU per reading = ${(base / 10).toFixed(3)}% of one core at 1 reading/s (aim ≤ 1%)`,
  );
  const sleepers = Array.from({ length: 300 }, () => Bun.spawn(["sleep", "600"], { stdout: "ignore", stderr: "ignore" }));
  try {
    const more = measure();
    console.log(
      `${processCount()} processes: ${more.toFixed(3)} ms CPU per reading = ${(more / 10).toFixed(3)}% of one core at 1 reading/s`,
    );
  } finally {
    for (const s of sleepers) s.kill();
  }
}

export async function benchPsi(): Promise<void> {
  benchCpu();
  if (process.getuid?.() !== 0) {
    console.log("\n## PSI monitor idle RSS: skipped (reading /dev/kmsg for the daemon needs root here)");
    return;
  }
  await benchRss();
}

if (import.meta.main) await benchPsi();
