import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Candidate, PressureFacts } from "../event.ts";
import { parseMeminfo } from "../parse/meminfo.ts";
import { parsePsi } from "../parse/psi.ts";
import { sleep } from "../sleep.ts";
import type { MemoryHistory, MemorySample } from "../host/memory-history.ts";
import type { Monitor } from "./monitor.ts";
import { PRESSURE_RISING_RULE } from "../incidents/fingerprint.ts";
import { readPageSizeKb } from "../host/proc-files.ts";
import { TopProcessSampler } from "../host/proc-sample.ts";

// The PSI monitor: every `pollInterval` (5 s) one reading of /proc/pressure/memory,
// /proc/meminfo and the five largest processes goes into the memory history, which the OOM
// enricher and the failure snapshots read. While memory PSI is above a threshold, readings
// come every second, so the minutes before an OOM kill are recorded closely.
//
// Pressure episodes get hysteresis: two readings above a threshold start one, two below end
// it, so a single spike is no event and a level hovering at the threshold is one event, not
// a stream. One T5 event per episode, when it ends, with its duration and peak.

export interface Thresholds {
  warnSomeAvg10: number;
  warnFullAvg10: number;
}

const READINGS_TO_ENTER = 2;
const READINGS_TO_LEAVE = 2;
export const TOP_PROCESSES = 5;
const FAST_INTERVAL_MS = 1_000;

export function isAbove(sample: MemorySample, t: Thresholds): boolean {
  if (!sample.psi) return false;
  return sample.psi.someAvg10 >= t.warnSomeAvg10 || (sample.psi.fullAvg10 ?? 0) >= t.warnFullAvg10;
}

/** An episode still going after this long, and not easing, is told while it lasts (an incident the OOM kill may escalate). */
export const RISING_AFTER_US = 10 * 1_000_000;

interface OpenEpisode {
  /** The rising notice was given for this episode. */
  toldRising: boolean;
  /** The latest reading's some avg10, and the one before it. */
  lastSomeAvg10: number;
  previousSomeAvg10: number;
  startUs: number;
  lastAboveUs: number;
  readings: number;
  peak: MemorySample;
  peakFull: number | null;
  lowestAvailableKb: number | null;
  highestSwapUsedKb: number | null;
}

/** The episode state machine, pure: readings in, finished episodes out. */
export class PressureEpisodes {
  private readonly t: Thresholds;
  private aboveRun: MemorySample[] = [];
  private belowRun = 0;
  private open: OpenEpisode | null = null;

  constructor(thresholds: Thresholds) {
    this.t = thresholds;
  }

  /** In an episode, or one reading away from starting one: poll fast. */
  get active(): boolean {
    return this.open !== null || this.aboveRun.length > 0;
  }

  /** Feeds one reading; returns the episode it ended, if it ended one. */
  push(sample: MemorySample): PressureFacts | null {
    const above = isAbove(sample, this.t);
    if (!this.open) {
      if (!above) {
        this.aboveRun = [];
        return null;
      }
      this.aboveRun.push(sample);
      if (this.aboveRun.length < READINGS_TO_ENTER) return null;
      const [first, ...rest] = this.aboveRun as [MemorySample, ...MemorySample[]];
      this.open = {
        toldRising: false,
        lastSomeAvg10: 0,
        previousSomeAvg10: 0,
        startUs: first.timeUs,
        lastAboveUs: first.timeUs,
        readings: 0,
        peak: first,
        peakFull: null,
        lowestAvailableKb: null,
        highestSwapUsedKb: null,
      };
      this.record(first, true);
      for (const s of rest) this.record(s, true);
      this.aboveRun = [];
      this.belowRun = 0;
      return null;
    }
    this.record(sample, above);
    if (above) {
      this.belowRun = 0;
      return null;
    }
    if (++this.belowRun < READINGS_TO_LEAVE) return null;
    return this.close(true);
  }

  /**
   * Once per episode: the episode as it stands when it has lasted RISING_AFTER_US, its latest
   * reading is still above the thresholds and higher than the one before (still rising). Null
   * otherwise. Call after push().
   */
  rising(latest: MemorySample): PressureFacts | null {
    const e = this.open;
    if (e === null || e.toldRising || latest.timeUs - e.startUs < RISING_AFTER_US || !isAbove(latest, this.t)) return null;
    // Strictly rising: a level or falling avg10 is pressure easing or holding, not the run-up to a kill.
    if (e.lastSomeAvg10 <= e.previousSomeAvg10) return null;
    e.toldRising = true;
    return { ...this.snapshot(e, false), endUs: latest.timeUs };
  }

  /** The episode still open (daemon stopping), closed as it stands; null when none is open. */
  finish(): PressureFacts | null {
    return this.open ? this.close(false) : null;
  }

  private record(s: MemorySample, above: boolean): void {
    const e = this.open as OpenEpisode;
    e.readings++;
    if (above) e.lastAboveUs = s.timeUs;
    e.previousSomeAvg10 = e.lastSomeAvg10;
    e.lastSomeAvg10 = s.psi?.someAvg10 ?? 0;
    if ((s.psi?.someAvg10 ?? 0) > (e.peak.psi?.someAvg10 ?? 0)) e.peak = s;
    if (s.psi?.fullAvg10 != null) e.peakFull = Math.max(e.peakFull ?? 0, s.psi.fullAvg10);
    if (s.memAvailableKb !== null) e.lowestAvailableKb = Math.min(e.lowestAvailableKb ?? Infinity, s.memAvailableKb);
    if (s.swapTotalKb !== null && s.swapFreeKb !== null)
      e.highestSwapUsedKb = Math.max(e.highestSwapUsedKb ?? 0, s.swapTotalKb - s.swapFreeKb);
  }

  private close(ended: boolean): PressureFacts {
    const e = this.open as OpenEpisode;
    this.open = null;
    this.belowRun = 0;
    return this.snapshot(e, ended);
  }

  private snapshot(e: OpenEpisode, ended: boolean): PressureFacts {
    return {
      startUs: e.startUs,
      // It ended when pressure was last above the line; the readings below only confirm it.
      endUs: e.lastAboveUs,
      ended,
      readings: e.readings,
      peakSomeAvg10: e.peak.psi?.someAvg10 ?? 0,
      peakFullAvg10: e.peakFull,
      warnSomeAvg10: this.t.warnSomeAvg10,
      warnFullAvg10: this.t.warnFullAvg10,
      lowestMemAvailableKb: e.lowestAvailableKb,
      memTotalKb: e.peak.memTotalKb,
      highestSwapUsedKb: e.highestSwapUsedKb,
      topAtPeak: e.peak.top.map(({ pid, comm, rssKb, owner }) => ({ pid, comm, rssKb, owner })),
    };
  }
}

/** "Memory pressure rising for 12 s: some 62% (largest: firefox 9.1 GB)": while it lasts, so the phone hears before an OOM kill. */
export function risingPressureCandidate(p: PressureFacts): Candidate {
  const seconds = Math.max(1, Math.round((p.endUs - p.startUs) / 1e6));
  const top = p.topAtPeak[0];
  const largest = top ? ` (largest: ${top.comm} ${(top.rssKb / 1_048_576).toFixed(1)} GB)` : "";
  return {
    tier: "T5",
    severity: "high",
    rule: PRESSURE_RISING_RULE,
    summary: `Memory pressure rising for ${seconds} s: some ${Math.round(p.peakSomeAvg10)}%${p.peakFullAvg10 === null ? "" : ` / full ${Math.round(p.peakFullAvg10)}%`}${largest}`,
    process: null,
    pid: null,
    unit: null,
    timestampUs: p.endUs,
    facts: { kind: "memory-pressure", pressure: p },
    entries: [],
  };
}

export function pressureCandidate(p: PressureFacts): Candidate {
  const seconds = Math.max(1, Math.round((p.endUs - p.startUs) / 1e6));
  const peak = `peak some ${Math.round(p.peakSomeAvg10)}%${p.peakFullAvg10 === null ? "" : ` / full ${Math.round(p.peakFullAvg10)}%`}`;
  return {
    tier: "T5",
    severity: "warning",
    rule: "psi-memory-pressure",
    summary: `Memory pressure: ${seconds} s, ${peak}${p.topAtPeak[0] ? ` (largest: ${p.topAtPeak[0].comm})` : ""}${p.ended ? "" : " — still going at stop"}`,
    process: null,
    pid: null,
    unit: null,
    timestampUs: p.startUs,
    facts: { kind: "memory-pressure", pressure: p },
    entries: [],
  };
}

/** One reading of the machine's memory now (the I/O half; tests give their own). */
export function readMemorySample(nowUs: number, sampler: TopProcessSampler, procRoot = "/proc"): MemorySample {
  const read = (path: string): string | null => {
    try {
      return readFileSync(join(procRoot, path), "utf8");
    } catch {
      return null;
    }
  };
  const psiText = read("pressure/memory");
  const psi = psiText === null ? null : parsePsi(psiText);
  const meminfoText = read("meminfo");
  const meminfo = meminfoText === null ? null : parseMeminfo(meminfoText);
  return {
    timeUs: nowUs,
    psi: psi && { someAvg10: psi.some.avg10, fullAvg10: psi.full?.avg10 ?? null },
    memTotalKb: meminfo?.memTotalKb ?? null,
    memAvailableKb: meminfo?.memAvailableKb ?? null,
    swapTotalKb: meminfo?.swapTotalKb ?? null,
    swapFreeKb: meminfo?.swapFreeKb ?? null,
    top: sampler.sample(),
  };
}

export interface PsiMonitorOptions extends Thresholds {
  memory: MemoryHistory;
  pollIntervalMs: number;
  log: { debug(message: string): void };
  /** Tests: a reading source and clock of their own. */
  read?: (nowUs: number) => MemorySample;
  nowUs?: () => number;
  fastIntervalMs?: number;
  wait?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export class PsiMonitor implements Monitor {
  readonly name = "psi";
  private readonly options: PsiMonitorOptions;

  constructor(options: PsiMonitorOptions) {
    this.options = options;
  }

  async run(signal: AbortSignal, emit: (candidate: Candidate) => void): Promise<void> {
    const sampler = new TopProcessSampler(TOP_PROCESSES, readPageSizeKb());
    const read = this.options.read ?? ((nowUs: number) => readMemorySample(nowUs, sampler));
    const now = this.options.nowUs ?? (() => Date.now() * 1000);
    const episodes = new PressureEpisodes(this.options);
    let saidNoPsi = false;
    while (!signal.aborted) {
      const sample = read(now());
      this.options.memory.push(sample);
      if (!sample.psi && !saidNoPsi) {
        // Nothing here is not a failure: the history still has MemAvailable and the largest processes.
        this.options.log.debug(
          "no /proc/pressure/memory (needs Linux 4.20+ with CONFIG_PSI, and not psi=0): no memory-pressure episodes, the memory history goes on without PSI",
        );
        saidNoPsi = true;
      }
      const ended = episodes.push(sample);
      if (ended) emit(pressureCandidate(ended));
      const rising = ended ? null : episodes.rising(sample);
      if (rising) emit(risingPressureCandidate(rising));
      const next =
        episodes.active || isAbove(sample, this.options) ? (this.options.fastIntervalMs ?? FAST_INTERVAL_MS) : this.options.pollIntervalMs;
      await (this.options.wait ?? sleep)(next, signal);
    }
    const open = episodes.finish();
    if (open) emit(pressureCandidate(open));
  }
}
