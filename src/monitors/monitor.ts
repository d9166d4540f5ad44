import type { Candidate } from "../event.ts";

// A monitor watches something that is not a log (PSI, SMART, timers) and says when it has
// something to report. Unlike a log source it has no position to resume from: it reads the
// system's state as it is now, and remembers what it needs across restarts itself (see
// store/monitor-state.ts). What it emits is committed at once, in its own transaction, by the
// pipeline that also stores the log's events (Pipeline.submit), so it shares the cooldown,
// the outbox and the enrichment stage.

export interface Monitor {
  readonly name: string;
  /** Runs until `signal` aborts. Must not throw for what it finds on the system; log and go on. */
  run(signal: AbortSignal, emit: (candidate: Candidate) => void): Promise<void>;
}
