import type { Candidate, StoredEvent, Tier } from "../event.ts";
import type { FailureSnapshot } from "../store/snapshots.ts";
import { formatKb, formatLocalTime } from "../text/format.ts";
import { printable as p } from "./_printable.ts";

// Human renderings of events for the CLI (the JSON shape is text/event-json.ts). Colour only on a terminal and never
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

/** One line per event, with the instance id, so lines from several machines can be told apart. */
export function eventLine(e: StoredEvent): string {
  const times = e.occurrences > 1 ? ` ${bold(`×${e.occurrences}`)}` : "";
  return `${formatLocalTime(e.timestampUs)}  [${p(e.instanceId)}]  ${tierLabel(e.tier)}  ${p(e.summary)}${times}  ${dim(e.id.slice(0, 8))}`;
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
  return `${when}  [${p(instanceId)}]  ${tierLabel(c.tier)}  ${p(c.summary)}  ${dim(`(${c.rule})`)}`;
}

/** A failure snapshot as a timeline: the failed checks, the readings before them, PSI, top consumers, the unit's journal. */
export function snapshotLines(s: FailureSnapshot): string[] {
  const out: string[] = [];
  const fmtPercent = (v: number | null) => (v === null ? "    ?" : `${v.toFixed(0).padStart(4)}%`);
  const memPercent = (used: number | null, total: number | null) =>
    used === null || total === null || total <= 0 ? null : (used / total) * 100;
  out.push(
    bold(`Failure snapshot: ${p(s.service)} at ${formatLocalTime(s.timeUs)}`) + `  ${p(s.healthUrl)}${s.unit ? `  (${p(s.unit)})` : ""}`,
  );
  out.push(`At the failure: ${p(s.summary)}`);
  out.push("", bold("Checks:"));
  for (const c of [...s.failedChecks, s.check])
    out.push(
      `  ${formatLocalTime(c.timeUs)}  ${c.outcome === "status" ? `HTTP ${c.status} (expected ${c.expectedStatus})` : p(c.error ?? c.outcome)}  ${dim(`${Math.round(c.latencyMs)} ms`)}`,
    );
  out.push("", bold(`System readings (${s.readings.length}, oldest first):`));
  const mounts = [...new Set(s.readings.flatMap((r) => r.disks.map((d) => p(d.mount))))].slice(0, 4);
  out.push(dim(`  ${"time".padEnd(19)}   CPU    RAM   swap  load1 ${mounts.map((m) => m.padStart(8)).join(" ")}`));
  for (const r of s.readings) {
    const disks = mounts.map((m) => {
      const d = r.disks.find((x) => p(x.mount) === m);
      return (d ? `${d.usedPercent.toFixed(0)}%` : "?").padStart(8);
    });
    const swap = r.swapTotalKb ? memPercent(r.swapUsedKb, r.swapTotalKb) : null;
    out.push(
      `  ${formatLocalTime(r.timeUs)} ${fmtPercent(r.cpuPercent)} ${fmtPercent(memPercent(r.memUsedKb, r.memTotalKb))} ${r.swapTotalKb ? fmtPercent(swap) : "    -"} ${(r.load1 === null ? "?" : r.load1.toFixed(2)).padStart(6)} ${disks.join(" ")}`,
    );
  }
  if (s.psi.length) {
    const recent = s.psi.slice(-10);
    out.push("", bold(`Memory pressure (PSI some/full avg10, last ${recent.length} of ${s.psi.length}):`));
    for (const p of recent)
      out.push(
        `  ${formatLocalTime(p.timeUs)}  some ${p.someAvg10.toFixed(2)}%  full ${p.fullAvg10 === null ? "?" : `${p.fullAvg10.toFixed(2)}%`}`,
      );
  }
  if (s.topConsumers.length) {
    out.push("", bold(`Top memory consumers${s.topConsumersTimeUs === null ? "" : ` at ${formatLocalTime(s.topConsumersTimeUs)}`}:`));
    s.topConsumers.forEach((c, i) =>
      out.push(
        `  ${i + 1}. ${p(c.comm).padEnd(16)} ${formatKb(c.rssKb).padStart(9)}  pid ${c.pid}${c.owner ? `  ${p(c.owner)}` : ""}  ${dim(p(c.cmdline))}`,
      ),
    );
  }
  if (s.journal) {
    out.push("", bold(`Journal of ${p(s.journal.unit)} (${s.journal.scope} manager, last ${s.journal.lines.length} lines of 10 min):`));
    for (const l of s.journal.lines)
      out.push(
        `  ${l.timeUs === null ? "?".padEnd(19) : formatLocalTime(l.timeUs)}  ${p(l.identifier ?? "")}${l.pid === null ? "" : `[${l.pid}]`}: ${p(l.message)}`,
      );
  }
  if (s.missing.length) out.push("", "Not gathered:", ...s.missing.map((m) => `  - ${p(m)}`));
  return out;
}
