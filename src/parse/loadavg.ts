// /proc/loadavg (proc(5)): "0.21 0.37 0.39 1/719 19737" — load averages over 1, 5 and 15
// minutes, runnable/total tasks, the last pid.

export interface LoadAverage {
  load1: number;
  load5: number;
  load15: number;
}

export function parseLoadavg(text: string): LoadAverage | null {
  const [a, b, c] = text.trim().split(/\s+/);
  const load1 = Number(a);
  const load5 = Number(b);
  const load15 = Number(c);
  if (a === undefined || b === undefined || c === undefined) return null;
  if (![load1, load5, load15].every(Number.isFinite)) return null;
  return { load1, load5, load15 };
}
