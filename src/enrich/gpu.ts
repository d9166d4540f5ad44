import type { Database } from "bun:sqlite";
import type { Candidate } from "../event.ts";
import { BUILTIN_RULES } from "../classify/rules.ts";
import type { Enricher, Enrichment } from "./enricher.ts";
import { latestT4EventOverlapping, type EventTimesRow } from "../store/event-queries.ts";
import { formatLocalClock } from "../text/format.ts";

// A compositor or display server that crashes right after a GPU hang or reset is usually a
// victim: the driver reset lost its context (amdgpu "VRAM is lost due to GPU reset!", KWin's
// "Desktop effects were restarted due to a graphics reset") and the crash report points at the
// compositor, where the user would look first. Bug reports show the pattern:
// cosmic-comp#2626 (amdgpu ring timeout, then a libwayland-client segfault), picom#1390 (amdgpu
// reset, then Xorg died). This enricher finds the GPU event that came shortly before such a
// crash in the event database and names the driver as the likely cause.

/**
 * Process names (kernel comm, at most 15 characters) of compositors and display servers.
 * A crash of anything else after a GPU reset is left alone: games and browsers crash on
 * their own bugs often enough that blaming the GPU would mislead.
 */
export const COMPOSITOR_PROCESSES: ReadonlySet<string> = new Set([
  "gnome-shell",
  "mutter",
  "kwin_wayland",
  "kwin_x11",
  "plasmashell",
  "Xorg",
  "Xwayland",
  "sway",
  "Hyprland",
  "weston",
  "cosmic-comp",
  "labwc",
  "wayfire",
  "river",
  "niri",
  "gamescope",
  "picom",
]);

/** How far back a GPU event still explains a compositor crash. */
export const GPU_CRASH_WINDOW_US = 120 * 1_000_000;

/** The rules of the gpu group: the one rule table says which they are. */
const GPU_RULES: readonly string[] = BUILTIN_RULES.filter((r) => r.group === "gpu" && r.tier === "T4").map((r) => r.name);

/**
 * The newest GPU event (by its latest occurrence) seen in the window before `crashUs`.
 * The cooldown folds a reset's many lines into one event, so its last_seen is the reset's
 * end (e.g. "GPU reset succeeded") while its timestamp is the hang's start.
 */
export function findGpuEventBefore(
  db: Database,
  instanceId: string,
  crashUs: number,
  windowUs = GPU_CRASH_WINDOW_US,
): EventTimesRow | null {
  return latestT4EventOverlapping(db, instanceId, GPU_RULES, crashUs, crashUs - windowUs);
}

/** "reset" or "hang" as the GPU event says; "error" for the rest (a GPU fallen off the bus). */
function gpuHappening(summary: string): string {
  if (/reset|VRAM is lost/i.test(summary)) return "GPU reset";
  if (/hang|timeout|timed out/i.test(summary)) return "GPU hang";
  return "GPU error";
}

/** The driver as the GPU rule's summary names it: "GPU error (amdgpu): …" → "amdgpu". */
function driverOf(summary: string): string | null {
  return /\(([^)]+)\)/.exec(summary)?.[1] ?? null;
}

/** The crash's signal as the crash rules name it: the kernel's "segfault" is SIGSEGV. */
function crashSignal(candidate: Candidate): string | null {
  if (candidate.facts.kind !== "crash") return null;
  const fault = candidate.facts.crash.fault;
  return fault === "segfault" ? "SIGSEGV" : fault;
}

export function linkCompositorCrash(candidate: Candidate, db: Database, instanceId: string): Enrichment {
  const compositor = candidate.process as string;
  const gpu = findGpuEventBefore(db, instanceId, candidate.timestampUs);
  if (!gpu) return { lines: [], evidence: { gpuEventId: null, windowSeconds: GPU_CRASH_WINDOW_US / 1_000_000 } };
  const happening = gpuHappening(gpu.summary);
  const driver = driverOf(gpu.summary);
  const secondsBefore = Math.max(0, Math.round((candidate.timestampUs - gpu.last_seen) / 1_000_000));
  const signal = crashSignal(candidate);
  return {
    lines: [
      `Follows a ${happening} at ${formatLocalClock(gpu.timestamp)} (event ${gpu.id}: ${gpu.summary}) — the GPU driver, not ${compositor}, is the likely cause.`,
    ],
    summary: `Crash: ${compositor}${signal ? ` (${signal})` : ""} after ${happening}${driver ? ` (${driver})` : ""}`,
    evidence: {
      gpuEventId: gpu.id,
      gpuSummary: gpu.summary,
      secondsAfterGpuEvent: secondsBefore,
      windowSeconds: GPU_CRASH_WINDOW_US / 1_000_000,
    },
  };
}

export function createGpuEnricher(): Enricher {
  return {
    name: "gpu",
    // One indexed query on the local database.
    timeoutMs: 2_000,
    applies: (c) => c.tier === "T2" && c.facts.kind === "crash" && c.process !== null && COMPOSITOR_PROCESSES.has(c.process),
    enrich: async (candidate, ctx) => linkCompositorCrash(candidate, ctx.db, ctx.instanceId),
  };
}
