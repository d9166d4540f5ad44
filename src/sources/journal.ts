import { parseJournalLine, rawStringField } from "../parse/journal-json.ts";
import type { Entry } from "../event.ts";
import { processRunner, type Runner } from "../run.ts";
import { sleep } from "../sleep.ts";
import { splitLines } from "./lines.ts";
import type { SourceStats } from "../event.ts";
import { newSourceStats, type Source, type SourceBatch } from "./source.ts";

// The journal, read by one long-lived `journalctl --follow -o json --all` child, as other
// long-lived log readers do (Vector's journald source and the OpenTelemetry Collector's
// journald receiver both run journalctl rather than link libsystemd). The child is supervised: when it exits,
// or goes quiet while the journal holds newer entries it should have printed, it is restarted
// with capped exponential backoff from the cursor of the last line read, so nothing is skipped
// or read twice.

export interface SourceLog {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

export interface JournalSourceOptions {
  /** Resume after this cursor (the committed one); null: start at the journal's current end. */
  after: string | null;
  /** With no cursor: read back from this wall-clock time (µs) instead (`daemon --backfill`). */
  sinceUs?: number | null;
  /** journalctl matches (see journalMatches), or null for every entry. */
  matches: string[] | null;
  /**
   * A cheap test on the raw JSON line; lines it rejects are counted and skipped before
   * JSON.parse. It must not depend on pipeline state, since the source reads ahead.
   */
  keepLine?: (line: string) => boolean;
  journalctl?: string;
  runner?: Runner;
  log: SourceLog;
  /** Silence after which the journal is asked whether we missed something. Default 10 min. */
  stallCheckMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
}

/** A journal line bigger than this is not an event anyone reads; it is skipped (and counted). */
const MAX_LINE_CHARS = 1 << 20;
const HEALTHY_RUN_MS = 60_000;
const PROBE_TIMEOUT_MS = 10_000;
const STDERR_TAIL_CHARS = 2000;
/** After journald comes back: for this long, the stall probe runs after this much silence. */
const VERIFY_WINDOW_MS = 60_000;
const VERIFY_QUIET_MS = 2_000;
/** An entry this old that the reader has not printed means it stopped delivering. */
const STALL_AGE_MS = 5_000;

/** A cursor's realtime (its `t=` field, hex µs), or null when it has none. */
export function cursorRealtimeUs(cursor: string): number | null {
  const t = /(?:^|;)t=([0-9a-f]+)(?:;|$)/.exec(cursor)?.[1];
  return t === undefined ? null : Number.parseInt(t, 16);
}

/**
 * Server-side matches: what journalctl hands us at all. Same-field matches are OR-ed and `+`
 * separates alternatives: kernel lines, priority ≤ err, the MESSAGE_IDs and identifiers the
 * rules look at. A priority filter alone would miss segfaults (kernel, priority 6) and unit
 * results (priority 4 with a MESSAGE_ID). Null when some rule may match any entry.
 */
export function journalMatches(
  prefilter: { messageIds: ReadonlySet<string>; identifiers: ReadonlyMap<string, unknown>; anyLiterals: readonly string[] } | null,
): string[] | null {
  if (prefilter === null || prefilter.anyLiterals.length > 0) return null;
  const groups: string[][] = [["_TRANSPORT=kernel"], ["PRIORITY=0", "PRIORITY=1", "PRIORITY=2", "PRIORITY=3"]];
  if (prefilter.messageIds.size) groups.push([...prefilter.messageIds].sort().map((id) => `MESSAGE_ID=${id}`));
  if (prefilter.identifiers.size) groups.push([...prefilter.identifiers.keys()].sort().map((i) => `SYSLOG_IDENTIFIER=${i}`));
  return groups.flatMap((g, i) => (i === 0 ? g : ["+", ...g]));
}

async function tail(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) text = (text + decoder.decode(chunk, { stream: true })).slice(-STDERR_TAIL_CHARS);
  return text.trim();
}

export class JournalSource implements Source {
  readonly name = "journal" as const;
  readonly stats: SourceStats = newSourceStats();
  private position: string | null;
  private readonly options: JournalSourceOptions;
  private readonly runner: Runner;
  private readonly journalctl: string;
  private child: ReturnType<typeof Bun.spawn<"ignore", "pipe", "pipe">> | null = null;
  /** Wall clock (ms) of the last line read or the last stall probe that found nothing missing. */
  private quietSinceMs = Date.now();
  /** Until then (wall clock, ms), the stall probe looks after VERIFY_QUIET_MS of silence: journald just came back. */
  private verifyUntilMs = 0;
  /** Set while the consumer holds a batch: the reader is not waiting on journalctl then. */
  private consumerBusy = false;
  /** Why the reader is being restarted on purpose (restartReader), for lastError. */
  private pendingError: string | null = null;
  /**
   * A first start: the wall clock (µs) it began at, followed with --since until the first line
   * gives a cursor of our own. The pinned tail cursor is of the journal's end when the probe
   * ran, which may already be past lines written after the start; following from it lost them.
   */
  private firstStartUs: number | null = null;

  constructor(options: JournalSourceOptions) {
    this.options = options;
    this.position = options.after;
    this.runner = options.runner ?? processRunner;
    this.journalctl = options.journalctl ?? "journalctl";
  }

  /** The journal's current end as a cursor, so a first start begins exactly there. */
  async tailCursor(): Promise<string | null> {
    const r = await this.runner.run([this.journalctl, "--lines=0", "--show-cursor", "--no-pager"], { timeoutMs: PROBE_TIMEOUT_MS });
    return /^-- cursor: (.+)$/m.exec(r.stdout)?.[1]?.trim() ?? null;
  }

  private argv(): string[] {
    const args = [this.journalctl, "--follow", "--output=json", "--all", "--no-pager", "--quiet"];
    // --cursor (inclusive), and follow() drops the entry that is the cursor's own: journalctl
    // before v255 with --after-cursor and matches skips the first *matching* entry when the
    // cursor's entry does not match (systemd#30288, fixed by #30336) — the journal's tail
    // rarely matches, so a first start lost the first event after it.
    // --lines=all with either: --follow implies --lines=10, and from a cursor journalctl prints
    // ten entries, then waits for the journal to change before printing the rest (systemd#4739,
    // seen on 252 after a 200,000-line storm: the backlog sat unread until the next write).
    if (this.firstStartUs !== null) args.push(`--since=@${(this.firstStartUs / 1e6).toFixed(6)}`, "--lines=all");
    else if (this.position !== null) args.push(`--cursor=${this.position}`, "--lines=all");
    else if (this.options.sinceUs != null) args.push(`--since=@${(this.options.sinceUs / 1e6).toFixed(6)}`, "--lines=all");
    else args.push("--lines=0");
    if (this.options.matches) args.push(...this.options.matches);
    return args;
  }

  async *batches(signal: AbortSignal): AsyncGenerator<SourceBatch> {
    if (this.position === null && this.options.sinceUs == null && !signal.aborted) {
      // Pin "now" to a cursor before following: a restart before the first line arrives then
      // resumes here instead of at a later "now". The probe takes its time (a busy start: the
      // kmsg reader draining the ring buffer beside it), and whatever is logged meanwhile is
      // before that cursor: the follower reads from the moment we started instead (see argv).
      const startedUs = Date.now() * 1000;
      try {
        this.position = await this.tailCursor();
        if (this.position !== null) this.firstStartUs = startedUs;
        if (this.position !== null) yield { entries: [], position: this.position };
      } catch (error) {
        this.options.log.warn(
          `journal: could not read the journal's end (${error instanceof Error ? error.message : String(error)}); following from now`,
        );
      }
    }
    let backoffMs = this.options.backoffInitialMs ?? 1000;
    let first = true;
    while (!signal.aborted) {
      if (!first) this.stats.restarts++;
      first = false;
      const startedAt = Date.now();
      yield* this.follow(signal);
      if (signal.aborted) break;
      if (Date.now() - startedAt > HEALTHY_RUN_MS) backoffMs = this.options.backoffInitialMs ?? 1000;
      this.options.log.warn(
        `journal: ${this.stats.lastError ?? "journalctl stopped"}; restarting it in ${(backoffMs / 1000).toFixed(1)}s from ${this.position === null ? "now" : "the last entry read"}`,
      );
      await sleep(backoffMs, signal);
      backoffMs = Math.min(backoffMs * 2, this.options.backoffMaxMs ?? 30_000);
    }
  }

  /** One journalctl child, from spawn to exit (or abort, or a detected stall). */
  private async *follow(signal: AbortSignal): AsyncGenerator<SourceBatch> {
    const argv = this.argv();
    this.options.log.debug(`journal: ${argv.join(" ")}`);
    let child: ReturnType<typeof Bun.spawn<"ignore", "pipe", "pipe">>;
    try {
      child = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" }) as ReturnType<
        typeof Bun.spawn<"ignore", "pipe", "pipe">
      >;
    } catch (error) {
      this.stats.lastError = `cannot run ${this.journalctl}: ${error instanceof Error ? error.message : String(error)}`;
      return;
    }
    this.child = child;
    this.stats.running = true;
    // A new reader gets its whole quiet period: seeking its cursor in a large journal through
    // many matches can take seconds before the first line, and that is not a stall.
    this.quietSinceMs = Date.now();
    const stderr = tail(child.stderr);
    const kill = () => child.kill("SIGTERM");
    signal.addEventListener("abort", kill, { once: true });
    let stalled = false;
    let readError: string | null = null;
    const watchdog = this.watchStall(child, signal, () => (stalled = true));
    // The entry we resume from, printed again first when it matches (see argv). Following
    // --since, nothing has been read yet: the pinned entry, if printed, is new to us.
    let resumedFrom = this.firstStartUs === null ? this.position : null;
    try {
      for await (const items of splitLines(child.stdout, MAX_LINE_CHARS)) {
        const entries: Entry[] = [];
        const now = Date.now() * 1000;
        for (const item of items) {
          // journalctl died in the middle of printing this record: its cursor may be there
          // complete while the rest is cut off. Not read — the restart prints it again.
          if (typeof item !== "string" && item.kind === "unterminated") continue;
          this.stats.recordsRead++;
          this.stats.lastReadUs = now;
          this.quietSinceMs = now / 1000;
          if (typeof item !== "string") {
            // Its cursor is lost with it; the next line's cursor covers it.
            this.stats.malformed++;
            continue;
          }

          const cursor = rawStringField(item, "__CURSOR");
          const alreadyRead = resumedFrom !== null && cursor === resumedFrom;
          resumedFrom = null;
          if (alreadyRead) continue;
          if (cursor !== null) {
            this.position = cursor;
            this.firstStartUs = null;
          }
          if (this.options.keepLine && !this.options.keepLine(item)) continue;
          const entry = parseJournalLine(item);
          if (entry === null) this.stats.malformed++;
          else entries.push(entry);
        }
        // While the pipeline works on what was read (a commit, a storm's backlog) nothing is
        // asked of journalctl: that time is not its silence.
        this.consumerBusy = true;
        try {
          yield { entries, position: this.position };
        } finally {
          this.consumerBusy = false;
          this.quietSinceMs = Date.now();
        }
        if (signal.aborted) break;
      }
    } catch (error) {
      // The pipe broke under us: the supervisor restarts journalctl from the last position.
      readError = `reading journalctl's output failed: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      signal.removeEventListener("abort", kill);
      clearInterval(watchdog);
      if (child.exitCode === null) child.kill("SIGTERM");
      const code = await child.exited;
      const why = await stderr;
      this.child = null;
      this.stats.running = false;
      if (!signal.aborted) {
        const exit = `journalctl exited with ${child.signalCode ? `signal ${child.signalCode}` : `code ${code}`}${why ? `: ${why.split("\n").pop()}` : ""}`;
        this.stats.lastError =
          readError ?? this.pendingError ?? (stalled ? "journalctl stopped delivering entries the journal holds (stalled)" : exit);
        this.pendingError = null;
      }
    }
  }

  /**
   * Blindness check: after `stallCheckMs` of silence, ask the journal for its newest matching
   * entry. If that is not the last one we read and is older than a few seconds, the child has
   * stopped delivering (a follower can go blind without exiting, e.g. across a journal file
   * rotation it missed): kill it so it is restarted.
   * One short probe per quiet period, not per entry.
   */
  private watchStall(child: Bun.Subprocess, signal: AbortSignal, onStall: () => void): ReturnType<typeof setInterval> {
    // Ten minutes: a probe is a spawn, and spawns are what a long-lived Bun process should do
    // least (each one grows its memory a little); at most 144 a day, only on a quiet journal.
    const quietMs = this.options.stallCheckMs ?? 600_000;
    let probing = false;
    const timer = setInterval(
      async () => {
        if (probing || signal.aborted || child.exitCode !== null || this.consumerBusy) return;
        // Just after journald came back the reader is the least proven (new files, a restart
        // from the cursor): for a while, look after a short silence rather than a long one.
        const quiet = Date.now() < this.verifyUntilMs ? VERIFY_QUIET_MS : quietMs;
        if (Date.now() - this.quietSinceMs < quiet) return;
        probing = true;
        try {
          // The newest entry at least 5 s old (journalctl has had ample time to print it): on a
          // busy journal the very newest is always younger than that and would hide a stall.
          const until = `--until=@${(Date.now() / 1000 - STALL_AGE_MS / 1000).toFixed(6)}`;
          const argv = [
            this.journalctl,
            "--reverse",
            until,
            "--lines=1",
            "--output=json",
            "--all",
            "--no-pager",
            "--quiet",
            ...(this.options.matches ?? []),
          ];
          const r = await this.runner.run(argv, { timeoutMs: PROBE_TIMEOUT_MS });
          const line = r.stdout.trim().split("\n")[0] ?? "";
          const newest = rawStringField(line, "__CURSOR");
          const newestUs = Number(rawStringField(line, "__REALTIME_TIMESTAMP") ?? NaN);
          const readUs = this.position === null ? null : cursorRealtimeUs(this.position);
          const missed =
            newest !== null && newest !== this.position && (readUs === null || !Number.isFinite(newestUs) || newestUs > readUs);
          if (missed) {
            onStall();
            child.kill("SIGTERM");
          }
          // Quiet and caught up: look again after another quiet period.
          this.quietSinceMs = Date.now();
        } catch (error) {
          this.options.log.debug(`journal: stall probe failed: ${error instanceof Error ? error.message : String(error)}`);
        } finally {
          probing = false;
        }
      },
      Math.max(100, Math.min(quietMs / 4, VERIFY_QUIET_MS)),
    );
    return timer;
  }

  /**
   * Restart the reader from the last entry read; the daemon calls this when it sees journald
   * come back or its active file replaced. A safeguard: a follower left running across a
   * journald kill and restart kept reading the new journald's file on systemd 252 (sd-journal
   * watches the journal directory and opens a new file when it appears), and a restart from the
   * cursor costs one spawn and reads nothing twice.
   */
  restartReader(why: string): void {
    this.verifyUntilMs = Date.now() + VERIFY_WINDOW_MS;
    if (!this.child || this.child.exitCode !== null) return;
    this.options.log.info(`journal: restarting journalctl: ${why}`);
    this.pendingError = why;
    this.child.kill("SIGTERM");
  }

  /** The running journalctl's pid (tests kill it to check the supervisor). */
  get childPid(): number | null {
    return this.child?.pid ?? null;
  }
}
