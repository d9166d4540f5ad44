import { accessSync, constants, existsSync, statSync } from "node:fs";
import type { Database } from "bun:sqlite";
import { defineCommand } from "citty";
import type { Candidate, Tier } from "../event.ts";
import { Triage } from "../classify/triage.ts";
import { readLogStream, newStats, type BadLineKind, type FileReadStats } from "../sources/file.ts";
import { readBootClock, type BootClock } from "../sources/boot-clock.ts";
import { openStore } from "../store/db.ts";
import { commitEvent, type CommitPolicy, tierJoinsIncidents, UNIT_INCIDENT_WINDOW_US } from "../store/events.ts";
import { applyRetention } from "../store/retention.ts";
import { commonArgs, loadCommandEnv, triageOptions, UsageError, type CommandEnv } from "./_context.ts";
import { candidateLine, dim } from "./_render.ts";
import { describeCandidate } from "../text/describe.ts";
import { eventJson } from "../text/event-json.ts";
import { printable } from "./_printable.ts";

const SHOWN_BAD_LINES = 5;
const STORE_BATCH = 500;
const PROGRESS_EVERY_MS = 1000;

const BAD_WORDS: Record<BadLineKind, string> = {
  "malformed-json": "malformed JSON",
  oversized: "over the line size limit",
  "bad-kmsg-record": "not a kmsg record",
};

interface ReplayTotals {
  events: number;
  byTier: Record<Tier, number>;
  stored: { new: number; folded: number };
  /** Lines of an incident already shown (a unit's exit and its "Failed with result"): joined into its event. */
  joined: number;
  badShown: number;
}

function describeStats(label: string, s: FileReadStats): string {
  const bad = Object.entries(s.bad).filter(([, n]) => n > 0);
  const badText = bad.length ? `; skipped ${bad.map(([k, n]) => `${n} ${BAD_WORDS[k as BadLineKind]}`).join(", ")}` : "";
  return `${label}: ${s.lines} lines${s.format ? ` (${s.format})` : ""}, ${s.entries} entries parsed${s.skipped ? `, ${s.skipped} ruled out by the prefilter` : ""}${badText}`;
}

/** A replayed candidate in the event shape, with the cursors of the entries it came from; not stored, so no id. */
function replayJson(c: Candidate, instanceId: string): Record<string, unknown> {
  const { entries, ...rest } = c;
  const event = { ...rest, id: null, instanceId, lastSeenUs: c.timestampUs, detail: describeCandidate(c), occurrences: 1, notified: false };
  return { ...eventJson(event), cursors: entries.map((e) => e.cursor).filter((x) => x !== null) };
}

/**
 * What the throwaway database needs of a candidate to join and fold it as the real one would:
 * all but its lines and cursors (the headline's message names a timeout's wording). Without
 * them its rows stay small; with them every fold re-read and rewrote up to 200 cursors and
 * 1,000 lines, most of a dense replay's time.
 */
function headlineOnly(c: Candidate): Candidate {
  const headline = c.entries[0];
  return { ...c, entries: headline ? [{ ...headline, cursor: null }] : [] };
}

/**
 * Candidates go through commitEvent, into the database with --store and into a throwaway one in
 * memory without, so both show the same events: a line of an incident already shown (a unit's
 * exit, then its "Failed with result") joins that event, as the daemon stores it, instead of
 * being printed as an event of its own. Printed a batch at a time, once its outcomes are known.
 */
class EventSink {
  private pending: Candidate[] = [];
  constructor(
    private readonly env: CommandEnv,
    private readonly totals: ReplayTotals,
    private readonly json: boolean,
    private readonly db: Database,
    private readonly stored: boolean,
    private readonly policy: CommitPolicy,
  ) {
    this.keepMs = 2 * Math.max(policy.cooldownMs, UNIT_INCIDENT_WINDOW_US / 1000);
  }

  /** How long an event can still take a line: its cooldown window or the longest incident window, twice over. */
  private readonly keepMs: number;

  add(c: Candidate): void {
    this.pending.push(c);
    if (this.pending.length >= STORE_BATCH) this.commit();
  }

  commit(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const db = this.db;
    const outcomes = db
      .transaction(() =>
        batch.map((c) => {
          if (this.stored) return commitEvent(db, c, this.policy).outcome;
          return tierJoinsIncidents(c.tier) ? commitEvent(db, headlineOnly(c), this.policy).outcome : "new";
        }),
      )
      .immediate();
    // The throwaway database only needs the events a later line could still join or fold into.
    if (!this.stored) applyRetention(db, Math.min(...batch.map((c) => c.timestampUs)), this.keepMs);
    let out = "";
    batch.forEach((c, i) => {
      const outcome = outcomes[i];
      if (this.stored) {
        if (outcome === "new") this.totals.stored.new++;
        else this.totals.stored.folded++;
      }
      if (outcome === "merged") {
        this.totals.joined++;
        return;
      }
      this.totals.events++;
      this.totals.byTier[c.tier]++;
      out += `${this.json ? JSON.stringify(replayJson(c, this.env.config.instance.id)) : candidateLine(c, this.env.config.instance.id)}\n`;
    });
    process.stdout.write(out);
  }
}

function openInput(path: string): ReadableStream<Uint8Array> | string {
  if (path === "-") return Bun.stdin.stream();
  if (!existsSync(path)) return `${path}: no such file`;
  const st = statSync(path);
  if (st.isDirectory()) return `${path} is a directory; give a file (e.g. journalctl -b -1 -o json > boot.jsonl)`;
  try {
    accessSync(path, constants.R_OK);
  } catch {
    // The reason is always the same here: the file exists but this user may not read it.
    return `${path}: permission denied (run as its owner, or copy it somewhere readable)`;
  }
  return Bun.file(path).stream();
}

export const replayCommand = defineCommand({
  meta: {
    name: "replay",
    description: "Run recorded entries (journalctl -o json, dmesg text or /dev/kmsg records) through triage; never notifies",
  },
  args: {
    ...commonArgs,
    file: { type: "positional", description: "Input file(s), or - for standard input", required: true, valueHint: "FILE|-" },
    json: { type: "boolean", description: "One JSON object per event" },
    store: { type: "boolean", description: "Also write the events to the database (with cooldown)" },
    "page-size": {
      type: "string",
      description: "Page size in kB of the machine the log came from (default: this machine's)",
      valueHint: "KB",
    },
    year: {
      type: "string",
      description: "Year of syslog stamps that have none (default: the latest year that does not put them in the future)",
      valueHint: "YYYY",
    },
  },
  async run({ args }) {
    const inputs = args._.length ? args._ : [args.file];
    let pageSizeKb: number | undefined;
    if (args["page-size"] !== undefined) {
      pageSizeKb = Number(args["page-size"]);
      if (![4, 8, 16, 64].includes(pageSizeKb))
        throw new UsageError(`--page-size: expected 4, 8, 16 or 64 (kB), got "${args["page-size"]}"`);
    }
    let year: number | undefined;
    if (args.year !== undefined) {
      year = Number(args.year);
      if (!Number.isInteger(year) || year < 1970 || year > 9999)
        throw new UsageError(`--year: expected a year such as 2026, got "${args.year}"`);
    }
    const env = loadCommandEnv(args);
    const triage = new Triage(triageOptions(env.config, pageSizeKb));
    for (const name of triage.classifier.info.unknownDisabled)
      env.log.warn(`rules.disable: no rule named "${name}" (the built-in rules are listed in docs/rules.md)`);

    const db = openStore(args.store ? env.dbPath : ":memory:");
    const totals: ReplayTotals = {
      events: 0,
      byTier: { T1: 0, T2: 0, T3: 0, T4: 0, T5: 0 },
      stored: { new: 0, folded: 0 },
      joined: 0,
      badShown: 0,
    };
    const policy: CommitPolicy = {
      instanceId: env.config.instance.id,
      cooldownMs: env.config.cooldown.windowMs,
      aggregateThreshold: env.config.cooldown.aggregateThreshold,
    };
    const sink = new EventSink(env, totals, Boolean(args.json), db, Boolean(args.store), policy);
    const showProgress = Boolean(process.stderr.isTTY);
    const nowUs = Date.now() * 1000;
    // Read the running kernel's ring buffer once, and only if a dmesg or kmsg input asks.
    let clock: BootClock | null | undefined;
    const bootClock = () => (clock === undefined ? (clock = readBootClock(nowUs)) : clock);
    let readAny = false;
    try {
      for (const input of inputs) {
        const stream = openInput(input);
        if (typeof stream === "string") {
          env.log.warn(`skipped ${stream}`);
          continue;
        }
        readAny = true;
        const stats = newStats();
        let lastProgress = Date.now();
        const entries = readLogStream(
          stream,
          {
            ...(year === undefined ? { nowUs } : { year }),
            bootClock,
            wantsRawLine: (line) => triage.wantsRawLine(line),
            onBadLine: (kind, lineNumber, sample) => {
              if (totals.badShown++ < SHOWN_BAD_LINES)
                env.log.warn(`${input}:${lineNumber}: skipped, ${BAD_WORDS[kind]}: ${printable(sample)}`);
            },
          },
          stats,
        );
        for await (const entry of entries) {
          let candidates: Candidate[];
          try {
            candidates = triage.push(entry, nowUs);
          } catch (error) {
            // A classifier bug must not cost the rest of the file (or, with --store, what was
            // already found): this entry is skipped with its line number, the others go on.
            totals.badShown++;
            env.log.warn(
              `${input}:${stats.lines}: could not classify this entry, skipped: ${error instanceof Error ? error.message : String(error)} (please report it)`,
            );
            continue;
          }
          for (const c of candidates) sink.add(c);
          // Checked per parsed entry (a few percent of lines): a clock read is cheap at that rate.
          if (showProgress && Date.now() - lastProgress > PROGRESS_EVERY_MS) {
            lastProgress = Date.now();
            process.stderr.write(`\r${dim(`replaying ${input}: ${stats.lines.toLocaleString()} lines, ${totals.events} events`)}\x1b[K`);
          }
        }
        for (const c of triage.flush(nowUs)) sink.add(c);
        if (showProgress) process.stderr.write("\r\x1b[K");
        if (stats.format === null) env.log.warn(`${input}: empty input, nothing to replay`);
        process.stderr.write(`${dim(describeStats(input, stats))}\n`);
      }
    } finally {
      // What was found before any failure is stored too: a bad line must not cost the good ones.
      try {
        sink.commit();
      } finally {
        db.close();
      }
    }
    if (!readAny) throw new UsageError(`nothing to replay: ${inputs.join(", ")} could not be read`);
    const tiers = (Object.entries(totals.byTier) as [Tier, number][]).filter(([, n]) => n > 0).map(([t, n]) => `${t} ${n}`);
    const joined = totals.joined ? `; ${totals.joined} more lines joined into the events they belong to` : "";
    const stored = args.store
      ? `; stored ${totals.stored.new} new, ${totals.stored.folded} folded into existing events (cooldown) in ${env.dbPath}`
      : "";
    process.stderr.write(`${dim(`${totals.events} events${tiers.length ? ` (${tiers.join(", ")})` : ""}${joined}${stored}`)}\n`);
  },
});
