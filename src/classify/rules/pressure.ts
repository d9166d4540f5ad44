import type { RuleSpec } from "../rule-spec.ts";

// T5: memory pressure seen in the logs (the PSI monitor adds its own).

export const PRESSURE_RULES: readonly RuleSpec[] = [
  // ── T5: memory pressure seen in the logs (the PSI monitor adds its own) ─────────────
  {
    name: "page-allocation-failure",
    tier: "T5",
    severity: "warning",
    group: "memory_pressure",
    doc: "kernel: page allocation failure (memory too fragmented or exhausted)",
    kernel: true,
    literals: ["page allocation failure"],
    pattern: /^(?<comm>.+?): page allocation failure: order:(?<order>\d+)/,
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
    doc: "systemd-journald: 'Under memory pressure, flushing caches'",
    identifiers: ["systemd-journald"],
    literals: ["Under memory pressure"],
    pattern: /Under memory pressure/,
    describe: () => ({ summary: "Memory pressure: journald flushing caches" }),
  },
];
