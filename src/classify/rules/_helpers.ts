import type { Entry, Facts, OomReport } from "../../event.ts";
import type { Assembled } from "../assemble.ts";
import type { Match } from "../rule-spec.ts";
import { cgroupLeaf } from "../cgroup-name.ts";
import { formatKb } from "../../text/format.ts";
import { victimRssKb } from "../../parse/oom-report.ts";

// Small pieces several rule families share.

export const CRASH_SIGNALS = new Set(["SEGV", "ABRT", "BUS", "FPE", "ILL", "TRAP", "SYS", "11", "6", "7", "8", "4", "5", "31"]);

export function field(e: Entry, name: string): string | null {
  return e.fields[name] ?? null;
}

export function kernelLines(group: Assembled, max = 80): string[] {
  const entries = group.kind === "entry" ? [group.entry] : group.entries;
  return entries.slice(0, max).map((e) => e.message);
}

export function kernelFacts(group: Assembled, device: string | null = null): Facts {
  return { kind: "kernel", device, lines: kernelLines(group) };
}

/** A unit's facts when the line names no exit code or status (a job result, a restart loop, a start limit). */
export function unitFacts(unit: string, result: string | null, restartCount: number | null = null): Facts {
  return { kind: "unit", unit, result, exitCode: null, exitStatus: null, restartCount };
}

export function oomSummary(report: OomReport): Match {
  const v = report.victim;
  const memcg = report.constraint === "CONSTRAINT_MEMCG";
  if (!v) {
    const who = report.trigger
      ? `${report.trigger.name}${report.trigger.pid === null ? "" : ` (pid ${report.trigger.pid})`}`
      : "unknown task";
    return {
      summary: `OOM killer invoked by ${who}; report cut off before the kill`,
      process: report.trigger?.name ?? null,
      pid: report.trigger?.pid ?? null,
    };
  }
  const rss = victimRssKb(v);
  const limit = report.memcgLimitKb === null ? "" : ` of ${formatKb(report.memcgLimitKb)}`;
  const where = !memcg ? "" : report.memcg ? `, cgroup ${report.memcg} hit its limit${limit}` : ", a memory cgroup hit its limit";
  return {
    summary: `OOM kill: ${v.name} (pid ${v.pid}, ${formatKb(rss)} RSS)${where}`,
    process: v.name,
    pid: v.pid,
    unit: report.taskMemcg ? cgroupLeaf(report.taskMemcg) : null,
  };
}

/** "nginx.service" from "nginx.service: …": systemd prefixes its unit messages with the unit. */
export function unitPrefix(message: string): string | null {
  return /^([^\s:]+\.(?:service|scope|socket|mount|swap|timer|target|path|slice|device|automount)): /.exec(message)?.[1] ?? null;
}
