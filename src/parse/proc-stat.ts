// CPU use from /proc/stat (proc(5)). The first line sums all CPUs, in USER_HZ ticks:
//   cpu  117372 0 78174 4063517 5700 0 683 1835 0 0
//        user nice system idle iowait irq softirq steal guest guest_nice
// guest and guest_nice are already counted in user and nice (kernel/sched/cputime.c), so they
// are left out of the total. CPU % is the busy share of the ticks between two readings.

export interface CpuTimes {
  /** All ticks, guest time not counted twice. */
  totalTicks: number;
  /** idle + iowait: a CPU waiting for I/O is not busy. */
  idleTicks: number;
}

/** The aggregate `cpu` line of /proc/stat, or null when the text has none. */
export function parseCpuTimes(procStat: string): CpuTimes | null {
  const line = procStat.split("\n", 1)[0] ?? "";
  const match = /^cpu\s+(.*)$/.exec(line);
  if (!match) return null;
  const ticks = (match[1] as string).trim().split(/\s+/).map(Number);
  // Kernels since 2.6.11 have at least 8 fields (through steal); older ones are not Linux we run on.
  if (ticks.length < 4 || ticks.some((t) => !Number.isFinite(t))) return null;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = ticks;
  return { totalTicks: user + nice + system + idle + iowait + irq + softirq + steal, idleTicks: idle + iowait };
}

/** Busy CPU over the interval, 0..100 (all CPUs together); null when no time passed between them. */
export function cpuPercentBetween(before: CpuTimes, after: CpuTimes): number | null {
  const total = after.totalTicks - before.totalTicks;
  const idle = after.idleTicks - before.idleTicks;
  // Same reading twice, or counters that went back (a different machine's capture): no answer.
  if (total <= 0 || idle < 0) return null;
  return Math.min(100, Math.max(0, ((total - idle) / total) * 100));
}
