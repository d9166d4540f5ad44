import type { OomReport, StoredEvent, Tier } from "../event.ts";
import type { IncidentCounts } from "../incidents/period.ts";
import { formatDuration, formatKb, formatPeriod } from "../text/format.ts";
import { fitBytes, NTFY_MESSAGE_LIMIT_BYTES, printable, utf8Bytes } from "../text/alert.ts";

// The weekly digest, one section per instance, laid out like this:
//
//   === workstation ===
//   OOM Kills:        2 (firefox ×1, electron ×1)
//   Process Crashes:  3 (vlc ×2, gimp ×1)
//   Service Failures: 1 (docker.service ×1)
//   HW/Kernel Errors: 0
//   Memory Pressure:  4 warning episodes (avg duration: 45s)
//   Top memory offender: electron (avg 6.2 GB, triggered 1 OOM)
//
//   Longest incident: [nas] zfs-scrub.service failed
//     → exit code 1, scrub errors detected on pool "tank"
//
// Pure: events (from any number of instances' databases) and the period in, text out. The
// only clock-like thing is the local time zone the title's dates are shown in.

export type DigestEvent = Pick<
  StoredEvent,
  | "id"
  | "instanceId"
  | "tier"
  | "severity"
  | "rule"
  | "summary"
  | "process"
  | "unit"
  | "timestampUs"
  | "lastSeenUs"
  | "occurrences"
  | "detail"
  | "facts"
>;

export interface DigestInput {
  sinceUs: number;
  untilUs: number;
  /** Instances that get a section, in this order, even with no events; instances found only in `events` follow, sorted. */
  instances: readonly string[];
  /** Events that started in [sinceUs, untilUs). */
  events: readonly DigestEvent[];
  /**
   * The period of the same length just before, for a trend line. `instances`: those watched
   * all through it (elsewhere "0 last week" could just mean "not installed yet"); only
   * they get the line.
   */
  previous?: { events: readonly DigestEvent[]; instances: ReadonlySet<string> } | undefined;
  /** Incidents per instance this period and the one before (incidents/period.ts); absent for databases without them. */
  incidents?: ReadonlyMap<string, { now: IncidentCounts; before: IncidentCounts | null }> | undefined;
  /** "weekly" (the default) or "daily", from [digest] schedule. */
  periodWord?: "weekly" | "daily";
}

export interface Digest {
  title: string;
  /** One block of lines per instance, in order. */
  sections: string[][];
  /** The "Longest incident" lines; empty when nothing but memory pressure happened. */
  footer: string[];
}

/** One ntfy message of a digest. */
export interface DigestPart {
  title: string;
  message: string;
}

/** Name lists stop here ("…, +4 more"): a phone shows a digest line as a line, not a paragraph. */
const MAX_NAMES_PER_LINE = 5;

const DAY_US = 86_400_000_000;
const HOUR_US = 3_600_000_000;

/** The counted tiers, with their labels padded to one column. */
const TIER_LINES: readonly { tier: Exclude<Tier, "T5">; label: string }[] = [
  { tier: "T1", label: "OOM Kills:" },
  { tier: "T2", label: "Process Crashes:" },
  { tier: "T3", label: "Service Failures:" },
  { tier: "T4", label: "HW/Kernel Errors:" },
];
const PRESSURE_LABEL = "Memory Pressure:";
const LABEL_WIDTH = "Service Failures: ".length;

export function buildDigest(input: DigestInput): Digest {
  const byInstance = new Map<string, DigestEvent[]>(input.instances.map((id) => [id, []]));
  const extra = new Set<string>();
  for (const e of chronological(input.events)) {
    let list = byInstance.get(e.instanceId);
    if (list === undefined) {
      list = [];
      byInstance.set(e.instanceId, list);
      extra.add(e.instanceId);
    }
    list.push(e);
  }
  const order = [...input.instances, ...[...extra].sort(compareText)];
  const previous = input.previous;
  const periodLabel = periodWords(input.untilUs - input.sinceUs);
  const sections = order.map((instanceId) => {
    const events = byInstance.get(instanceId) ?? [];
    const lines = instanceLines(instanceId, events);
    const incidents = input.incidents?.get(instanceId);
    if (incidents !== undefined) lines.push(...incidentLines(incidents.now));
    if (previous !== undefined && previous.instances.has(instanceId)) {
      const before = previous.events.filter((e) => e.instanceId === instanceId);
      lines.push(
        trendLine(
          tierCounts(before),
          tierCounts(events),
          periodLabel,
          incidents?.before ? [incidents.before.active, incidents.now.active] : null,
        ),
      );
    }
    return lines;
  });
  return {
    title: digestTitle(input.sinceUs, input.untilUs, input.periodWord ?? "weekly"),
    sections,
    footer: longestIncidentLines(input.events),
  };
}

/** "Incidents: 3 new, 1 recurring, 2 still open, 4 resolved (1 muted)", then the new ones' names. */
function incidentLines(c: IncidentCounts): string[] {
  const parts = [`${c.new} new`, `${c.recurring} recurring`, `${c.stillOpen} still open`, `${c.resolved} resolved`];
  const head = `${"Incidents:".padEnd(LABEL_WIDTH)}${parts.join(", ")}${c.muted > 0 ? ` (${c.muted} muted)` : ""}`;
  const shown = c.opened.slice(0, MAX_NAMES_PER_LINE).map((s) => `  + ${printable(s).replace(/\s+/g, " ")}`);
  const more = c.opened.length > MAX_NAMES_PER_LINE ? [`  + ${c.opened.length - MAX_NAMES_PER_LINE} more`] : [];
  return [head, ...shown, ...more];
}

/** The body: instance sections, then the longest incident, separated by blank lines. */
export function digestText(digest: Digest): string {
  return blocksOf(digest)
    .map((block) => block.join("\n"))
    .join("\n\n");
}

/** "📊 logtriage weekly digest (Feb 10-16)", "📊 logtriage daily digest (Feb 10)". */
export function digestTitle(sinceUs: number, untilUs: number, word: "weekly" | "daily" = "weekly"): string {
  return `📊 logtriage ${word} digest (${formatPeriod(sinceUs, untilUs)})`;
}

/** Section order: this machine's own instance first (the reader is most likely at it), then the others alphabetically. */
export function orderInstances(instanceIds: Iterable<string>, own: string | null): string[] {
  const ids = new Set(instanceIds);
  const others = [...ids].filter((id) => id !== own).sort(compareText);
  return own !== null && ids.has(own) ? [own, ...others] : others;
}

/**
 * The digest as ntfy messages of at most `limitBytes` each. Whole when it fits; otherwise cut
 * between instance sections (the longest incident is a block of its own), a section longer
 * than a message between its lines, and each part's title gets " (1/2)".
 */
export function splitDigest(digest: Digest, limitBytes: number = NTFY_MESSAGE_LIMIT_BYTES): DigestPart[] {
  const whole = digestText(digest);
  if (utf8Bytes(whole) <= limitBytes) return [{ title: digest.title, message: whole }];
  const messages: string[] = [];
  let current = "";
  for (const block of blocksOf(digest)) {
    const text = block.join("\n");
    const joined = current === "" ? text : `${current}\n\n${text}`;
    if (utf8Bytes(joined) <= limitBytes) {
      current = joined;
      continue;
    }
    if (current !== "") messages.push(current);
    if (utf8Bytes(text) <= limitBytes) {
      current = text;
      continue;
    }
    const chunks = packLines(block, limitBytes);
    messages.push(...chunks.slice(0, -1));
    current = chunks.at(-1) ?? "";
  }
  if (current !== "") messages.push(current);
  return messages.map((message, i) => ({ title: `${digest.title} (${i + 1}/${messages.length})`, message }));
}

function blocksOf(digest: Digest): string[][] {
  return digest.footer.length > 0 ? [...digest.sections, digest.footer] : digest.sections;
}

/** Lines joined while they fit; a single line longer than a message is cut at a character. */
function packLines(lines: readonly string[], limitBytes: number): string[] {
  const chunks: string[] = [];
  let current: string | null = null;
  for (const raw of lines) {
    const line = fitBytes(raw, limitBytes);
    if (current !== null && utf8Bytes(current) + 1 + utf8Bytes(line) <= limitBytes) {
      current = `${current}\n${line}`;
      continue;
    }
    if (current !== null) chunks.push(current);
    current = line;
  }
  if (current !== null) chunks.push(current);
  return chunks;
}

function instanceLines(instanceId: string, events: readonly DigestEvent[]): string[] {
  const lines = [`=== ${oneLine(instanceId)} ===`];
  for (const { tier, label } of TIER_LINES) {
    const ofTier = events.filter((e) => e.tier === tier);
    const total = sumOccurrences(ofTier);
    const what = tier === "T4" ? kernelErrorsWhat(ofTier) : namesWhat(ofTier);
    lines.push(`${label.padEnd(LABEL_WIDTH)}${total}${total > 0 && what !== "" ? ` (${what})` : ""}`);
  }
  lines.push(`${PRESSURE_LABEL.padEnd(LABEL_WIDTH)}${pressureWhat(events.filter((e) => e.tier === "T5"))}`);
  const offender = topMemoryOffender(events);
  if (offender !== null) {
    const ooms = `${offender.triggered} OOM${offender.triggered === 1 ? "" : "s"}`;
    lines.push(`Top memory offender: ${oneLine(offender.name)} (avg ${formatKb(Math.round(offender.avgRssKb))}, triggered ${ooms})`);
  }
  return lines;
}

/** Who an event is about, for "firefox ×1": the unit for a service failure, else the process. */
function subjectOf(e: DigestEvent): string {
  const subject = e.tier === "T3" ? (e.unit ?? e.process) : (e.process ?? e.unit);
  return oneLine(subject ?? e.rule);
}

/** "vlc ×2, gimp ×1": occurrences per subject, most first, then in the order they first happened. */
function namesWhat(events: readonly DigestEvent[]): string {
  const counts = new Map<string, number>();
  for (const e of events) counts.set(subjectOf(e), (counts.get(subjectOf(e)) ?? 0) + e.occurrences);
  // Map keeps first-insertion order and the events are chronological; sort is stable.
  const ranked = [...counts].sort((a, b) => b[1] - a[1]);
  const shown = ranked.slice(0, MAX_NAMES_PER_LINE).map(([name, n]) => `${name} ×${n}`);
  const more = ranked.length - MAX_NAMES_PER_LINE;
  return more > 0 ? `${shown.join(", ")}, +${more} more` : shown.join(", ");
}

/** Kernel and hardware errors have no process to count by; the first one's summary says what it was. */
function kernelErrorsWhat(events: readonly DigestEvent[]): string {
  const first = events[0];
  if (first === undefined) return "";
  const others = events.length - 1;
  return others > 0 ? `${oneLine(first.summary)}; +${others} more` : oneLine(first.summary);
}

/**
 * "4 warning episodes (avg duration: 45s)". An episode is one T5 event: the store folds a
 * pressure signal that keeps coming back within the cooldown into the open event, so its
 * first and last sighting bound the episode.
 */
function pressureWhat(episodes: readonly DigestEvent[]): string {
  if (episodes.length === 0) return "0";
  const severities = new Set(episodes.map((e) => e.severity));
  const kind = severities.size === 1 ? `${[...severities][0] as string} ` : "";
  const noun = episodes.length === 1 ? "episode" : "episodes";
  const totalUs = episodes.reduce((sum, e) => sum + Math.max(0, e.lastSeenUs - e.timestampUs), 0);
  const avgMs = Math.round(totalUs / episodes.length / 1_000_000) * 1000;
  return `${episodes.length} ${kind}${noun} (avg duration: ${formatDuration(avgMs)})`;
}

interface Offender {
  name: string;
  avgRssKb: number;
  triggered: number;
}

/**
 * From the kernel's OOM reports: the task with the most RSS at each kill. The offender is the
 * name that was largest in the most kills (then the larger average); its average is over the
 * kills whose task table lists it, and "triggered" counts the kills where it was the largest
 * task or the one whose allocation invoked the OOM killer. An event folded from several kills
 * keeps the first report only, so it counts as one: only reports actually read are counted.
 */
function topMemoryOffender(events: readonly DigestEvent[]): Offender | null {
  const reports: OomReport[] = [];
  for (const e of events) if (e.tier === "T1" && e.facts.kind === "oom-kill") reports.push(e.facts.oom);
  const largestCount = new Map<string, number>();
  const largestOf = new Map<OomReport, string>();
  for (const oom of reports) {
    const largest = oom.topTasks.reduce<OomReport["topTasks"][number] | null>(
      (best, t) => (best === null || t.rssKb > best.rssKb ? t : best),
      null,
    );
    if (largest === null) continue;
    largestOf.set(oom, largest.name);
    largestCount.set(largest.name, (largestCount.get(largest.name) ?? 0) + 1);
  }
  let best: (Offender & { largestIn: number }) | null = null;
  for (const [name, largestIn] of largestCount) {
    const rssPerKill: number[] = [];
    let triggered = 0;
    for (const oom of reports) {
      const own = oom.topTasks.filter((t) => t.name === name);
      if (own.length > 0) rssPerKill.push(Math.max(...own.map((t) => t.rssKb)));
      if (largestOf.get(oom) === name || oom.trigger?.name === name) triggered++;
    }
    const avgRssKb = rssPerKill.reduce((a, b) => a + b, 0) / rssPerKill.length;
    const candidate = { name, avgRssKb, triggered, largestIn };
    if (
      best === null ||
      largestIn > best.largestIn ||
      (largestIn === best.largestIn && (avgRssKb > best.avgRssKb || (avgRssKb === best.avgRssKb && name < best.name)))
    ) {
      best = candidate;
    }
  }
  return best === null ? null : { name: best.name, avgRssKb: best.avgRssKb, triggered: best.triggered };
}

/**
 * The incident that lasted longest (first to last occurrence), across instances; ties go to
 * the one that happened most often, then to the latest. Memory pressure episodes are left
 * out: their durations have their own line, and a slow hour is not a failure to look into.
 */
function longestIncidentLines(events: readonly DigestEvent[]): string[] {
  let best: DigestEvent | null = null;
  for (const e of events) {
    if (e.tier === "T5") continue;
    if (best === null || compareIncidents(e, best) > 0) best = e;
  }
  if (best === null) return [];
  const lines = [`Longest incident: [${oneLine(best.instanceId)}] ${oneLine(best.summary)}`];
  const firstDetailLine = printable(best.detail)
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l !== "");
  if (firstDetailLine !== undefined) lines.push(`  → ${firstDetailLine}`);
  return lines;
}

function compareIncidents(a: DigestEvent, b: DigestEvent): number {
  return (
    a.lastSeenUs - a.timestampUs - (b.lastSeenUs - b.timestampUs) ||
    a.occurrences - b.occurrences ||
    a.lastSeenUs - b.lastSeenUs ||
    compareText(b.id, a.id)
  );
}

type TrendCounts = Record<Tier, number>;

/** What each line of a section counts: occurrences per tier, episodes for memory pressure. */
function tierCounts(events: readonly DigestEvent[]): TrendCounts {
  const counts: TrendCounts = { T1: 0, T2: 0, T3: 0, T4: 0, T5: 0 };
  for (const e of events) counts[e.tier] += e.tier === "T5" ? 1 : e.occurrences;
  return counts;
}

/** "Trend vs previous 7d: OOM Kills 3→2, Process Crashes 0→3", only what changed. */
function trendLine(before: TrendCounts, now: TrendCounts, periodLabel: string, incidents: [number, number] | null = null): string {
  const labels: readonly [Tier, string][] = [
    ...TIER_LINES.map((l): [Tier, string] => [l.tier, l.label.slice(0, -1)]),
    ["T5", "Memory Pressure"],
  ];
  const changes = labels.filter(([tier]) => before[tier] !== now[tier]).map(([tier, label]) => `${label} ${before[tier]}→${now[tier]}`);
  if (incidents !== null && incidents[0] !== incidents[1]) changes.unshift(`Incidents ${incidents[0]}→${incidents[1]}`);
  return `Trend vs previous ${periodLabel}: ${changes.length > 0 ? changes.join(", ") : "unchanged"}`;
}

/** "7d" for a week, even one with a daylight-saving change in it (then it is 7d ± 1h). */
function periodWords(periodUs: number): string {
  const days = Math.round(periodUs / DAY_US);
  if (days >= 1 && Math.abs(periodUs - days * DAY_US) <= HOUR_US) return `${days}d`;
  return formatDuration(Math.round(periodUs / 1000));
}

function sumOccurrences(events: readonly DigestEvent[]): number {
  return events.reduce((sum, e) => sum + e.occurrences, 0);
}

function chronological(events: readonly DigestEvent[]): DigestEvent[] {
  return [...events].sort((a, b) => a.timestampUs - b.timestampUs || compareText(a.id, b.id));
}

/** Log text on one line: no control characters, no line breaks. */
function oneLine(text: string): string {
  return printable(text).replace(/\s+/g, " ").trim();
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
