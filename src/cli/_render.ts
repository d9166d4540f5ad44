import type { Candidate, OomReport, StoredEvent, Tier } from "../event.ts";
import type { FailureSnapshot } from "../store/snapshots.ts";
import { formatKb } from "../size.ts";

// Human and JSON renderings of events for the CLI. Colour only on a terminal and never
// with NO_COLOR set (no-color.org), so piped output greps cleanly.

const useColor = Boolean(process.stdout.isTTY) && !("NO_COLOR" in process.env);

function paint(code: string, text: string): string {
  return useColor ? `\x1b[${code}m${text}\x1b[0m` : text;
}

const TIER_COLOR: Record<Tier, string> = { T1: "1;31", T2: "31", T3: "33", T4: "35", T5: "36" };

export function tierLabel(tier: Tier): string {
  return paint(TIER_COLOR[tier], tier);
}

export function dim(text: string): string {
  return paint("2", text);
}

export function bold(text: string): string {
  return paint("1", text);
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** Local wall-clock time "2026-11-22 18:40:01", as people read their logs. */
export function formatLocalTime(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function isoTime(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString();
}

/** One line per event, with the instance id as in the design's examples. */
export function eventLine(e: StoredEvent): string {
  const times = e.occurrences > 1 ? ` ${bold(`×${e.occurrences}`)}` : "";
  return `${formatLocalTime(e.timestampUs)}  [${e.instanceId}]  ${tierLabel(e.tier)}  ${e.summary}${times}  ${dim(e.id.slice(0, 8))}`;
}

/**
 * Seconds since its boot, for an event whose lines carry no wall time (dmesg or kmsg text from
 * another boot); null when they do.
 */
export function relativeSeconds(c: Candidate): number | null {
  if (c.entries.length === 0 || c.entries.some((e) => e.realtimeUs !== null)) return null;
  const mono = c.entries[0]?.monotonicUs;
  return mono === null || mono === undefined ? null : mono / 1_000_000;
}

export function candidateLine(c: Candidate, instanceId: string): string {
  const relative = relativeSeconds(c);
  const when = relative === null ? formatLocalTime(c.timestampUs) : `+${relative.toFixed(6)}s after boot (wall time unknown)`;
  return `${when}  [${instanceId}]  ${tierLabel(c.tier)}  ${c.summary}  ${dim(`(${c.rule})`)}`;
}

function oomJson(oom: OomReport): Record<string, unknown> {
  const v = oom.victim;
  return {
    trigger: oom.trigger && { name: oom.trigger.name, pid: oom.trigger.pid, gfp_mask: oom.trigger.gfpMask, order: oom.trigger.order, oom_score_adj: oom.trigger.oomScoreAdj },
    victim: v && {
      name: v.name,
      pid: v.pid,
      uid: v.uid,
      total_vm_kb: v.totalVmKb,
      anon_rss_kb: v.anonRssKb,
      file_rss_kb: v.fileRssKb,
      shmem_rss_kb: v.shmemRssKb,
      oom_score_adj: v.oomScoreAdj,
    },
    constraint: oom.constraint,
    memcg: oom.memcg,
    task_memcg: oom.taskMemcg,
    mem_total_kb: oom.memTotalKb,
    mem_free_kb: oom.memFreeKb,
    memcg_usage_kb: oom.memcgUsageKb,
    memcg_limit_kb: oom.memcgLimitKb,
    top_tasks: oom.topTasks.map((t) => ({ pid: t.pid, uid: t.uid, name: t.name, rss_kb: t.rssKb, total_vm_kb: t.totalVmKb, oom_score_adj: t.oomScoreAdj })),
    complete: oom.complete,
  };
}

/** `replay --json`: one object per event. */
export function candidateJson(c: Candidate): Record<string, unknown> {
  return {
    tier: c.tier,
    severity: c.severity,
    summary: c.summary,
    process: c.process,
    pid: c.pid,
    unit: c.unit,
    rule: c.rule,
    timestamp: isoTime(c.timestampUs),
    ...(relativeSeconds(c) === null ? {} : { seconds_after_boot: relativeSeconds(c), timestamp_is_replay_time: true }),
    cursors: c.entries.map((e) => e.cursor).filter((x) => x !== null),
    ...(c.facts.kind === "oom-kill" ? { oom: oomJson(c.facts.oom) } : {}),
    ...(c.facts.kind === "crash" ? { crash: c.facts.crash } : {}),
    ...(c.facts.kind === "unit" ? { unit_failure: c.facts } : {}),
  };
}

/** `query --json`: one object per event. */
export function eventJson(e: StoredEvent): Record<string, unknown> {
  return {
    id: e.id,
    instance: e.instanceId,
    timestamp: isoTime(e.timestampUs),
    last_seen: isoTime(e.lastSeenUs),
    tier: e.tier,
    severity: e.severity,
    rule: e.rule,
    summary: e.summary,
    process: e.process,
    pid: e.pid,
    unit: e.unit,
    occurrences: e.occurrences,
    detail: e.detail,
    ...(e.facts.kind === "oom-kill" ? { oom: oomJson(e.facts.oom) } : {}),
  };
}

/** A failure snapshot as a timeline: the failed checks, the readings before them, PSI, top consumers, the unit's journal. */
export function snapshotLines(s: FailureSnapshot): string[] {
  const out: string[] = [];
  const fmtPercent = (v: number | null) => (v === null ? "    ?" : `${v.toFixed(0).padStart(4)}%`);
  const memPercent = (used: number | null, total: number | null) => (used === null || total === null || total <= 0 ? null : (used / total) * 100);
  out.push(bold(`Failure snapshot: ${s.service} at ${formatLocalTime(s.timeUs)}`) + `  ${s.healthUrl}${s.unit ? `  (${s.unit})` : ""}`);
  out.push(`At the failure: ${s.summary}`);
  out.push("", bold("Checks:"));
  for (const c of [...s.failedChecks, s.check]) out.push(`  ${formatLocalTime(c.timeUs)}  ${c.outcome === "status" ? `HTTP ${c.status} (expected ${c.expectedStatus})` : (c.error ?? c.outcome)}  ${dim(`${Math.round(c.latencyMs)} ms`)}`);
  out.push("", bold(`System readings (${s.readings.length}, oldest first):`));
  const mounts = [...new Set(s.readings.flatMap((r) => r.disks.map((d) => d.mount)))].slice(0, 4);
  out.push(dim(`  ${"time".padEnd(19)}   CPU    RAM   swap  load1 ${mounts.map((m) => m.padStart(8)).join(" ")}`));
  for (const r of s.readings) {
    const disks = mounts.map((m) => {
      const d = r.disks.find((x) => x.mount === m);
      return (d ? `${d.usedPercent.toFixed(0)}%` : "?").padStart(8);
    });
    const swap = r.swapTotalKb ? memPercent(r.swapUsedKb, r.swapTotalKb) : null;
    out.push(`  ${formatLocalTime(r.timeUs)} ${fmtPercent(r.cpuPercent)} ${fmtPercent(memPercent(r.memUsedKb, r.memTotalKb))} ${r.swapTotalKb ? fmtPercent(swap) : "    -"} ${(r.load1 === null ? "?" : r.load1.toFixed(2)).padStart(6)} ${disks.join(" ")}`);
  }
  if (s.psi.length) {
    const recent = s.psi.slice(-10);
    out.push("", bold(`Memory pressure (PSI some/full avg10, last ${recent.length} of ${s.psi.length}):`));
    for (const p of recent) out.push(`  ${formatLocalTime(p.timeUs)}  some ${p.someAvg10.toFixed(2)}%  full ${p.fullAvg10 === null ? "?" : `${p.fullAvg10.toFixed(2)}%`}`);
  }
  if (s.topConsumers.length) {
    out.push("", bold(`Top memory consumers${s.topConsumersTimeUs === null ? "" : ` at ${formatLocalTime(s.topConsumersTimeUs)}`}:`));
    s.topConsumers.forEach((p, i) => out.push(`  ${i + 1}. ${p.comm.padEnd(16)} ${formatKb(p.rssKb).padStart(9)}  pid ${p.pid}${p.owner ? `  ${p.owner}` : ""}  ${dim(p.cmdline)}`));
  }
  if (s.journal) {
    out.push("", bold(`Journal of ${s.journal.unit} (${s.journal.scope} manager, last ${s.journal.lines.length} lines of 10 min):`));
    for (const l of s.journal.lines) out.push(`  ${l.timeUs === null ? "?".padEnd(19) : formatLocalTime(l.timeUs)}  ${l.identifier ?? ""}${l.pid === null ? "" : `[${l.pid}]`}: ${l.message}`);
  }
  if (s.missing.length) out.push("", "Not gathered:", ...s.missing.map((m) => `  - ${m}`));
  return out;
}
