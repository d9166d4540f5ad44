// Health probes: scheduling drift and CPU cost of the probes monitor with 50
// services, each probed every 30 s (BENCH_PROBE_INTERVAL_S), against a local HTTP server in
// another process (so its CPU is not counted), for BENCH_PROBE_S seconds (default 95: three
// rounds of every service). Drift is each check's actual start minus its scheduled time
// (monotonic clock); CPU is this process's user+system time over the run (process.cpuUsage),
// which holds the monitor, its system-history sampling and the fetches, as a share of one core.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLog } from "../src/log.ts";
import type { ServiceProbeConfig } from "../src/config/schema.ts";
import { processRunner } from "../src/run.ts";
import { ProbesMonitor } from "../src/monitors/probes.ts";
import { openStore } from "../src/store/db.ts";

const SERVICES = Number(process.env["BENCH_PROBE_SERVICES"] ?? 50);
const INTERVAL_S = Number(process.env["BENCH_PROBE_INTERVAL_S"] ?? 30);
const RUN_S = Number(process.env["BENCH_PROBE_S"] ?? 95);

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

export async function benchProbes(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "logtriage-bench-probes-"));
  const server = Bun.spawn(
    ["bun", "-e", `const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") }); console.log(s.port);`],
    { stdout: "pipe", stderr: "inherit" },
  );
  try {
    const reader = server.stdout.getReader();
    const first = await reader.read();
    const port = Number(new TextDecoder().decode(first.value).trim());
    const db = openStore(join(dir, "events.db"));
    const services: Record<string, ServiceProbeConfig> = {};
    for (let i = 0; i < SERVICES; i++)
      services[`svc${i}`] = {
        healthUrl: `http://127.0.0.1:${port}/health/${i}`,
        unit: null,
        intervalMs: INTERVAL_S * 1000,
        timeoutMs: 5_000,
        expectStatus: 200,
        failuresBeforeAlert: 2,
      };
    const driftsMs: number[] = [];
    const monitor = new ProbesMonitor({
      services,
      db,
      memory: null,
      runner: processRunner,
      log: createLog("error"),
      snapshotsDir: join(dir, "snapshots"),
      onCheckStart: (_service, scheduledMs, startedMs) => driftsMs.push(startedMs - scheduledMs),
    });
    const abort = new AbortController();
    let emitted = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const running = monitor.run(abort.signal, () => emitted++);
    await Bun.sleep(RUN_S * 1000);
    abort.abort();
    await running;
    const cpu = process.cpuUsage(cpu0);
    const wallMs = performance.now() - t0;
    db.close();
    const up = [...monitor.status().values()].filter((s) => s.up === true).length;
    console.log(
      `\n## Health probes: ${SERVICES} services every ${INTERVAL_S} s for ${RUN_S} s (${driftsMs.length} checks, ${up}/${SERVICES} up, ${emitted} events)`,
    );
    console.log(
      `scheduling drift (actual start − scheduled): median ${quantile(driftsMs, 0.5).toFixed(2)} ms, p95 ${quantile(driftsMs, 0.95).toFixed(2)} ms, max ${Math.max(...driftsMs).toFixed(2)} ms  (aim < 100 ms)`,
    );
    console.log(
      `CPU: ${(((cpu.user + cpu.system) / 1000 / wallMs) * 100).toFixed(3)}% of one core (user ${(cpu.user / 1000).toFixed(0)} ms + system ${(cpu.system / 1000).toFixed(0)} ms over ${(wallMs / 1000).toFixed(1)} s; aim < 0.5%)`,
    );
  } finally {
    server.kill();
    await server.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await benchProbes();
