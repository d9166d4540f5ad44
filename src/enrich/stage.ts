import type { Database } from "bun:sqlite";
import type { Candidate } from "../event.ts";
import type { Notification } from "../text/alert.ts";
import type { Runner } from "../run.ts";
import type { MemoryHistory } from "../host/memory-history.ts";
import { replaceEnrichmentSection, saveEnrichment, type EnrichmentSection } from "../store/enrichment.ts";
import type { StoredEventWithLines } from "../store/events.ts";
import { releaseAllEnriching, releaseEnrichedAlert } from "../store/outbox.ts";
import type { Enricher, Enrichment } from "./enricher.ts";

// The enrichment stage: after an event is committed (and its alert queued as `enriching`, its
// place in the queue taken but nothing written), the enrichers that apply to it run side by
// side, each under its own timeout. Their lines are written into the event, and its alert is
// written from it, once, and released. Storage never waits for
// this; the alert waits at most the slowest applicable enricher's timeout. A queue too long
// (a burst of new events) skips enrichment for the overflow rather than grow without bound,
// and says so in the event.
//
// The alert never waits past a timeout, but a cause can come later: an enricher cut off by
// its timeout keeps running for the late window (its tools are killed only then), and one that
// answered with something still missing may keep looking (`Enrichment.later`). A late answer
// replaces that enricher's section of the event, and `onLateCause` lets the event's incident
// update its notification in place with it.

export interface StageLog {
  warn(message: string): void;
  debug(message: string): void;
}

export interface EnrichmentStageOptions {
  db: Database;
  enrichers: readonly Enricher[];
  runner: Runner;
  memory: MemoryHistory | null;
  instanceId: string;
  log: StageLog;
  /** Writes an event's alert after enrichment; null when notifications are off (then no alert waits). */
  toNotification: ((event: StoredEventWithLines) => Notification) | null;
  /** An alert was released (wakes the sender). */
  onReleased?: () => void;
  /** Jobs waiting or running at most; the rest are stored unenriched. Default 64. */
  maxQueued?: number;
  /** Events enriched at once. Default 4. */
  concurrency?: number;
  /** How long past its timeout an enricher's answer is still taken, and how long `later` looks. Default 60 s; 0: never. */
  lateMs?: number;
  /** Late answers awaited at once; past that an enricher is cut off at its timeout. Default 16. */
  maxLate?: number;
  /**
   * A late answer was stored (called inside that transaction): the event's incident updates
   * its notification with it. Returns how many alerts it queued.
   */
  onLateCause?: (db: Database, eventId: string, nowUs: number) => number;
}

interface Job {
  eventId: string;
  candidate: Candidate;
  enrichers: Enricher[];
}

export interface StageCounters {
  enriched: number;
  timedOut: number;
  failed: number;
  skipped: number;
  /** Answers that came after the alert went out and were stored. */
  late: number;
}

type Outcome = { section: EnrichmentSection; summary: string | null; late: Promise<Enrichment | null> | null };

export class EnrichmentStage {
  readonly counters: StageCounters = { enriched: 0, timedOut: 0, failed: 0, skipped: 0, late: 0 };
  private readonly options: EnrichmentStageOptions;
  private readonly queue: Job[] = [];
  private running = 0;
  private lateRunning = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stop = new AbortController();

  constructor(options: EnrichmentStageOptions) {
    this.options = options;
  }

  /** Whether any enricher wants this candidate (its alert is then queued as `enriching`). */
  wants(candidate: Candidate): boolean {
    return !this.stop.signal.aborted && this.options.enrichers.some((e) => e.applies(candidate));
  }

  get pending(): number {
    return this.queue.length + this.running;
  }

  /** Nothing queued, running or still looking late: a stop now cuts no enrichment short. */
  get quiet(): boolean {
    return this.pending === 0 && this.lateRunning === 0;
  }

  /** Call after the event's transaction committed. */
  enqueue(eventId: string, candidate: Candidate): void {
    const enrichers = this.options.enrichers.filter((e) => e.applies(candidate));
    if (enrichers.length === 0) return;
    if (this.stop.signal.aborted || this.pending >= (this.options.maxQueued ?? 64)) {
      this.counters.skipped++;
      this.finish(
        eventId,
        enrichers.map((e) => ({
          enricher: e.name,
          lines: [],
          evidence: null,
          missing: [`${e.name}: skipped, too many new events at once`],
        })),
        null,
      );
      return;
    }
    this.queue.push({ eventId, candidate, enrichers });
    this.pump();
  }

  private pump(): void {
    while (this.running < (this.options.concurrency ?? 4) && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.running++;
      const work = this.process(job).finally(() => {
        this.running--;
        this.inFlight.delete(work);
        this.pump();
      });
      this.inFlight.add(work);
    }
  }

  /** Waits for the jobs in flight (tests, shutdown); jobs still queued are released unenriched. */
  async close(): Promise<void> {
    this.stop.abort();
    for (const job of this.queue.splice(0)) {
      this.finish(
        job.eventId,
        job.enrichers.map((e) => ({
          enricher: e.name,
          lines: [],
          evidence: null,
          missing: [`${e.name}: not run, the daemon was stopping`],
        })),
        null,
      );
    }
    await Promise.all([...this.inFlight]);
    // Anything a crash of ours left behind goes out as it is.
    try {
      if (this.options.toNotification) releaseAllEnriching(this.options.db, this.options.toNotification);
    } catch {
      // The database is gone or locked; the next start releases them.
    }
  }

  /** Waits until nothing is queued or running (tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private async process(job: Job): Promise<void> {
    const nowUs = Date.now() * 1000;
    const results = await Promise.all(job.enrichers.map((e) => this.runOne(e, job, nowUs)));
    const summary = results.find((r) => r.summary)?.summary ?? null;
    this.finish(
      job.eventId,
      results.map((r) => r.section),
      summary,
    );
    this.counters.enriched++;
    // Late answers are waited for outside the concurrency slots: they hold no one up.
    for (const r of results) if (r.late) this.track(this.storeLate(job.eventId, r.section.enricher, r.late));
  }

  private track(work: Promise<void>): void {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /** A late answer with something in it: the event's section replaced, the incident told. */
  private async storeLate(eventId: string, enricher: string, late: Promise<Enrichment | null>): Promise<void> {
    const found = await late;
    if (found === null || found.lines.length === 0) return;
    const { db } = this.options;
    let queued = 0;
    try {
      db.transaction(() => {
        const nowUs = Date.now() * 1000;
        if (!replaceEnrichmentSection(db, eventId, sectionOf(enricher, found), found.summary ?? null, nowUs)) return;
        this.counters.late++;
        queued = this.options.onLateCause?.(db, eventId, nowUs) ?? 0;
      }).immediate();
    } catch (error) {
      this.options.log.warn(
        `could not store the late answer of enricher ${enricher} for event ${eventId}: ${error instanceof Error ? error.message : String(error)}`,
      );
      return;
    }
    this.options.log.debug(`enricher ${enricher} answered late for event ${eventId}; ${queued} update(s) queued`);
    if (queued > 0) this.options.onReleased?.();
  }

  /** Runs `later` for up to the late window (or until the daemon stops); null on no answer or failure. */
  private lateLook(later: NonNullable<Enrichment["later"]>): Promise<Enrichment | null> | null {
    const lateMs = this.options.lateMs ?? 60_000;
    if (lateMs <= 0 || this.stop.signal.aborted || this.lateRunning >= (this.options.maxLate ?? 16)) return null;
    this.lateRunning++;
    const controller = new AbortController();
    const onStop = () => controller.abort();
    this.stop.signal.addEventListener("abort", onStop, { once: true });
    const timer = setTimeout(() => controller.abort(), lateMs);
    const cutOff = new Promise<null>((resolve) => controller.signal.addEventListener("abort", () => resolve(null), { once: true }));
    let work: Promise<Enrichment | null>;
    try {
      work = later(controller.signal);
    } catch {
      work = Promise.resolve(null);
    }
    return Promise.race([work.catch(() => null), cutOff]).finally(() => {
      this.lateRunning--;
      clearTimeout(timer);
      controller.abort(); // its tools, if it is still running
      this.stop.signal.removeEventListener("abort", onStop);
    });
  }

  private async runOne(enricher: Enricher, job: Job, nowUs: number): Promise<Outcome> {
    const lateMs = this.options.lateMs ?? 60_000;
    const controller = new AbortController();
    let stopped = false;
    const onStop = () => {
      stopped = true;
      controller.abort();
    };
    this.stop.signal.addEventListener("abort", onStop, { once: true });
    // Daemon stopping, or the late window over too: the enricher's promise is abandoned (its
    // tools are killed through the signal) and its section says why.
    const cutOff = new Promise<"cut-off">((resolve) =>
      controller.signal.addEventListener("abort", () => resolve("cut-off"), { once: true }),
    );
    let softTimer: ReturnType<typeof setTimeout> | undefined;
    const timeUp = new Promise<"time-up">((resolve) => {
      softTimer = setTimeout(() => resolve("time-up"), enricher.timeoutMs);
    });
    const hardTimer = setTimeout(() => controller.abort(), enricher.timeoutMs + Math.max(0, lateMs));
    let cleaned = false;
    const cleanUp = () => {
      if (cleaned) return;
      cleaned = true;
      clearTimeout(softTimer);
      clearTimeout(hardTimer);
      this.stop.signal.removeEventListener("abort", onStop);
    };
    const section = (lines: string[], missing: string[]): EnrichmentSection => ({
      enricher: enricher.name,
      lines,
      evidence: null,
      missing,
    });
    const failed = (error: unknown): Outcome => {
      // A bug or an unexpected tool: the event keeps what the rule found and says what is missing.
      this.counters.failed++;
      const reason = error instanceof Error ? error.message : String(error);
      this.options.log.warn(`enricher ${enricher.name} failed for event ${job.eventId}: ${reason}`);
      return { section: section([], [`${enricher.name}: ${reason}`]), summary: null, late: null };
    };
    let work: Promise<Enrichment>;
    try {
      work = enricher.enrich(job.candidate, {
        runner: this.options.runner,
        db: this.options.db,
        memory: this.options.memory,
        instanceId: this.options.instanceId,
        eventId: job.eventId,
        nowUs,
        signal: controller.signal,
      });
    } catch (error) {
      cleanUp();
      return failed(error);
    }
    let outcome: Enrichment | "cut-off" | "time-up";
    try {
      outcome = await Promise.race([work, cutOff, timeUp]);
    } catch (error) {
      cleanUp();
      return failed(error);
    }
    if (outcome === "time-up" && !controller.signal.aborted) {
      this.counters.timedOut++;
      const missing = `${enricher.name}: no answer within ${enricher.timeoutMs / 1000}s`;
      if (lateMs <= 0 || this.lateRunning >= (this.options.maxLate ?? 16)) {
        controller.abort();
        cleanUp();
        return { section: section([], [missing]), summary: null, late: null };
      }
      // The alert goes now; the answer is still taken if it comes within the late window.
      this.lateRunning++;
      const late = Promise.race([work, cutOff])
        .then((o) => (o === "cut-off" ? null : o))
        .catch(() => null)
        .finally(() => {
          this.lateRunning--;
          controller.abort(); // its tools, if it is still running
          cleanUp();
        });
      return { section: section([], [`${missing} (still looking)`]), summary: null, late };
    }
    cleanUp();
    if (outcome === "cut-off" || outcome === "time-up") {
      controller.abort();
      if (!stopped) this.counters.timedOut++;
      const why = stopped ? "not finished, the daemon was stopping" : `no answer within ${enricher.timeoutMs / 1000}s`;
      return { section: section([], [`${enricher.name}: ${why}`]), summary: null, late: null };
    }
    return {
      section: sectionOf(enricher.name, outcome),
      summary: outcome.summary ?? null,
      late: outcome.later ? this.lateLook(outcome.later) : null,
    };
  }

  /** Writes what was found (if anything), then the event's alert from it, and releases that. */
  private finish(eventId: string, sections: EnrichmentSection[], summary: string | null): void {
    const { db, toNotification } = this.options;
    try {
      db.transaction(() => {
        saveEnrichment(db, eventId, { completedUs: Date.now() * 1000, sections }, summary);
        if (toNotification) releaseEnrichedAlert(db, eventId, toNotification);
      }).immediate();
    } catch (error) {
      // The event and its place in the queue are stored already; a failure here only costs the context.
      this.options.log.warn(
        `could not store the enrichment of event ${eventId}: ${error instanceof Error ? error.message : String(error)}`,
      );
      try {
        if (toNotification) db.transaction(() => releaseEnrichedAlert(db, eventId, toNotification)).immediate();
      } catch {
        // Released on the next start.
      }
    }
    this.options.onReleased?.();
  }
}

function sectionOf(name: string, e: Enrichment): EnrichmentSection {
  return { enricher: name, lines: e.lines, evidence: e.evidence ?? null, missing: e.missing ?? [] };
}
