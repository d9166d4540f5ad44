import type { OomReport, StoredEvent } from "../event.ts";
import { isoTime } from "./format.ts";

// The one JSON shape of an event, written by `query --json`, `show --json` (which adds the
// event's lines, raw fields, enrichment and snapshot), `replay --json` (which adds the cursors
// of the entries it read) and the HTTP API's /events. docs/events.md describes it field by
// field; tests/text/event-json.test.ts checks that all four agree.

/**
 * An event as JSON takes it: a stored event, or a candidate replay has not stored (its id is
 * null, it has occurred once and was never notified).
 */
export type JsonEvent = Omit<StoredEvent, "id" | "cursors" | "raw"> & { id: string | null };

function oomJson(oom: OomReport): Record<string, unknown> {
  const v = oom.victim;
  return {
    trigger: oom.trigger && {
      name: oom.trigger.name,
      pid: oom.trigger.pid,
      gfp_mask: oom.trigger.gfpMask,
      order: oom.trigger.order,
      oom_score_adj: oom.trigger.oomScoreAdj,
    },
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
    top_tasks: oom.topTasks.map((t) => ({
      pid: t.pid,
      uid: t.uid,
      name: t.name,
      rss_kb: t.rssKb,
      total_vm_kb: t.totalVmKb,
      oom_score_adj: t.oomScoreAdj,
    })),
    complete: oom.complete,
  };
}

/** An event → its JSON object. Keys in snake_case; `facts` is the classifier's record as stored. */
export function eventJson(e: JsonEvent): Record<string, unknown> {
  return {
    id: e.id,
    instance: e.instanceId,
    time: isoTime(e.timestampUs),
    last_seen: isoTime(e.lastSeenUs),
    tier: e.tier,
    severity: e.severity,
    rule: e.rule,
    summary: e.summary,
    process: e.process,
    pid: e.pid,
    unit: e.unit,
    occurrences: e.occurrences,
    notified: e.notified,
    detail: e.detail,
    facts: e.facts,
    ...(e.facts.kind === "oom-kill" ? { oom: oomJson(e.facts.oom) } : {}),
  };
}
