import type { RuleSpec } from "../rule-spec.ts";

// T5: memory pressure seen in the logs (the PSI monitor adds its own).

export const PRESSURE_RULES: readonly RuleSpec[] = [
  // ── T5: memory pressure seen in the logs (the PSI monitor adds its own) ─────────────
  {
    name: "page-allocation-failure",
    tier: "T5",
    severity: "warning",
    group: "memory_pressure",
    doc: "kernel: page allocation failure (memory too fragmented or exhausted), 2.6-era `failure. order:` wording included",
    kernel: true,
    literals: ["page allocation failure"],
    // mm/page_alloc.c: 2.6.x (RHEL 6) printed "%s: page allocation failure. order:%d, mode:0x%x";
    // warn_alloc_failed() (3.1) "failure: order:", warn_alloc() (4.9+) adds the GFP names, nodemask, cpuset.
    pattern: /^(?<comm>.+?): page allocation failure[:.] order:(?<order>\d+)/,
    describe: ({ m }) => ({
      summary: `Memory pressure: page allocation failure in ${m?.groups?.["comm"] as string} (order ${m?.groups?.["order"] as string})`,
      process: m?.groups?.["comm"] ?? null,
    }),
  },
  {
    name: "journald-memory-pressure",
    tier: "T5",
    severity: "warning",
    group: "memory_pressure",
    doc: "systemd-journald, systemd-resolved: 'Under memory pressure, flushing caches' (their memory-pressure handlers, v254+)",
    // src/journal/journald-server.c server_memory_pressure() and src/resolve/resolved-manager.c
    // manager_memory_pressure(): both log_info() this when the kernel's PSI trigger fires for them.
    identifiers: ["systemd-journald", "systemd-resolved"],
    literals: ["Under memory pressure"],
    pattern: /Under memory pressure/,
    describe: ({ entry }) => ({
      summary: `Memory pressure: ${(entry.identifier ?? "systemd-journald").replace(/^systemd-/, "")} flushing caches`,
    }),
  },
];
