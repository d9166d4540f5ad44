import { readFileSync, statfsSync } from "node:fs";
import { join } from "node:path";
import { parseLoadavg } from "../parse/loadavg.ts";
import { parseMeminfo } from "../parse/meminfo.ts";
import { diskUsedPercent, parseRealMounts } from "../parse/mounts.ts";
import { cpuPercentBetween, parseCpuTimes, type CpuTimes } from "../parse/proc-stat.ts";

// System readings for failure snapshots: CPU, RAM, swap, disks and load,
// taken by the probes monitor once per the smallest probe interval into ONE buffer shared by
// all services, so 50 services do not read /proc 50 times.

export interface DiskUsage {
  mount: string;
  usedPercent: number;
}

export interface SystemReading {
  timeUs: number;
  /** Busy share of all CPUs since the previous reading; null for the first one. */
  cpuPercent: number | null;
  memUsedKb: number | null;
  memTotalKb: number | null;
  swapUsedKb: number | null;
  swapTotalKb: number | null;
  disks: DiskUsage[];
  load1: number | null;
  load5: number | null;
  load15: number | null;
}

export interface MemoryNow {
  memTotalKb: number;
  memAvailableKb: number;
  swapTotalKb: number;
  swapFreeKb: number;
}

/** Readings a snapshot carries per service: enough to see the trend into the failure, small enough to read. */
export const READINGS_PER_SNAPSHOT = 10;
// A service probed every 5 min beside one probed every second still wants its 10 readings
// 5 min apart: the buffer holds 10 × (largest / smallest interval) readings, capped so a
// pathological config (1 s and 1 day) cannot grow it past a few hundred kB.
const MAX_READINGS = 3_000;

export function systemHistoryCapacity(intervalsMs: readonly number[]): number {
  if (intervalsMs.length === 0) return READINGS_PER_SNAPSHOT;
  const smallest = Math.min(...intervalsMs);
  const largest = Math.max(...intervalsMs);
  return Math.min(MAX_READINGS, READINGS_PER_SNAPSHOT * Math.ceil(largest / smallest) + 1);
}

export class SystemHistory {
  readonly capacity: number;
  private readonly ring: SystemReading[] = [];

  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
  }

  get size(): number {
    return this.ring.length;
  }

  push(reading: SystemReading): void {
    this.ring.push(reading);
    // Capacity is small (tens to a few thousand): shift's copy costs less than a probe.
    if (this.ring.length > this.capacity) this.ring.shift();
  }

  latest(): SystemReading | null {
    return this.ring[this.ring.length - 1] ?? null;
  }

  /**
   * The last `count` readings spaced at least `spacingMs` apart, up to `untilUs`, oldest
   * first: a service probed every 30 s gets readings 30 s apart even when the buffer is fed
   * every second for another service. Half a sampling step of slack absorbs timer jitter.
   */
  readingsFor(spacingMs: number, count = READINGS_PER_SNAPSHOT, untilUs = Infinity, samplingMs = 0): SystemReading[] {
    const picked: SystemReading[] = [];
    const spacingUs = Math.max(0, spacingMs - samplingMs / 2) * 1000;
    let nextAtOrBeforeUs = untilUs;
    for (let i = this.ring.length - 1; i >= 0 && picked.length < count; i--) {
      const r = this.ring[i] as SystemReading;
      if (r.timeUs > nextAtOrBeforeUs) continue;
      picked.push(r);
      nextAtOrBeforeUs = r.timeUs - spacingUs;
    }
    return picked.reverse();
  }
}

function percent(part: number | null, whole: number | null): number | null {
  return part === null || whole === null || whole <= 0 ? null : (part / whole) * 100;
}

/** Seed 001's one line: "RAM: 94% | disk: 87% | load: 4.2" (disk: the fullest file system). */
export function systemSummaryLine(r: SystemReading | null): string {
  if (!r) return "no system reading yet";
  const parts: string[] = [];
  const ram = percent(r.memUsedKb, r.memTotalKb);
  parts.push(`RAM: ${ram === null ? "?" : `${Math.round(ram)}%`}`);
  const fullest = r.disks.reduce<DiskUsage | null>((a, d) => (a === null || d.usedPercent > a.usedPercent ? d : a), null);
  parts.push(`disk: ${fullest === null ? "?" : `${Math.round(fullest.usedPercent)}%`}`);
  parts.push(`load: ${r.load1 === null ? "?" : r.load1.toFixed(1)}`);
  if (r.swapTotalKb !== null && r.swapTotalKb > 0 && r.swapUsedKb !== null && r.swapUsedKb > 0) {
    parts.push(`swap: ${Math.round((r.swapUsedKb / r.swapTotalKb) * 100)}%`);
  }
  return parts.join(" | ");
}

export interface SystemSamplerOptions {
  procRoot?: string;
  /** RAM and swap now; /proc/meminfo under the proc root by default (one small file a reading). */
  readMemory?: () => MemoryNow | null;
  /** Mount points' usage; node:fs statfs by default. */
  statfs?: (mountPoint: string) => { blocks: number; bfree: number; bavail: number };
}

// A machine with hundreds of mounts (containers, snaps) is not read whole every second.
const MAX_DISKS = 32;

/** Reads /proc (the I/O edge of the parsers above); remembers the last CPU counters for CPU %. */
export class SystemSampler {
  private readonly procRoot: string;
  private readonly options: SystemSamplerOptions;
  private previousCpu: CpuTimes | null = null;

  constructor(options: SystemSamplerOptions) {
    this.options = options;
    this.procRoot = options.procRoot ?? "/proc";
  }

  private readText(...path: string[]): string | null {
    try {
      return readFileSync(join(this.procRoot, ...path), "utf8");
    } catch {
      // Not there (a captured tree without it, a hardened /proc): that field stays unknown.
      return null;
    }
  }

  sample(nowUs: number): SystemReading {
    const stat = this.readText("stat");
    const cpu = stat === null ? null : parseCpuTimes(stat);
    const cpuPercent = cpu && this.previousCpu ? cpuPercentBetween(this.previousCpu, cpu) : null;
    if (cpu) this.previousCpu = cpu;
    const loadText = this.readText("loadavg");
    const load = loadText === null ? null : parseLoadavg(loadText);
    const meminfo = this.options.readMemory ? null : this.readText("meminfo");
    const memory = this.options.readMemory ? this.options.readMemory() : meminfo === null ? null : parseMeminfo(meminfo);
    const mountsText = this.readText("self", "mounts");
    const statfs = this.options.statfs ?? ((p: string) => statfsSync(p));
    const disks: DiskUsage[] = [];
    for (const m of mountsText === null ? [] : parseRealMounts(mountsText).slice(0, MAX_DISKS)) {
      try {
        const used = diskUsedPercent(statfs(m.mountPoint));
        if (used !== null) disks.push({ mount: m.mountPoint, usedPercent: Math.round(used * 10) / 10 });
      } catch {
        // A hung NFS mount or one we may not stat: left out of this reading, not fatal.
      }
    }
    return {
      timeUs: nowUs,
      cpuPercent: cpuPercent === null ? null : Math.round(cpuPercent * 10) / 10,
      memUsedKb: memory ? memory.memTotalKb - memory.memAvailableKb : null,
      memTotalKb: memory ? memory.memTotalKb : null,
      swapUsedKb: memory ? memory.swapTotalKb - memory.swapFreeKb : null,
      swapTotalKb: memory ? memory.swapTotalKb : null,
      disks,
      load1: load?.load1 ?? null,
      load5: load?.load5 ?? null,
      load15: load?.load15 ?? null,
    };
  }
}
