// The shared vocabulary of the pipeline: what a source yields (Entry), what classification
// produces (Candidate) and what the store keeps (Event). Every stage speaks these types.

export const TIERS = ["T1", "T2", "T3", "T4", "T5"] as const;
export type Tier = (typeof TIERS)[number];

export const TIER_NAMES: Record<Tier, string> = {
  T1: "OOM kill",
  T2: "process crash",
  T3: "service failure",
  T4: "kernel/hardware error",
  T5: "memory pressure",
};

export const SEVERITIES = ["critical", "high", "medium", "warning"] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Where an entry was read from; decides what its cursor means. */
export type EntryOrigin = "journal" | "kmsg" | "dmesg";

/**
 * One normalized log record, whatever its source. Journal JSON quirks (byte-array values,
 * repeated fields, nulls) are resolved once, in parse/journal-json.ts; nothing downstream
 * looks at raw JSON.
 */
export interface Entry {
  origin: EntryOrigin;
  /** Wall-clock time in microseconds since the epoch, when the source knows it. */
  realtimeUs: number | null;
  /** Microseconds since boot (journal __MONOTONIC_TIMESTAMP, kmsg usec, dmesg [sec.usec]). */
  monotonicUs: number | null;
  /** Journal __CURSOR, or `kmsg:<boot id>:<seq>` for kernel records; null for plain text. */
  cursor: string | null;
  bootId: string | null;
  /** journald _TRANSPORT: "kernel", "journal", "syslog", "stdout", "audit", "driver". */
  transport: string | null;
  /** syslog priority 0 (emerg) .. 7 (debug). */
  priority: number | null;
  /** SYSLOG_IDENTIFIER, or "kernel" for kernel records. */
  identifier: string | null;
  /**
   * The unit the entry is *about*: UNIT= (system manager) or USER_UNIT= (user manager) when
   * systemd writes about a unit, else the sender's own _SYSTEMD_UNIT / _SYSTEMD_USER_UNIT.
   */
  unit: string | null;
  pid: number | null;
  comm: string | null;
  message: string;
  messageId: string | null;
  /** All fields as strings (multi-valued fields joined with "\n"); the raw record for `show`. */
  fields: Record<string, string>;
}

/** What the kernel OOM report says, parsed (see parse/oom-report.ts). */
export interface OomTask {
  pid: number;
  uid: number | null;
  name: string;
  rssKb: number;
  totalVmKb: number | null;
  oomScoreAdj: number | null;
}

export interface OomVictim {
  name: string;
  pid: number;
  uid: number | null;
  totalVmKb: number | null;
  anonRssKb: number | null;
  fileRssKb: number | null;
  shmemRssKb: number | null;
  oomScoreAdj: number | null;
}

export interface OomReport {
  trigger: { name: string; pid: number | null; gfpMask: string | null; order: number | null; oomScoreAdj: number | null } | null;
  victim: OomVictim | null;
  /** CONSTRAINT_NONE, CONSTRAINT_MEMCG, CONSTRAINT_CPUSET, CONSTRAINT_MEMORY_POLICY; null on kernels without the oom-kill: line and no other clue. */
  constraint: string | null;
  /** The cgroup whose limit was hit (oom_memcg=, or "Task in X killed as a result of limit of Y"). */
  memcg: string | null;
  /** The victim's own cgroup (task_memcg=). */
  taskMemcg: string | null;
  /** Global reports: RAM from "N pages RAM"; memcg reports: the cgroup limit. */
  memTotalKb: number | null;
  memFreeKb: number | null;
  /** memcg reports: "memory: usage X kB, limit Y kB". */
  memcgUsageKb: number | null;
  memcgLimitKb: number | null;
  /** Largest tasks by RSS from the `Tasks state` table, biggest first. */
  topTasks: OomTask[];
  /** False when the report was cut off before its `Killed process` line. */
  complete: boolean;
}

export interface CrashInfo {
  process: string;
  pid: number | null;
  /** "segfault", "trap", "general protection fault", a signal name from a coredump... */
  fault: string;
  /** Faulting binary or library, e.g. "libc.so.6". */
  object: string | null;
  address: string | null;
  ip: string | null;
  code: string | null;
}

/** Structured facts a rule or report found; a union so consumers switch exhaustively. */
export type Facts =
  | { kind: "oom-kill"; oom: OomReport }
  | { kind: "userspace-oom-kill"; killer: string; victim: string | null; pid: number | null; cgroup: string | null }
  | { kind: "crash"; crash: CrashInfo }
  | { kind: "unit"; unit: string; result: string | null; exitCode: string | null; exitStatus: string | null; restartCount: number | null }
  | { kind: "kernel"; device: string | null; lines: string[] }
  | { kind: "probe"; probe: ProbeFacts }
  | { kind: "memory-pressure"; pressure: PressureFacts }
  | { kind: "smart"; disk: SmartSummary; changes: string[] }
  | { kind: "blindness"; blindness: BlindnessFacts }
  | { kind: "previous-boot"; boot: PreviousBootFacts }
  | { kind: "plain" };

/** How the previous boot ended (monitors/previous-boot.ts). */
export interface PreviousBootFacts {
  bootId: string;
  /** The last entry of that boot (µs). */
  endUs: number | null;
  clean: boolean;
  /** Kernel logs kept in pstore from that crash: path, kind and headline. */
  pstore: { path: string; kind: string; headline: string | null }[];
  /** The last T1–T4 events logtriage stored during that boot, newest first. */
  lastEvents: string[];
  /** The journal's last lines, oldest first. */
  lastLines: string[];
}

/** What logtriage's own sight depends on (daemon/blindness.ts). */
export type BlindSubject = "source" | "journald" | "database" | "kernel-ring-buffer";

/**
 * logtriage's own blindness, as an event. `subject` is stable, and a "blind" is followed by one
 * "sees-again" of the same subject, so the two can be paired; "restarted" and "lost-records" are
 * moments with no pair (journald came back under another pid before anyone saw it gone; the
 * kernel ring buffer overwrote records before they were read).
 */
export interface BlindnessFacts {
  subject: BlindSubject;
  state: "blind" | "sees-again" | "restarted" | "lost-records";
  /** Why, in words: "journald (pid 312) is gone", the source's last error... */
  cause: string;
  /** What the user can do about it, when there is something ("add the user to group systemd-journal"). */
  fix: string | null;
  /** When the blindness began (for "sees-again": the blindness that ended). */
  blindSinceUs: number;
  /** "sees-again": how long it lasted; null otherwise. */
  blindForMs: number | null;
  /** "sees-again": what was read again once it could see, in words; "lost-records": how many. */
  reread: string | null;
}

/** One disk's SMART state as `smartctl --json -a` reports it (parse/smartctl.ts). Counters are null where the protocol has none. */
export interface SmartSummary {
  /** As smartctl names it: "/dev/sda", "/dev/nvme0". */
  device: string;
  model: string | null;
  serial: string | null;
  protocol: "ATA" | "NVMe" | "SCSI";
  /** smart_status.passed; null when the disk gave no overall verdict. */
  healthPassed: boolean | null;
  /** ATA attribute 5 raw (Reallocated_Sector_Ct); SCSI grown defect list. */
  reallocated: number | null;
  /** ATA attribute 197 raw (Current_Pending_Sector). */
  pending: number | null;
  /** ATA attribute 198 raw (Offline_Uncorrectable). */
  offlineUncorrectable: number | null;
  /** NVMe SMART log critical_warning bit field (0 = none). */
  nvmeCriticalWarning: number | null;
  /** NVMe media_errors; SCSI uncorrected read + write + verify errors. */
  mediaErrors: number | null;
  temperatureC: number | null;
  powerOnHours: number | null;
  /** smartctl's exit status, a bit mask (parse/smartctl.ts describeExitStatus). */
  exitStatus: number;
}

/** One memory-pressure episode as the PSI monitor saw it (monitors/psi.ts). */
export interface PressureFacts {
  startUs: number;
  endUs: number;
  /** False when the daemon stopped while the episode was still going. */
  ended: boolean;
  readings: number;
  peakSomeAvg10: number;
  peakFullAvg10: number | null;
  /** The thresholds it was judged by (from [psi]). */
  warnSomeAvg10: number;
  warnFullAvg10: number;
  lowestMemAvailableKb: number | null;
  memTotalKb: number | null;
  highestSwapUsedKb: number | null;
  /** The largest processes at the peak, biggest first. */
  topAtPeak: { pid: number; comm: string; rssKb: number; owner: string | null }[];
}

/** A health probe's transition (monitors/probes.ts): unhealthy after N failed checks, or healthy again. */
export interface ProbeFacts {
  service: string;
  state: "unhealthy" | "healthy";
  healthUrl: string;
  /** The check that made the transition, in words ("HTTP 503 (expected 200)", "connection refused"). */
  check: string;
  /** Failed checks in a row behind an "unhealthy"; 0 for "healthy". */
  failedChecks: number;
  /** The machine at that moment in one line: "RAM: 94% | disk: 87% | load: 4.2". */
  systemSummary: string;
  /** The failure snapshot's file (for "healthy": the outage's); null when it could not be written. */
  snapshotPath: string | null;
  /** Why there is no snapshot, in words. */
  snapshotProblem: string | null;
  downSinceUs: number;
  /** How long the outage lasted; null while it goes on. */
  downForMs: number | null;
}

/** A classified, not yet stored, happening. */
export interface Candidate {
  tier: Tier;
  severity: Severity;
  /** Name of the rule (built-in or user) that matched. */
  rule: string;
  summary: string;
  process: string | null;
  pid: number | null;
  unit: string | null;
  /** Microseconds since the epoch; the first entry's time (or the read time for plain text). */
  timestampUs: number;
  facts: Facts;
  /** The entries it came from, in order (one, or a whole kernel report). */
  entries: Entry[];
}

/** A stored event, as the CLI reads it back: the candidate's facts, minus its entries. */
export interface StoredEvent extends Omit<Candidate, "entries"> {
  id: string;
  instanceId: string;
  lastSeenUs: number;
  detail: string;
  occurrences: number;
  cursors: string[];
  raw: Record<string, string>[];
  notified: boolean;
}

/**
 * The program a crash is about, where its unit does not name one: a scope holds whatever was
 * started in it (`session-3.scope` is a login session, `init.scope` PID 1's, a terminal's
 * scope every command typed in it), so two programs crashing in one scope are two subjects.
 * A service is its program. Null where the unit is the subject (or there is no program).
 */
export function crashProgramInScope(c: Pick<Candidate, "tier" | "unit" | "process">): string | null {
  return c.tier === "T2" && c.process !== null && c.unit !== null && c.unit.endsWith(".scope") ? c.process : null;
}

export function isTier(value: string): value is Tier {
  return (TIERS as readonly string[]).includes(value);
}

// What a live source (sources/) is and how it is doing: kept by the source, saved with the
// daemon's state (store/daemon-state.ts) and shown by `status`.

export type SourceName = "journal" | "kmsg";

/** Counters a source keeps for `status` and the start summary; updated in place. */
export interface SourceStats {
  /** Records read from the underlying reader (before any filtering). */
  recordsRead: number;
  /** Records that did not parse; counted and skipped. */
  malformed: number;
  /** Records the source knows it missed (kmsg ring buffer overrun: EPIPE). */
  lost: number;
  /** Times the reader was (re)started after the first start. */
  restarts: number;
  /** Why the reader last stopped or failed, in words; null while healthy. */
  lastError: string | null;
  /** Wall clock (µs) of the last record read; null before the first. */
  lastReadUs: number | null;
  /** True while the reader is up (journalctl running, /dev/kmsg open): readiness and watchdog health. */
  running: boolean;
}
