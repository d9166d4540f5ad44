import type { Database } from "bun:sqlite";
import type { Candidate } from "../event.ts";
import type { Runner } from "../run.ts";
import type { MemoryHistory } from "../host/memory-history.ts";

// Enrichers gather the *why* of an event after it is stored: the memory hog behind an OOM
// kill, a crash's backtrace, a failed unit's last lines, a failing disk's SMART state. Each
// runs under the stage's timeout (enrich/stage.ts); what it could not gather it says in
// `missing`, so the alert tells the user what is unknown instead of silently leaving it out.
// An answer that comes after the timeout, within the stage's late window, still counts: the
// event is completed and the incident's notification updated in place.

export interface EnrichContext {
  /** The only way to run a tool (coredumpctl, journalctl -u, smartctl); aborts with `signal`. */
  runner: Runner;
  /** The event database, for reading history ("occurred 3 times in 24 h", the OOM kill before a SIGKILL). */
  db: Database;
  /** The PSI monitor's record of the last minutes; null when memory-pressure monitoring is off. */
  memory: MemoryHistory | null;
  instanceId: string;
  /** The stored event being enriched. */
  eventId: string;
  /** When enrichment started, µs since the epoch. */
  nowUs: number;
  /** Aborted when the enricher's time is up or the daemon stops. */
  signal: AbortSignal;
}

export interface Enrichment {
  /** Lines for the event's detail (and so the alert body and `show`), in reading order. */
  lines: string[];
  /** A better one-line summary, when the enricher found what the rule could not (the cause). */
  summary?: string;
  /** The numbers each conclusion rests on, kept with the event (`show --json`). */
  evidence?: Record<string, unknown>;
  /** What could not be gathered, in words ("coredumpctl is not installed: no backtrace"). */
  missing?: string[];
  /**
   * What was not found in time may still come (a large core is still being written): the stage
   * calls this after the alert went out, for up to its late window, and an answer with lines
   * replaces this one and updates the alert in place. Null: nothing came.
   */
  later?: (signal: AbortSignal) => Promise<Enrichment | null>;
}

export interface Enricher {
  readonly name: string;
  /** Time allowed, including any tool it runs; the alert waits at most this long for it. */
  readonly timeoutMs: number;
  applies(candidate: Candidate): boolean;
  enrich(candidate: Candidate, ctx: EnrichContext): Promise<Enrichment>;
}
