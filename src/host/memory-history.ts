// The last minutes of memory state, kept in memory by the PSI monitor (monitors/psi.ts) and read
// by the OOM enricher (enrich/oom.ts): by the time the kernel names a victim, the process that
// ate the memory may be gone, and only a record taken before the kill can say who it was.
// Bounded twice: by age (the window) and by count, so a 1 s sampling rate cannot grow it.

export interface ProcessSample {
  pid: number;
  comm: string;
  /** The head of the command line (arguments joined by spaces), cut short. */
  cmdline: string;
  rssKb: number;
  /** Who owns it, from /proc/PID/cgroup: a systemd unit, a container or an app scope's name; null when unknown. */
  owner: string | null;
}

export interface MemorySample {
  timeUs: number;
  /** null where the kernel has no PSI. */
  psi: { someAvg10: number; fullAvg10: number | null } | null;
  memTotalKb: number | null;
  memAvailableKb: number | null;
  swapTotalKb: number | null;
  swapFreeKb: number | null;
  /** Largest processes by RSS, biggest first; empty for readings taken while memory was calm. */
  top: ProcessSample[];
}

export interface MemoryHistoryOptions {
  windowMs?: number;
  maxSamples?: number;
}

export const MEMORY_HISTORY_WINDOW_MS = 600_000;

export class MemoryHistory {
  readonly windowMs: number;
  private readonly maxSamples: number;
  private readonly ring: (MemorySample | undefined)[];
  /** Index of the oldest sample. */
  private start = 0;
  private count = 0;

  constructor(options: MemoryHistoryOptions = {}) {
    this.windowMs = options.windowMs ?? MEMORY_HISTORY_WINDOW_MS;
    // One reading a second for the whole window, plus a little slack for timer jitter.
    this.maxSamples = options.maxSamples ?? Math.ceil(this.windowMs / 1000) + 16;
    this.ring = new Array(this.maxSamples);
  }

  get size(): number {
    return this.count;
  }

  push(sample: MemorySample): void {
    if (this.count === this.maxSamples) {
      this.ring[this.start] = sample;
      this.start = (this.start + 1) % this.maxSamples;
    } else {
      this.ring[(this.start + this.count) % this.maxSamples] = sample;
      this.count++;
    }
    this.dropOlderThan(sample.timeUs - this.windowMs * 1000);
  }

  private dropOlderThan(cutoffUs: number): void {
    while (this.count > 0) {
      const oldest = this.ring[this.start] as MemorySample;
      if (oldest.timeUs >= cutoffUs) return;
      this.ring[this.start] = undefined;
      this.start = (this.start + 1) % this.maxSamples;
      this.count--;
    }
  }

  /** Samples from `sinceUs` up to `untilUs` (inclusive), oldest first. */
  samples(sinceUs = -Infinity, untilUs = Infinity): MemorySample[] {
    const out: MemorySample[] = [];
    for (let i = 0; i < this.count; i++) {
      const s = this.ring[(this.start + i) % this.maxSamples] as MemorySample;
      if (s.timeUs >= sinceUs && s.timeUs <= untilUs) out.push(s);
    }
    return out;
  }

  latest(): MemorySample | null {
    return this.count === 0 ? null : (this.ring[(this.start + this.count - 1) % this.maxSamples] as MemorySample);
  }
}
