import type { Candidate } from "../event.ts";
import { MEMORY_HISTORY_WINDOW_MS } from "../host/memory-history.ts";
import type { Thresholds } from "../monitors/psi.ts";
import type { Enricher } from "./enricher.ts";
import { blameOom } from "./oom-blame.ts";

// OOM kills (kernel, systemd-oomd, earlyoom, nohang): who caused it, from the kernel's task
// table and the PSI monitor's memory history. Nothing is run: the history is in memory, so
// this is fast and the alert barely waits for it.

export function createOomEnricher(thresholds: Thresholds): Enricher {
  return {
    name: "oom",
    timeoutMs: 2_000,
    applies: (c: Candidate) => c.tier === "T1" && (c.facts.kind === "oom-kill" || c.facts.kind === "userspace-oom-kill"),
    async enrich(c, ctx) {
      if (c.facts.kind !== "oom-kill" && c.facts.kind !== "userspace-oom-kill") return { lines: [] };
      const samples = ctx.memory ? ctx.memory.samples(c.timestampUs - MEMORY_HISTORY_WINDOW_MS * 1000, c.timestampUs) : null;
      const blame = blameOom({ facts: c.facts, killTimeUs: c.timestampUs, samples, thresholds });
      return { lines: blame.lines, evidence: blame.evidence, missing: blame.missing, ...(blame.summary ? { summary: blame.summary } : {}) };
    },
  };
}
