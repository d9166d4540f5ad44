import type { Facts } from "../event.ts";
import { formatKb, formatWholeSeconds } from "../text/format.ts";
import type { MemorySample, ProcessSample } from "../host/memory-history.ts";
import { ownerOfCgroup } from "../host/proc-sample.ts";
import { cgroupLeaf } from "../classify/cgroup-name.ts";
import { isAbove, type Thresholds } from "../monitors/psi.ts";
import { victimRssKb } from "../parse/oom-report.ts";

// Who caused an OOM kill, from what was recorded: the kernel's own task table (taken at the
// kill, in the constraint's domain: the whole machine or the cgroup) and the memory history's
// readings before it (PSI, and the largest processes every few seconds). Pure: the enricher
// (enrich/oom.ts) hands in the readings. Every conclusion keeps the numbers it rests on.

export interface OomBlameInput {
  facts: Extract<Facts, { kind: "oom-kill" | "userspace-oom-kill" }>;
  killTimeUs: number;
  /** Readings up to the kill, oldest first; null when the memory history is off. */
  samples: MemorySample[] | null;
  thresholds: Thresholds;
}

export interface OomBlame {
  /** A summary naming the likely cause, when it is not the victim itself. */
  summary: string | null;
  lines: string[];
  evidence: Record<string, unknown>;
  missing: string[];
}

interface Consumer {
  name: string;
  pid: number;
  rssKb: number;
  oomScoreAdj: number | null;
  owner: string | null;
  source: "kernel task table" | "memory history";
}

/** How far back growth is measured: the minutes that matter for "who was eating memory". */
const GROWTH_WINDOW_US = 5 * 60 * 1_000_000;
/** Below this a process did not "grow", it fluctuated. */
const MIN_GROWTH_KB = 10 * 1024;

/** Whether the owner's name says more than the path: a unit, or an app scope turned into its app. */
function ownedBy(path: string, owner: string | null): owner is string {
  if (owner === null) return false;
  return owner !== cgroupLeaf(path) || /\.(?:service|scope|slice)$/.test(owner);
}

function lastSampleWithTop(samples: MemorySample[]): MemorySample | null {
  for (let i = samples.length - 1; i >= 0; i--) if ((samples[i] as MemorySample).top.length) return samples[i] as MemorySample;
  return null;
}

/** The process whose RSS grew the most in the window before the kill (by pid, first and last sighting). */
export function fastestGrowing(
  samples: MemorySample[],
  killTimeUs: number,
): { process: ProcessSample; fromKb: number; toKb: number; overUs: number } | null {
  const first = new Map<number, { rssKb: number; timeUs: number }>();
  const last = new Map<number, { p: ProcessSample; timeUs: number }>();
  for (const s of samples) {
    if (s.timeUs < killTimeUs - GROWTH_WINDOW_US || s.timeUs > killTimeUs) continue;
    for (const p of s.top) {
      if (!first.has(p.pid)) first.set(p.pid, { rssKb: p.rssKb, timeUs: s.timeUs });
      last.set(p.pid, { p, timeUs: s.timeUs });
    }
  }
  let best: { process: ProcessSample; fromKb: number; toKb: number; overUs: number } | null = null;
  for (const [pid, end] of last) {
    const start = first.get(pid) as { rssKb: number; timeUs: number };
    const grew = end.p.rssKb - start.rssKb;
    if (grew < MIN_GROWTH_KB || end.timeUs === start.timeUs) continue;
    if (!best || grew > best.toKb - best.fromKb)
      best = { process: end.p, fromKb: start.rssKb, toKb: end.p.rssKb, overUs: end.timeUs - start.timeUs };
  }
  return best;
}

/** How long PSI stayed over the thresholds right up to the kill, and its peak meanwhile. */
export function pressureBeforeKill(
  samples: MemorySample[],
  t: Thresholds,
): { sinceUs: number; readings: number; peakSome: number; peakFull: number | null } | null {
  let run: MemorySample[] = [];
  for (const s of samples) run = isAbove(s, t) ? [...run, s] : [];
  if (run.length === 0) return null;
  return {
    sinceUs: (run[0] as MemorySample).timeUs,
    readings: run.length,
    peakSome: Math.max(...run.map((s) => s.psi?.someAvg10 ?? 0)),
    peakFull: run.some((s) => s.psi?.fullAvg10 != null) ? Math.max(...run.map((s) => s.psi?.fullAvg10 ?? 0)) : null,
  };
}

export function blameOom(input: OomBlameInput): OomBlame {
  const { facts, killTimeUs, thresholds } = input;
  const samples = input.samples?.filter((s) => s.timeUs <= killTimeUs) ?? null;
  const lines: string[] = [];
  const missing: string[] = [];
  const evidence: Record<string, unknown> = {};

  // The victim, as the killer named it.
  const oom = facts.kind === "oom-kill" ? facts.oom : null;
  const userspace = facts.kind === "userspace-oom-kill" ? facts : null;
  const victimName = oom ? (oom.victim?.name ?? null) : (userspace?.victim ?? null);
  const victimPid = oom ? (oom.victim?.pid ?? null) : (userspace?.pid ?? null);
  const fromHistory = samples ? lastSampleWithTop(samples) : null;
  const victimInHistory = victimPid === null ? null : (fromHistory?.top.find((p) => p.pid === victimPid) ?? null);
  const victimKb = oom ? (oom.victim ? victimRssKb(oom.victim) : null) : (victimInHistory?.rssKb ?? null);
  evidence["victim"] = { name: victimName, pid: victimPid, rssKb: victimKb, oomScoreAdj: oom?.victim?.oomScoreAdj ?? null };

  // Where the memory ran out: a cgroup's own limit is not the machine running out.
  const cgroup = oom ? (oom.constraint === "CONSTRAINT_MEMCG" ? oom.memcg : null) : (userspace?.cgroup ?? null);
  if (cgroup) {
    const owner = ownerOfCgroup(cgroup);
    evidence["cgroup"] = { path: cgroup, owner, limitKb: oom?.memcgLimitKb ?? null, usageKb: oom?.memcgUsageKb ?? null };
    // The rule's own detail already says a cgroup hit its limit; what is added here is whose.
    if (oom && ownedBy(cgroup, owner))
      lines.push(
        `That cgroup is ${owner}'s: ${owner} hit its own memory limit${oom.memcgLimitKb === null ? "" : ` of ${formatKb(oom.memcgLimitKb)}`}, the machine did not run out of memory.`,
      );
    else if (userspace && ownedBy(cgroup, owner)) lines.push(`${userspace.killer} acted on ${owner} (cgroup ${cgroup}).`);
  }

  // The largest consumer at the kill: the kernel's table was taken at that moment.
  let largest: Consumer | null = null;
  const table = oom?.topTasks ?? [];
  if (table.length) {
    const t = table[0] as (typeof table)[number];
    largest = { name: t.name, pid: t.pid, rssKb: t.rssKb, oomScoreAdj: t.oomScoreAdj, owner: null, source: "kernel task table" };
  } else if (fromHistory?.top.length) {
    const p = fromHistory.top[0] as ProcessSample;
    largest = { name: p.comm, pid: p.pid, rssKb: p.rssKb, oomScoreAdj: null, owner: p.owner, source: "memory history" };
  }
  let summary: string | null = null;
  if (largest) {
    evidence["largest"] = largest;
    const where =
      largest.source === "kernel task table"
        ? oom?.constraint === "CONSTRAINT_MEMCG"
          ? "in the cgroup, per the kernel's task table at the kill"
          : "per the kernel's task table at the kill"
        : `in the memory history ${formatWholeSeconds(killTimeUs - (fromHistory as MemorySample).timeUs)} before the kill`;
    if (largest.pid === victimPid) {
      lines.push(
        `${largest.name} (pid ${largest.pid}) was itself the largest consumer, ${formatKb(largest.rssKb)} RSS ${where}: the victim was the cause.`,
      );
    } else {
      lines.push(
        `Likely cause: ${largest.name} (pid ${largest.pid}${largest.owner ? `, ${largest.owner}` : ""}) consuming ${formatKb(largest.rssKb)} RSS ${where}${victimKb ? ` — ${(largest.rssKb / Math.max(1, victimKb)).toFixed(1)}× the victim's ${formatKb(victimKb)}` : ""}.`,
      );
      const victimAdj = oom?.victim?.oomScoreAdj ?? null;
      if (victimAdj !== null && largest.oomScoreAdj !== null && victimAdj > largest.oomScoreAdj) {
        lines.push(
          `The kernel killed ${victimName ?? "the victim"} instead because its oom_score_adj is ${victimAdj} (the largest's: ${largest.oomScoreAdj}).`,
        );
      }
      summary = `OOM kill: ${victimName ?? "a process"}${victimPid === null ? "" : ` (pid ${victimPid})`} — likely cause: ${largest.name} ${formatKb(largest.rssKb)}`;
    }
  } else {
    missing.push("no task table in the kernel report and no memory history before the kill: the largest consumer is unknown");
  }

  if (samples === null) {
    missing.push("memory history is off ([psi] enabled = false): no growth or pressure before the kill");
  } else if (samples.length === 0) {
    missing.push("the memory history has no reading before the kill yet (the daemon had just started)");
  } else {
    const growth = fastestGrowing(samples, killTimeUs);
    if (growth) {
      const perMin = (growth.toKb - growth.fromKb) / (Math.max(1e6, growth.overUs) / 60e6);
      evidence["fastestGrowing"] = {
        name: growth.process.comm,
        pid: growth.process.pid,
        owner: growth.process.owner,
        fromKb: growth.fromKb,
        toKb: growth.toKb,
        overS: Math.round(growth.overUs / 1e6),
      };
      lines.push(
        `Fastest-growing before the kill: ${growth.process.comm} (pid ${growth.process.pid}${growth.process.owner ? `, ${growth.process.owner}` : ""}), ${formatKb(growth.fromKb)} → ${formatKb(growth.toKb)} in ${formatWholeSeconds(growth.overUs)} (${formatKb(Math.round(perMin))}/min).`,
      );
    }
    const pressure = pressureBeforeKill(samples, thresholds);
    const span = killTimeUs - (samples[0] as MemorySample).timeUs;
    if (pressure) {
      evidence["pressure"] = {
        aboveForS: Math.round((killTimeUs - pressure.sinceUs) / 1e6),
        readings: pressure.readings,
        peakSomeAvg10: pressure.peakSome,
        peakFullAvg10: pressure.peakFull,
        thresholds,
      };
      lines.push(
        `Memory pressure was critical (PSI ${pressure.peakFull !== null ? `full avg10 up to ${pressure.peakFull.toFixed(0)}%, ` : ""}some avg10 up to ${pressure.peakSome.toFixed(0)}%) for ${formatWholeSeconds(killTimeUs - pressure.sinceUs)} before the kill.`,
      );
    } else if (samples.some((s) => s.psi)) {
      evidence["pressure"] = { aboveForS: 0, historyS: Math.round(span / 1e6), thresholds };
      lines.push(
        cgroup
          ? `No system-wide memory pressure in the ${formatWholeSeconds(span)} before the kill — as expected when a cgroup hits its own limit.`
          : `No memory pressure over the thresholds in the ${formatWholeSeconds(span)} before the kill: the memory went fast.`,
      );
    } else {
      missing.push("no PSI on this kernel: how long memory was short before the kill is unknown");
    }
    // The machine-wide view, for kills whose report has no table (userspace killers).
    if (!table.length && fromHistory?.top.length) {
      lines.push(`Largest processes ${formatWholeSeconds(killTimeUs - fromHistory.timeUs)} before the kill:`);
      fromHistory.top.forEach((p, i) =>
        lines.push(
          `  ${i + 1}. ${p.comm.padEnd(16)} ${formatKb(p.rssKb).padStart(9)}  pid ${p.pid}${p.pid === victimPid ? " (killed)" : ""}${p.owner ? `  ${p.owner}` : ""}`,
        ),
      );
    }
  }
  return { summary, lines, evidence, missing };
}
