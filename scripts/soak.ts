// Soak: the compiled daemon for hours with everything that spawns or polls switched on, to see
// whether it stays flat. Not part of CI or `bun run bench` (it takes hours):
//   bun run build && bun scripts/soak.ts
// Environment: SOAK_MINUTES (default 120), SOAK_OUT (a CSV of the samples, default
// soak-<time>.csv in the temp dir; written as it goes, so a soak stopped early still counts).
//
// What runs: two HTTP health probes every second against a local server, the timers monitor
// (`systemctl list-timers`/`show` for every timer) every 10 s, SMART (`smartctl --scan-open` and
// one query per disk) every 10 s, and a /metrics scrape every 10 s with unit metrics for two
// units (a `systemctl show` per scrape), PSI at its default. Every minute: the daemon's RSS,
// its open fds, its children's RSS. At the end: the least-squares slope per hour of each,
// over the samples after a 5-minute warm-up (start-up and the trim settle in it).

import { readdirSync, readFileSync, writeFileSync, appendFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { childrenOf, startDaemon, until } from "../tests/e2e/_daemon.ts";

const MINUTES = Number(process.env["SOAK_MINUTES"] ?? 120);
const OUT = process.env["SOAK_OUT"] ?? join(tmpdir(), `soak-${new Date().toISOString().replace(/[:.]/g, "-")}.csv`);
const WARMUP_MIN = 5;
const TOKEN = "soak-scrape-token";

function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return Number(m?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return NaN;
  }
}

/** Least-squares slope of y over x. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

async function main(): Promise<void> {
  let probes = 0;
  const health = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (probes++, new Response("ok")) });
  const port = 20000 + (process.pid % 20000);
  const config = `
[http]
listen = "127.0.0.1:${port}"
token = "${TOKEN}"

[metrics]
units = ["ssh.service", "cron.service"]

[timers]
all = true
poll_interval = "10s"

[smart]
enabled = true
poll_interval = "10s"

[services.soak-a]
health_url = "http://127.0.0.1:${health.port}/a"
interval = "1s"

[services.soak-b]
health_url = "http://127.0.0.1:${health.port}/b"
interval = "1s"
`;
  const daemon = await startDaemon(config);
  const started = Date.now();
  let scrapes = 0;
  let scrapeFailures = 0;
  const scraper = setInterval(async () => {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      await r.text();
      if (r.ok) scrapes++;
      else scrapeFailures++;
    } catch {
      scrapeFailures++;
    }
  }, 10_000);
  writeFileSync(OUT, "minute,daemon_rss_kb,daemon_fds,children,children_rss_kb,cpu_ticks,probes,scrapes\n");
  console.log(`soak: ${MINUTES} min, daemon pid ${daemon.proc.pid}, samples in ${OUT}`);
  const minutes: number[] = [];
  const rss: number[] = [];
  const fds: number[] = [];
  const childRss: number[] = [];
  let stopping = false;
  process.on("SIGINT", () => (stopping = true));
  process.on("SIGTERM", () => (stopping = true));
  try {
    // Generous: on a busy machine (a storm in another test's journald) the start-up can take a while.
    await until(
      "the daemon's first heartbeat",
      () => {
        if (daemon.proc.exitCode !== null) throw new Error(`the daemon exited (${daemon.proc.exitCode}):\n${daemon.output().slice(-2000)}`);
        return /daemon: instance/.test(daemon.output());
      },
      180_000,
    );
    for (let m = 1; m <= MINUTES && !stopping; m++) {
      const due = started + m * 60_000;
      while (Date.now() < due && !stopping && daemon.proc.exitCode === null) await Bun.sleep(Math.min(1000, due - Date.now()));
      if (daemon.proc.exitCode !== null) throw new Error(`the daemon exited (${daemon.proc.exitCode}):\n${daemon.output().slice(-2000)}`);
      const pid = daemon.proc.pid;
      const kids = childrenOf(pid);
      const kidsRss = kids.reduce((sum, k) => sum + (statusKb(k, "VmRSS") || 0), 0);
      const sample = { rss: statusKb(pid, "VmRSS"), fds: fdCount(pid), kids: kids.length, kidsRss, cpu: cpuTicks(pid) };
      appendFileSync(OUT, `${m},${sample.rss},${sample.fds},${sample.kids},${kidsRss},${sample.cpu},${probes},${scrapes}\n`);
      if (m > WARMUP_MIN) {
        minutes.push(m);
        rss.push(sample.rss);
        fds.push(sample.fds);
        childRss.push(kidsRss);
      }
    }
  } finally {
    clearInterval(scraper);
    await daemon.stop();
    health.stop(true);
    rmSync(daemon.box.home, { recursive: true, force: true });
  }
  const perHour = (ys: number[]) => slope(minutes, ys) * 60;
  console.log(`\n## Soak (${minutes.length + WARMUP_MIN} min; ${probes} probe requests, ${scrapes} scrapes, ${scrapeFailures} failed)`);
  console.log(`daemon RSS: ${rss[0]} → ${rss.at(-1)} kB, slope ${perHour(rss).toFixed(1)} kB/h (after ${WARMUP_MIN} min warm-up)`);
  console.log(`open fds:   ${fds[0]} → ${fds.at(-1)}, slope ${perHour(fds).toFixed(2)} /h`);
  console.log(`children RSS: slope ${perHour(childRss).toFixed(1)} kB/h`);
}

if (import.meta.main) await main();
