import type { Entry, Facts, Severity, Tier } from "../event.ts";
import type { Assembled } from "./assemble.ts";

// What a rule is: the shape every entry of the rule table (rules.ts, rules/*.ts) has, and what
// it is given when it looks at an entry.

/** Detector groups the role table (and [detectors] in config) turn on and off. */
export type RuleGroup = "core" | "gpu" | "raid" | "file_sharing" | "containers" | "coredumps" | "memory_pressure";

/** What the classifier remembers about units across entries (a rule sees one entry at a time). */
export interface UnitHistory {
  /** "Scheduled restart job" entries for `unit` in the last `windowUs`, this entry included. */
  restartsWithin(unit: string, windowUs: number): number;
  /** "Started" entries (start jobs done) for `unit` in the last `windowUs`, this entry included: every start, however it was asked for. */
  startsWithin(unit: string, windowUs: number): number;
  /** Restart jobs ("Stopped" with JOB_TYPE=restart) of `unit` in the last `windowUs`, this entry included. */
  restartJobsWithin(unit: string, windowUs: number): number;
  /** The units with a restart job in the last `windowUs`, in the order of their first one. */
  unitsRestartedWithin(windowUs: number): string[];
  /** Whether a "Failed with result" entry for `unit` came in the last `windowUs`. */
  failedWithin(unit: string, windowUs: number): boolean;
}

export interface RuleInput {
  /** The entry the rule looks at: the entry itself, or a report's headline. */
  entry: Entry;
  group: Assembled;
  /** The rule's pattern match against the message, when it has a pattern. */
  m: RegExpExecArray | null;
  history: UnitHistory;
}

/** A restart loop: more than this many scheduled restarts of a unit inside the window. */
export const RESTART_LOOP_MAX = 3;
export const RESTART_LOOP_WINDOW_US = 5 * 60 * 1_000_000;

/** A mass restart: this many different units restarted from outside within the window. */
export const MASS_RESTART_MIN = 3;
export const MASS_RESTART_WINDOW_US = 60 * 1_000_000;
/** The mass-restart rule's name: its incident is one of its own (incidents/fingerprint.ts), not one per unit. */
export const MASS_RESTART_RULE = "mass-restart";

export interface Match {
  summary: string;
  process?: string | null;
  pid?: number | null;
  unit?: string | null;
  facts?: Facts;
  severity?: Severity;
}

export interface RuleSpec {
  name: string;
  tier: Tier | null;
  severity: Severity;
  group: RuleGroup;
  /** One line: its row in the rule table of docs/rules.md (scripts/rules-table.ts). */
  doc: string;
  messageId?: string;
  kernel?: boolean;
  identifiers?: readonly string[];
  /** Only for this kind of assembled group (whole OOM report, segfault + Code line…). */
  assembled?: Exclude<Assembled["kind"], "entry">;
  literals?: readonly string[];
  /**
   * Only entries at this syslog priority or more severe (0 emerg … 7 debug). Such rules run
   * after every other rule, and their literals are looked for only in lines at that priority,
   * so broad literals cost nothing on the bulk of the log.
   */
  maxPriority?: number;
  pattern?: RegExp;
  unless?: RegExp;
  /** Return null to decline (the search goes on to the next rule). */
  describe(input: RuleInput): Match | null;
}
