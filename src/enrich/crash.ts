import { existsSync, readdirSync, readFileSync } from "node:fs";
import { sleep } from "../sleep.ts";
import { join } from "node:path";
import type { Candidate, Entry } from "../event.ts";
import {
  apportReportPrefix,
  describeFrame,
  parseCorePattern,
  parseCoredumpInfo,
  parseStackFrames,
  type CoreTarget,
  type CoredumpInfo,
  type StackFrame,
} from "../parse/coredump.ts";
import { parseJournalLine } from "../parse/journal-json.ts";
import { RunError } from "../run.ts";
import { CRASH_INCIDENT_WINDOW_US } from "../store/events.ts";
import type { EnrichContext, Enricher, Enrichment } from "./enricher.ts";
import { MESSAGE_ID } from "../classify/systemd-ids.ts";
import { crashOccurrencesSince, unitRuleSeenSince } from "../store/event-queries.ts";
import { systemctlArgv } from "../host/systemctl.ts";
import { parseShowBlocks } from "../parse/systemd-show.ts";

// A crash's first questions: which binary, which signal, where in the code, and is this new?
// The kernel's segfault line comes first and names only comm and pid; systemd-coredump logs
// its entry with the backtrace a moment later (it unwinds the dump first: under a second for a
// 600 KiB python3 core on this VM), so the enricher asks coredumpctl again until its time is up.

/** Frames shown; the crashing function and its callers are what a reader needs first. */
export const TOP_FRAMES = 5;
/** A crash this soon after the unit's main process started is a start-up failure. */
export const STARTUP_PHASE_US = 10 * 1_000_000;
const DAY_US = 24 * 3600 * 1_000_000;
const RETRY_MS = 400;
/** After the alert went out a dump is waited for at a gentler pace: nobody is held up. */
const LATE_RETRY_MS = 2_000;
const TOOL_TIMEOUT_MS = 3_000;
/** Clock skew allowed between the crash line and systemd-coredump's timestamp. */
const SINCE_SLACK_S = 2;

export interface CrashEnricherOptions {
  /** Where core_pattern and /var/crash are read; tests point these at captured trees. */
  procRoot?: string;
  crashDir?: string;
  timeoutMs?: number;
}

type Phase = "startup" | "running" | "gave_up";

/** The number of earlier crashes of the same program in the 24 h before this one. */
function earlierCrashes(c: Candidate, ctx: EnrichContext): number {
  // The unit first: a unit's exit line is logged by its manager, whose comm ("systemd") is no
  // name for the program that crashed.
  const who = c.unit ?? c.process;
  if (who === null) return 0;
  return crashOccurrencesSince(ctx.db, ctx.instanceId, ctx.eventId, c.timestampUs - DAY_US, who);
}

type Lookup = { kind: "found"; info: CoredumpInfo } | { kind: "no-tool" } | { kind: "not-yet" };

async function coredumpInfo(pid: number, crashUs: number, ctx: EnrichContext): Promise<Lookup> {
  try {
    // --since: a pid is reused across boots and over time, and `info PID` prints the oldest
    // match first; only a dump from this crash's moment is this crash's.
    const since = `--since=@${Math.floor(crashUs / 1e6) - SINCE_SLACK_S}`;
    const r = await ctx.runner.run(["coredumpctl", "--no-pager", since, "info", String(pid)], {
      timeoutMs: TOOL_TIMEOUT_MS,
      signal: ctx.signal,
      maxOutputBytes: 256 << 10,
    });
    const info = r.exitCode === 0 ? parseCoredumpInfo(r.stdout) : null;
    return info ? { kind: "found", info } : { kind: "not-yet" };
  } catch (error) {
    if (error instanceof RunError && error.result === null) return { kind: "no-tool" };
    throw error;
  }
}

function whereCoresGo(target: CoreTarget, executable: string | null, crashDir: string): string {
  switch (target.kind) {
    case "systemd-coredump":
      return "systemd-coredump";
    case "apport": {
      const prefix = executable ? apportReportPrefix(executable) : null;
      const reports = existsSync(crashDir)
        ? readdirSync(crashDir).filter((f) => f.endsWith(".crash") && (prefix === null || f.startsWith(prefix)))
        : [];
      return reports.length > 0 ? `apport: ${join(crashDir, reports[0] as string)}` : `apport (no report in ${crashDir} yet)`;
    }
    case "pipe":
      return `piped to ${target.program}`;
    case "file":
      return `written as '${target.pattern}' in the process's working directory`;
    case "disabled":
      return `nowhere (${target.why})`;
  }
}

function readCorePattern(procRoot: string): CoreTarget | null {
  try {
    return parseCorePattern(readFileSync(join(procRoot, "sys/kernel/core_pattern"), "utf8"));
  } catch {
    // No procfs (a container without it): where cores go is unknown; the caller says so.
    return null;
  }
}

/** Whether the unit gave up restarting: the rule unit-start-limit-hit stored it, or systemctl says so. */
async function hitStartLimit(unit: string, ctx: EnrichContext): Promise<boolean> {
  if (unitRuleSeenSince(ctx.db, ctx.instanceId, unit, "unit-start-limit-hit", ctx.nowUs - CRASH_INCIDENT_WINDOW_US)) return true;
  // A system unit's Result; a user manager is reachable only with its XDG_RUNTIME_DIR, which a
  // system daemon does not have, so user units rely on the stored event above.
  try {
    const r = await ctx.runner.run(systemctlArgv("system", "show", unit, "-p", "Result"), {
      timeoutMs: TOOL_TIMEOUT_MS,
      signal: ctx.signal,
    });
    return r.exitCode === 0 && parseShowBlocks(r.stdout)[0]?.get("Result") === "start-limit-hit";
  } catch (error) {
    if (error instanceof RunError && error.result === null) return false;
    throw error;
  }
}

/**
 * startup / running from the unit's last "Started" entry at or before the crash (the journal
 * serves system and user units alike, where systemctl --user needs the user's session), or
 * gave_up when the unit hit its start limit.
 */
async function unitPhase(unit: string, crashUs: number, ctx: EnrichContext): Promise<{ phase: Phase | null; why: string }> {
  if (await hitStartLimit(unit, ctx)) return { phase: "gave_up", why: "the unit hit its start limit" };
  const match = (field: string) => [`MESSAGE_ID=${MESSAGE_ID.unitStarted}`, `${field}=${unit}`];
  const argv = [
    "journalctl",
    "-o",
    "json",
    "-n",
    "1",
    "--no-pager",
    `--until=@${Math.ceil(crashUs / 1e6)}`,
    ...match("UNIT"),
    "+",
    ...match("USER_UNIT"),
  ];
  let started: Entry | null = null;
  try {
    const r = await ctx.runner.run(argv, { timeoutMs: TOOL_TIMEOUT_MS, signal: ctx.signal, maxOutputBytes: 64 << 10 });
    started = parseJournalLine(r.stdout.trim().split("\n").pop() ?? "");
  } catch (error) {
    if (error instanceof RunError && error.result === null) return { phase: null, why: "journalctl is not installed" };
    throw error;
  }
  if (started?.realtimeUs == null) return { phase: null, why: `no "Started ${unit}" entry in the journal before the crash` };
  const upUs = crashUs - started.realtimeUs;
  return { phase: upUs < STARTUP_PHASE_US ? "startup" : "running", why: `${(upUs / 1e6).toFixed(1)} s after the unit started` };
}

export function createCrashEnricher(options: CrashEnricherOptions = {}): Enricher {
  const procRoot = options.procRoot ?? "/proc";
  const crashDir = options.crashDir ?? "/var/crash";
  const timeoutMs = options.timeoutMs ?? 10_000;
  const settings = { procRoot, crashDir, timeoutMs };
  return {
    name: "crash",
    timeoutMs,
    applies: (c) => c.tier === "T2" && c.facts.kind === "crash",
    async enrich(c, ctx): Promise<Enrichment> {
      const first = await enrichCrash(c, ctx, settings, "in-time");
      if (first === null) throw new Error("no enrichment"); // "in-time" always answers
      // A dump still being written (a large core, a busy disk) may be logged after the alert
      // went out: keep asking, and the alert is updated with the backtrace when it comes.
      if (first.awaitingDump)
        first.enrichment.later = async (signal) => (await enrichCrash(c, { ...ctx, signal }, settings, "until-found"))?.enrichment ?? null;
      return first.enrichment;
    },
  };
}

/**
 * "in-time": asks coredumpctl until shortly before the timeout, then says what else is known.
 * "until-found": asks (less often) until the signal aborts; null when no dump came.
 */
async function enrichCrash(
  c: Candidate,
  ctx: EnrichContext,
  settings: { procRoot: string; crashDir: string; timeoutMs: number },
  patience: "in-time" | "until-found",
): Promise<{ enrichment: Enrichment; awaitingDump: boolean } | null> {
  const { procRoot, crashDir, timeoutMs } = settings;
  const lines: string[] = [];
  const missing: string[] = [];
  const evidence: Record<string, unknown> = {};
  const first = c.entries[0] ?? null;
  let executable = first?.fields["COREDUMP_EXE"] ?? null;
  let signal = first?.fields["COREDUMP_SIGNAL_NAME"] ?? null;
  let frames: StackFrame[] = c.rule === "coredump" && first ? parseStackFrames(first.message) : [];
  let storage: string | null = first?.fields["COREDUMP_FILENAME"] ?? null;
  let unit = c.unit;
  let awaitingDump = false;

  if (c.pid !== null && frames.length === 0) {
    const target = readCorePattern(procRoot);
    if (target === null) missing.push("core_pattern cannot be read: where the core went is unknown");
    else if (target.kind !== "systemd-coredump")
      missing.push(`no backtrace: cores go ${whereCoresGo(target, executable, crashDir)}, not to systemd-coredump`);
    else {
      let found: CoredumpInfo | null = null;
      // Stop asking in time to do the rest (the 24 h count, the unit's phase) before the
      // stage's timeout: a crash with no dump must still say what else is known.
      const giveUpAt = patience === "in-time" ? Date.now() + Math.max(RETRY_MS, timeoutMs - TOOL_TIMEOUT_MS - 1_000) : Infinity;
      for (;;) {
        const r = await coredumpInfo(c.pid, c.timestampUs, ctx);
        if (r.kind === "no-tool") {
          missing.push("coredumpctl is not installed (apt install systemd-coredump): no backtrace");
          break;
        }
        if (r.kind === "found") {
          found = r.info;
          break;
        }
        if (ctx.signal.aborted || Date.now() >= giveUpAt) break;
        await sleep(patience === "in-time" ? RETRY_MS : LATE_RETRY_MS, ctx.signal);
        if (ctx.signal.aborted) break;
      }
      if (found) {
        executable = found.executable ?? executable;
        signal = found.signalName ?? signal;
        frames = found.frames;
        unit = unit ?? found.unit ?? found.userUnit;
        storage = found.storagePath
          ? `${found.storagePath} (${found.storageState ?? "?"}, ${found.sizeOnDisk ?? "size unknown"})`
          : `not stored: ${found.storageState ?? "no core file"}`;
      } else if (patience === "until-found") return null;
      else if (missing.length === 0) {
        missing.push(`no coredump of pid ${c.pid} found in time: no backtrace yet (the alert is updated if it comes)`);
        awaitingDump = true;
      }
    }
  }

  if (executable) lines.push(`Executable: ${executable}`);
  if (signal) lines.push(`Signal: ${signal}`);
  if (frames.length > 0) {
    lines.push(`Backtrace (top ${Math.min(TOP_FRAMES, frames.length)} of ${frames.length} frames):`);
    for (const f of frames.slice(0, TOP_FRAMES)) lines.push(`  ${describeFrame(f)}`);
  } else if (c.rule === "coredump") missing.push("the coredump entry has no stack trace (elfutils could not unwind the dump)");
  if (storage) lines.push(`Core dump: ${storage}`);

  const before = earlierCrashes(c, ctx);
  lines.push(
    before === 0
      ? "First crash of this program in 24 h"
      : `Occurred ${before} time${before === 1 ? "" : "s"} before in 24 h (this is crash ${before + 1})`,
  );

  if (unit) {
    const { phase, why } = await unitPhase(unit, c.timestampUs, ctx);
    if (phase) lines.push(`Phase: ${phase} (${why})`);
    else missing.push(`phase unknown: ${why}`);
    evidence["phase"] = phase;
  }
  Object.assign(evidence, { executable, signal, frames: frames.slice(0, TOP_FRAMES), storage, earlierCrashes24h: before, unit });
  return { enrichment: { lines, evidence, missing }, awaitingDump };
}
