// /proc/meminfo (proc(5)): "MemTotal:       24684096 kB" lines. Only the four fields the
// system readings and the memory history need; MemAvailable is the kernel's own estimate of
// what can be allocated without swapping (since 3.14), the honest "free" for "RAM: 94%".

export interface MeminfoReading {
  memTotalKb: number;
  memAvailableKb: number;
  swapTotalKb: number;
  swapFreeKb: number;
}

const FIELDS = { MemTotal: "memTotalKb", MemAvailable: "memAvailableKb", SwapTotal: "swapTotalKb", SwapFree: "swapFreeKb" } as const;

/** The four fields, or null when MemTotal or MemAvailable is missing (not a meminfo, or a kernel before 3.14). */
export function parseMeminfo(text: string): MeminfoReading | null {
  const found: Partial<MeminfoReading> = {};
  for (const line of text.split("\n")) {
    const match = /^(\w+):\s+(\d+)(?: kB)?$/.exec(line.trim());
    if (!match) continue;
    const key = FIELDS[match[1] as keyof typeof FIELDS];
    if (key) found[key] = Number(match[2]);
  }
  if (found.memTotalKb === undefined || found.memAvailableKb === undefined) return null;
  return {
    memTotalKb: found.memTotalKb,
    memAvailableKb: found.memAvailableKb,
    swapTotalKb: found.swapTotalKb ?? 0,
    swapFreeKb: found.swapFreeKb ?? 0,
  };
}
