import type { Candidate } from "../event.ts";
import { explainSqliteError } from "../store/sqlite-errors.ts";
import type { Triage } from "../classify/triage.ts";
import type { UnitStart } from "../classify/unit-history.ts";
import type { Source, SourceBatch } from "../sources/source.ts";
import { sleep } from "../sleep.ts";
import type { EventWriter } from "./writer.ts";

// Source → assemble/classify (Triage) → store, with exactly-once delivery into the database:
// events, their outbox rows and the source's resume position commit in one transaction, and
// only at a quiet point — when no kernel report is half read. While one is open, candidates
// from other entries wait in memory with it; a crash then loses only uncommitted work, which
// the source reads again from the committed position. Nothing is lost, nothing is doubled.

export interface PipelineLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface PipelineOptions {
  source: Source;
  triage: Triage;
  writer: EventWriter;
  log: PipelineLog;
  /** A report still open after this long with no new entries is closed as it is. Default 500 ms. */
  quietFlushMs?: number;
  /**
   * More cursor-table rows to save in the same transaction as `position` (the kernel fast
   * path's ledger, sources/kernel-dedupe.ts), and a call once that transaction went through.
   */
  sideRows?: (position: string | null) => { name: string; position: string }[];
  onCommitted?: (position: string | null) => void;
  /** Units started again, read in what was just committed: they may end their incidents. */
  onUnitStarts?: (starts: UnitStart[]) => void;
}

export interface PipelineCounters {
  entries: number;
  candidates: number;
  eventsNew: number;
  occurrences: number;
  alertsQueued: number;
  commits: number;
  commitFailures: number;
  /** Entries the triage threw on (a bug), skipped. */
  triageErrors: number;
  /** Journal/kernel time of the last entry processed, µs. */
  lastEntryUs: number | null;
  /** Processing time minus entry time for that entry, µs. */
  lagUs: number | null;
  committedPosition: string | null;
}

const TIMEOUT = Symbol("timeout");
const COMMIT_RETRY_MAX_MS = 30_000;

export class Pipeline {
  readonly counters: PipelineCounters = {
    entries: 0,
    candidates: 0,
    eventsNew: 0,
    occurrences: 0,
    alertsQueued: 0,
    commits: 0,
    commitFailures: 0,
    triageErrors: 0,
    lastEntryUs: null,
    lagUs: null,
    committedPosition: null,
  };
  private readonly options: PipelineOptions;
  /** Candidates classified but not committed: a kernel report is open. */
  private held: Candidate[] = [];
  /** The source position as of the last entry handed to the triage. */
  private readPosition: string | null = null;
  /** Wall clock (ms) of the last kernel entry: a report only grows by kernel lines. */
  private lastKernelEntryMs = 0;

  constructor(options: PipelineOptions) {
    this.options = options;
  }

  get heldCandidates(): number {
    return this.held.length;
  }

  /** Runs until `signal` aborts and the source ends; commits what is complete before returning. */
  async run(signal: AbortSignal): Promise<void> {
    const quietMs = this.options.quietFlushMs ?? 500;
    const batches = this.options.source.batches(signal)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = batches.next();
        let result: IteratorResult<SourceBatch> | typeof TIMEOUT = this.options.triage.assembler.isOpen
          ? await Promise.race([next, sleep(quietMs).then((): typeof TIMEOUT => TIMEOUT)])
          : await next;
        while (result === TIMEOUT) {
          // A quiet stream with a report open (a segfault line whose `Code:` line never
          // came): close it as it is, rather than wait for the next kernel line.
          this.take(this.options.triage.flush(Date.now() * 1000));
          await this.commitIfQuiet(signal);
          result = await next;
        }
        if (result.done) break;
        this.handle(result.value);
        // A report open while other entries keep coming (a storm of userspace lines never
        // lets the stream go quiet): close it once no kernel line has come for the quiet time.
        if (this.options.triage.assembler.isOpen && Date.now() - this.lastKernelEntryMs > quietMs)
          this.take(this.options.triage.flush(Date.now() * 1000));
        await this.commitIfQuiet(signal);
      }
    } finally {
      // Stopping: what is complete was committed; a report still open is not, and is read
      // again from the committed position on the next start.
      if (this.held.length)
        this.options.log.info(
          `stopping with a kernel report half read: ${this.held.length} event(s) held back will be read again on the next start`,
        );
    }
  }

  private handle(batch: SourceBatch): void {
    const nowUs = Date.now() * 1000;
    for (const entry of batch.entries) {
      this.counters.entries++;
      if (entry.transport === "kernel") this.lastKernelEntryMs = nowUs / 1000;
      let candidates: Candidate[];
      try {
        candidates = this.options.triage.push(entry, nowUs);
      } catch (error) {
        // A bug of ours met an entry it did not expect: skip that entry, keep the daemon.
        this.counters.triageErrors++;
        if (this.counters.triageErrors <= 10)
          this.options.log.error(
            `could not classify entry ${entry.cursor ?? "(no cursor)"}, skipped: ${error instanceof Error ? error.message : String(error)} — please report it`,
          );
        continue;
      }
      this.take(candidates);
      if (entry.realtimeUs !== null) {
        this.counters.lastEntryUs = entry.realtimeUs;
        this.counters.lagUs = Math.max(0, nowUs - entry.realtimeUs);
      }
    }
    this.readPosition = batch.position;
  }

  private take(candidates: Candidate[]): void {
    this.counters.candidates += candidates.length;
    for (const c of candidates) this.held.push(c);
  }

  private async commitIfQuiet(signal: AbortSignal): Promise<void> {
    if (this.options.triage.assembler.isOpen) return;
    const position = this.readPosition;
    if (this.held.length === 0 && (position === null || position === this.counters.committedPosition)) return;
    // A failing commit (disk full, database locked) is retried, and reading waits meanwhile:
    // the journal keeps what we have not read, so back-pressure loses nothing.
    let delayMs = 500;
    for (;;) {
      try {
        this.commit(this.held, position);
        this.held = [];
        return;
      } catch (error) {
        this.counters.commitFailures++;
        this.options.log.error(
          `cannot store events (${explainSqliteError(error)?.message ?? (error instanceof Error ? error.message : String(error))}); retrying in ${delayMs / 1000}s — nothing is lost meanwhile, reading waits`,
        );
        await sleep(delayMs, signal);
        if (signal.aborted) return;
        delayMs = Math.min(delayMs * 2, COMMIT_RETRY_MAX_MS);
      }
    }
  }

  private commit(candidates: Candidate[], position: string | null): void {
    const result = this.options.writer.commit(
      candidates,
      position === null ? null : { name: this.options.source.name, position },
      this.options.sideRows?.(position) ?? [],
    );
    this.options.onCommitted?.(position);
    // After the commit: the failure a start ends is stored before the start is looked at.
    const starts = this.options.triage.takeUnitStarts();
    if (starts.length > 0) this.options.onUnitStarts?.(starts);
    this.counters.commits++;
    this.counters.eventsNew += result.created;
    this.counters.occurrences += result.folded;
    this.counters.alertsQueued += result.queued;
    this.counters.committedPosition = position ?? this.counters.committedPosition;
  }
}
