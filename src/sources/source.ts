import type { Entry, SourceName, SourceStats } from "../event.ts";

// The interface every live source implements (sources/journal.ts, sources/kmsg.ts). A
// source yields entries in batches rather than one by one: at a storm's 100k entries/s an
// `await` per entry is most of the cost, and a batch is also the natural unit of a commit.

export interface SourceBatch {
  /** The entries read, in order; may be empty when every line read was irrelevant. */
  entries: Entry[];
  /**
   * Where to resume to continue right after everything read so far (skipped lines included):
   * a journal cursor, or `kmsg:<boot id>:<seq>`. Null while nothing has been read.
   */
  position: string | null;
}

export interface Source {
  readonly name: SourceName;
  readonly stats: SourceStats;
  /**
   * Batches from just after the position the source was created with, until `signal` aborts
   * (then the iterator returns). Bad records are counted, never thrown; a reader that dies is
   * restarted by the source itself (with backoff), so the iterator only ends on abort.
   */
  batches(signal: AbortSignal): AsyncIterable<SourceBatch>;
}

export function newSourceStats(): SourceStats {
  return { recordsRead: 0, malformed: 0, lost: 0, restarts: 0, lastError: null, lastReadUs: null, running: false };
}
