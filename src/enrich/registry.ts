import type { Config } from "../config/schema.ts";
import type { Enricher } from "./enricher.ts";
import { createCrashEnricher } from "./crash.ts";
import { createDiskEnricher } from "./disk.ts";
import { createGpuEnricher } from "./gpu.ts";
import { createOomEnricher } from "./oom.ts";
import { createUnitEnricher } from "./unit.ts";

// The one list of enrichers (an explicit list, so the reader and the compiled binary see the
// same set). Each applies to the candidates it understands; several may apply to one event.

export function createEnrichers(config: Config): Enricher[] {
  const enrichers: Enricher[] = [];
  // Every OOM kill: who caused it (the memory history, when [psi] is on, adds growth and pressure).
  enrichers.push(createOomEnricher({ warnSomeAvg10: config.psi.warnSomeAvg10, warnFullAvg10: config.psi.warnFullAvg10 }));
  // A compositor crash right after a GPU reset: only where the GPU rules run to store that reset.
  if (config.detectors.gpu) enrichers.push(createGpuEnricher());
  // A kernel I/O error on a disk gets that disk's SMART summary: where [smart] is on, which also stores it.
  if (config.smart.enabled) enrichers.push(createDiskEnricher());
  // Every crash: backtrace, signal and executable from systemd-coredump, how often, and the unit's
  // phase. Not tied to [detectors] coredumps: a kernel segfault line (core rules) wants it too,
  // and where systemd-coredump is absent it says where cores went instead.
  enrichers.push(createCrashEnricher());
  // A failed unit: its own last lines, and the OOM kill that took it when there was one.
  enrichers.push(createUnitEnricher());
  return enrichers;
}
