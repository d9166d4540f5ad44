import type { Entry } from "../event.ts";
import { sleep } from "../sleep.ts";
import type { Source, SourceBatch } from "./source.ts";

// The kernel fast path: /dev/kmsg read beside the journal, so a kernel event (an OOM kill, a
// segfault) is classified the moment the kernel prints it instead of after journald has stored
// it and its follower woken up (journald coalesces change notifications for 250 ms:
// POST_CHANGE_TIMER_INTERVAL_USEC in journald-server.c, systemd 252). Every kernel record
// then arrives twice, and must be stored once.
//
// How a copy is recognized: journald stores a kmsg record with _TRANSPORT=kernel, _BOOT_ID and
// _SOURCE_MONOTONIC_TIMESTAMP = the record's own time since boot in µs (dev_kmsg_record() in
// journald-kmsg.c; it keeps the record's sequence number only to notice gaps, not in the
// entry). So (boot id, kernel µs) is the key both copies share.
//
// Who stores which copy — the "ledger", one per boot:
// - The kmsg path owns the records it has read and *committed*: for each boot it saves the
//   µs ranges of runs of consecutive sequence numbers it stored (a gap in the sequence — ring
//   buffer overrun, records overwritten while the daemon was down, a record it skipped —
//   starts a new range), and its frontier, the newest µs it has decided on. This is saved in
//   the same transaction as its `kmsg:<boot>:<seq>` position, so after kill -9 position and
//   ranges agree.
// - The journal path, for each kernel entry: inside a committed range → the kmsg copy is
//   stored, drop this one. Older than the frontier but in no range → the kmsg path lost or
//   never read it (overrun, before the fast path started, a previous boot's tail after the
//   machine died) → keep it. Newer than the frontier of the running boot → the kmsg path will
//   read it or declare it lost: wait (the journal is 250 ms behind anyway; the kmsg path
//   commits within its quiet time). A kmsg reader that is down, or has not decided within
//   `maxWaitMs`, hands the record to the journal path: the journal path keeps it and records
//   a claim (the newest µs it took this way), saved with its own cursor, and the kmsg path
//   skips records at or below a claim when it reads them later.
// Both paths run their own pipeline (their own kernel report assembler: a report's lines come
// in order on each copy), commit their own position, and never wait for each other's commit
// except in that one case. Limits, said plainly: two records printed in the same microsecond
// at the very edge of a lost run can be mistaken for one another; a record journald also
// missed while the journal path held a claim is lost to both (the kmsg path was down anyway).

/** Cursor-table rows each path saves beside its position. */
export const KMSG_LEDGER_ROW = "kernel-ledger:kmsg";
export const JOURNAL_CLAIM_ROW = "kernel-ledger:journal";

const MAX_BOOTS = 4;
const MAX_RANGES = 64;

interface Run {
  loUs: number;
  hiUs: number;
  loSeq: number;
  hiSeq: number;
}

interface BootCoverage {
  /** Newest kernel µs the kmsg path has decided on (stored, skipped or lost); -1: none yet. */
  frontierUs: number;
  runs: Run[];
}

type Coverage = Map<string, BootCoverage>;

/** Boot ids come with dashes from /proc and without from the journal. */
export function normalizeBootId(bootId: string | null): string | null {
  return bootId ? bootId.replaceAll("-", "").toLowerCase() : null;
}

function cloneCoverage(c: Coverage): Coverage {
  return new Map([...c].map(([boot, b]) => [boot, { frontierUs: b.frontierUs, runs: b.runs.map((r) => ({ ...r })) }]));
}

/** The kmsg path's saved ranges: `{"v":1,"boots":{"<boot>":{"f":µs,"r":[[loUs,hiUs,loSeq,hiSeq],…]}}}`. */
export function serializeCoverage(c: Coverage): string {
  const boots: Record<string, { f: number; r: number[][] }> = {};
  for (const [boot, b] of [...c].slice(-MAX_BOOTS))
    boots[boot] = { f: b.frontierUs, r: b.runs.slice(-MAX_RANGES).map((r) => [r.loUs, r.hiUs, r.loSeq, r.hiSeq]) };
  return JSON.stringify({ v: 1, boots });
}

/** Null text or text that is not a saved ledger: an empty one (the journal path then keeps everything older). */
export function parseCoverage(text: string | null): Coverage {
  const c: Coverage = new Map();
  if (!text) return c;
  try {
    const parsed = JSON.parse(text) as { v?: unknown; boots?: Record<string, { f?: unknown; r?: unknown }> };
    if (parsed.v !== 1 || typeof parsed.boots !== "object" || parsed.boots === null) return c;
    for (const [boot, b] of Object.entries(parsed.boots)) {
      if (typeof b.f !== "number" || !Array.isArray(b.r)) continue;
      const runs = (b.r as unknown[])
        .filter((r): r is number[] => Array.isArray(r) && r.length === 4 && r.every((n) => typeof n === "number"))
        .map(([loUs, hiUs, loSeq, hiSeq]) => ({ loUs: loUs!, hiUs: hiUs!, loSeq: loSeq!, hiSeq: hiSeq! }));
      c.set(boot, { frontierUs: b.f, runs });
    }
  } catch {
    // A damaged row: start with an empty ledger (duplicates are possible, nothing is lost).
  }
  return c;
}

/** `<boot>:<µs>`: the newest kernel record the journal path took while the kmsg path could not. */
export function parseClaim(text: string | null): { bootId: string; us: number } | null {
  const m = text ? /^([0-9a-f]+):(\d+)$/.exec(text) : null;
  return m ? { bootId: m[1] as string, us: Number(m[2]) } : null;
}

export type JournalDecision = "keep" | "drop" | "wait";

/**
 * What the journal path does with a kernel entry of `bootId` at kernel time `us`, given the
 * kmsg path's committed coverage. Pure. `runningBoot`: the boot the kmsg path reads now.
 */
export function decideJournalCopy(coverage: Coverage, bootId: string, us: number, runningBoot: string | null): JournalDecision {
  const b = coverage.get(bootId);
  if (b === undefined) return bootId === runningBoot ? "wait" : "keep";
  for (let i = b.runs.length - 1; i >= 0; i--) {
    const r = b.runs[i] as Run;
    if (us >= r.loUs && us <= r.hiUs) return "drop";
  }
  if (us <= b.frontierUs) return "keep";
  return bootId === runningBoot ? "wait" : "keep";
}

export interface KernelLedgerOptions {
  /** This boot, as /proc says it (dashes allowed). */
  bootId: string | null;
  /** The saved rows (KMSG_LEDGER_ROW, JOURNAL_CLAIM_ROW), null when absent. */
  savedCoverage: string | null;
  savedClaim: string | null;
}

export interface KernelLedgerCounters {
  /** Journal copies of kernel records dropped because the kmsg copy was stored. */
  journalDropped: number;
  /** Journal kernel entries kept (the kmsg path lost them, or never read them). */
  journalKept: number;
  /** Journal kernel entries taken over while the kmsg path was down or slow. */
  journalClaimed: number;
  /** kmsg records skipped because the journal path had taken them. */
  kmsgSkipped: number;
  /** Time the journal path spent waiting for the kmsg path, ms. */
  journalWaitMs: number;
  /** Waits that ran out (the kmsg path did not decide in time). */
  journalWaitsTimedOut: number;
}

/** The shared state of the two paths (see the comment at the top). */
export class KernelLedger {
  readonly bootId: string | null;
  readonly counters: KernelLedgerCounters = {
    journalDropped: 0,
    journalKept: 0,
    journalClaimed: 0,
    kmsgSkipped: 0,
    journalWaitMs: 0,
    journalWaitsTimedOut: 0,
  };
  /** What the kmsg path has read, committed or not. */
  private read: Coverage;
  /** What the kmsg path has committed: what the journal path decides on. */
  private committed: Coverage;
  /** Coverage as of each position the kmsg path handed on and has not committed yet. */
  private snapshots = new Map<string, Coverage>();
  private claimUs: number | null = null;
  private waiters: (() => void)[] = [];

  constructor(options: KernelLedgerOptions) {
    this.bootId = normalizeBootId(options.bootId);
    this.committed = parseCoverage(options.savedCoverage);
    this.read = cloneCoverage(this.committed);
    const claim = parseClaim(options.savedClaim);
    if (claim && claim.bootId === this.bootId) this.claimUs = claim.us;
  }

  private bootOf(c: Coverage): BootCoverage | null {
    if (this.bootId === null) return null;
    let b = c.get(this.bootId);
    if (!b) {
      b = { frontierUs: -1, runs: [] };
      c.set(this.bootId, b);
    }
    return b;
  }

  // ---- the kmsg path ----

  /** The kmsg reader skipped the buffer up to a record at `us` (a first start at the tail). */
  kmsgTail(us: number): void {
    const b = this.bootOf(this.read);
    if (b) b.frontierUs = Math.max(b.frontierUs, us);
  }

  /** True when the journal path has taken this record; the kmsg path then skips it. */
  kmsgShouldSkip(us: number): boolean {
    if (this.claimUs === null || us > this.claimUs) return false;
    this.counters.kmsgSkipped++;
    const b = this.bootOf(this.read);
    if (b) b.frontierUs = Math.max(b.frontierUs, us);
    return true;
  }

  /** The kmsg path hands on the record `seq` at `us`. */
  kmsgStored(seq: number, us: number): void {
    const b = this.bootOf(this.read);
    if (!b) return;
    const last = b.runs.at(-1);
    if (last && seq === last.hiSeq + 1) {
      last.hiSeq = seq;
      last.hiUs = Math.max(last.hiUs, us);
      last.loUs = Math.min(last.loUs, us);
    } else {
      b.runs.push({ loUs: us, hiUs: us, loSeq: seq, hiSeq: seq });
      if (b.runs.length > MAX_RANGES) b.runs.shift();
    }
    b.frontierUs = Math.max(b.frontierUs, us);
  }

  /** The kmsg path handed on a batch ending at `position`: remember the coverage as of it. */
  kmsgBatchEnd(position: string): void {
    this.snapshots.set(position, cloneCoverage(this.read));
  }

  /** The ledger row to save in the transaction that commits the kmsg path at `position`. */
  kmsgRow(position: string): { name: string; position: string } {
    return { name: KMSG_LEDGER_ROW, position: serializeCoverage(this.snapshots.get(position) ?? this.committed) };
  }

  /** Commits of the kmsg path so far: the journal path sees whether it is making progress. */
  kmsgCommits = 0;

  /** That transaction went through: the journal path may now drop what it covers. */
  kmsgCommitted(position: string): void {
    this.kmsgCommits++;
    const snapshot = this.snapshots.get(position);
    if (snapshot) {
      this.committed = snapshot;
      // Older snapshots (insertion order) are superseded.
      for (const key of this.snapshots.keys()) {
        this.snapshots.delete(key);
        if (key === position) break;
      }
    }
    for (const wake of this.waiters.splice(0)) wake();
  }

  // ---- the journal path ----

  /** Decide on a journal kernel entry; "wait" means ask again after the kmsg path's next commit. */
  journalDecision(entry: Entry): JournalDecision {
    const bootId = normalizeBootId(entry.bootId);
    const us = Number(entry.fields["_SOURCE_MONOTONIC_TIMESTAMP"] ?? NaN);
    if (bootId === null || !Number.isFinite(us)) return "keep";
    return decideJournalCopy(this.committed, bootId, us, this.bootId);
  }

  /** The journal path takes a record the kmsg path has not decided on. */
  journalClaim(entry: Entry): void {
    const us = Number(entry.fields["_SOURCE_MONOTONIC_TIMESTAMP"] ?? NaN);
    if (!Number.isFinite(us)) return;
    this.counters.journalClaimed++;
    this.claimUs = Math.max(this.claimUs ?? -1, us);
  }

  /** The claim row to save with the journal path's cursor; null while it has claimed nothing. */
  journalRow(): { name: string; position: string } | null {
    return this.claimUs === null || this.bootId === null ? null : { name: JOURNAL_CLAIM_ROW, position: `${this.bootId}:${this.claimUs}` };
  }

  /** Resolves at the kmsg path's next commit, or after `ms`. */
  async nextCommit(ms: number, signal: AbortSignal): Promise<void> {
    let wake!: () => void;
    const committed = new Promise<void>((resolve) => (wake = resolve));
    this.waiters.push(wake);
    await Promise.race([committed, sleep(ms, signal)]);
    this.waiters = this.waiters.filter((w) => w !== wake);
  }
}

/**
 * The kmsg source, recording in the ledger what it hands on and skipping what the journal
 * path has taken. Positions pass through unchanged.
 */
export function withKmsgLedger(source: Source, ledger: KernelLedger): Source {
  return {
    name: source.name,
    stats: source.stats,
    async *batches(signal: AbortSignal): AsyncGenerator<SourceBatch> {
      for await (const batch of source.batches(signal)) {
        const entries: Entry[] = [];
        for (const entry of batch.entries) {
          const seq = Number(entry.fields["_KMSG_SEQ"] ?? NaN);
          const us = entry.monotonicUs;
          if (us === null || !Number.isSafeInteger(seq)) {
            entries.push(entry);
            continue;
          }
          if (ledger.kmsgShouldSkip(us)) continue;
          ledger.kmsgStored(seq, us);
          entries.push(entry);
        }
        if (batch.position !== null) ledger.kmsgBatchEnd(batch.position);
        yield { entries, position: batch.position };
      }
    },
  };
}

export interface JournalLedgerOptions {
  /** Longest the journal path waits for the kmsg path to decide on one record. Default 5 s. */
  maxWaitMs?: number;
  /** True while the kmsg reader is up; when it is down the journal path does not wait. */
  kmsgRunning: () => boolean;
}

/**
 * The journal source with the kmsg path's copies dropped. A batch that holds a kernel entry the
 * kmsg path has not decided on waits for it (see the top of this file), so the journal path
 * stays behind the kmsg path, never ahead of it.
 */
export function withJournalLedger(source: Source, ledger: KernelLedger, options: JournalLedgerOptions): Source {
  const maxWaitMs = options.maxWaitMs ?? 5_000;
  return {
    name: source.name,
    stats: source.stats,
    async *batches(signal: AbortSignal): AsyncGenerator<SourceBatch> {
      // After a wait ran out, the kmsg path is behind: later records do not wait again (one
      // timeout per stall, not one per record of an OOM report) until it commits again.
      let stalledAtCommits: number | null = null;
      for await (const batch of source.batches(signal)) {
        const entries: Entry[] = [];
        for (const entry of batch.entries) {
          if (entry.transport !== "kernel") {
            entries.push(entry);
            continue;
          }
          let decision = ledger.journalDecision(entry);
          const startedMs = Date.now();
          if (stalledAtCommits !== null && stalledAtCommits !== ledger.kmsgCommits) stalledAtCommits = null;
          while (decision === "wait" && !signal.aborted) {
            const waitedMs = Date.now() - startedMs;
            if (!options.kmsgRunning() || waitedMs >= maxWaitMs || stalledAtCommits !== null) {
              if (waitedMs >= maxWaitMs) {
                stalledAtCommits = ledger.kmsgCommits;
                ledger.counters.journalWaitsTimedOut++;
              }
              ledger.journalClaim(entry);
              decision = "keep";
              break;
            }
            await ledger.nextCommit(Math.min(100, maxWaitMs - waitedMs), signal);
            decision = ledger.journalDecision(entry);
          }
          ledger.counters.journalWaitMs += Date.now() - startedMs;
          if (signal.aborted) return;
          if (decision === "drop") {
            ledger.counters.journalDropped++;
            continue;
          }
          ledger.counters.journalKept++;
          entries.push(entry);
        }
        yield { entries, position: batch.position };
      }
    },
  };
}

export interface FastPathPlan {
  on: boolean;
  /** Why it is on or off, in words (start summary, `status`, `doctor`). */
  reason: string;
}

/**
 * Whether to read /dev/kmsg beside the journal. Pure: `use` is `[sources] use`, `selected` the
 * source the daemon reads, `kmsgProblem` why /dev/kmsg cannot be opened (null: it can).
 */
export function planFastPath(
  use: "auto" | "journal" | "kmsg",
  selected: "journal" | "kmsg" | null,
  kmsgProblem: string | null,
): FastPathPlan {
  if (selected !== "journal")
    return {
      on: false,
      reason: selected === "kmsg" ? "/dev/kmsg is the only source: kernel events are read from it directly" : "no log source",
    };
  if (use === "journal")
    return {
      on: false,
      reason: `[sources] use = "journal" reads kernel events from the journal only (about 0.3 s later); "auto" adds /dev/kmsg where it is readable`,
    };
  if (kmsgProblem !== null)
    return {
      on: false,
      reason: `${kmsgProblem}; kernel events come from the journal only (about 0.3 s later) — the system unit (root) gets the fast path`,
    };
  return {
    on: true,
    reason:
      "/dev/kmsg is read beside the journal: kernel events are classified as the kernel prints them, the journal's copies are dropped",
  };
}
