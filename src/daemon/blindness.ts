import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { BlindnessFacts, BlindSubject, Candidate } from "../event.ts";
import { formatElapsed } from "../text/format.ts";
import { BLIND_RULE } from "../incidents/fingerprint.ts";
import type { Source } from "../sources/source.ts";

// logtriage watching itself. A monitor that cannot see and says nothing looks exactly like a
// healthy machine, so blindness is an event like any other: it is stored, alerted (whatever
// alert_tiers says: daemon/writer.ts), shown by `status`, `/healthz` and systemd's STATUS=, and
// it ends with a "sees again" event of the same subject that says how long it lasted.
//
// What is watched, every few seconds and without spawning anything:
// - the log source: none at start (no permission), or its reader down longer than a grace
//   period (journalctl restarts with backoff; a few seconds down is not blindness);
// - journald itself: `journalctl --follow` keeps running when journald dies (it reads the
//   files), so a dead journald is only seen by looking for the process; a new pid without a
//   gap in between is a restart;
// - the database: the heartbeat write failing;
// - the kernel ring buffer: records the kmsg source knows it missed (read() returned EPIPE).

export interface BlindState {
  subject: BlindSubject;
  cause: string;
  fix: string | null;
  sinceUs: number;
}

/** What a blindness event is called: one rule name, so a user can route or mute it as one. */

/**
 * The one-line fix for a source that cannot be read, from the probes' reasons
 * (sources/registry.ts, sources/kmsg.ts); null when the reason names none we know.
 */
export function blindnessFix(reason: string): string | null {
  const fixes: string[] = [];
  if (/systemd-journal group|not seeing messages|insufficient permissions/i.test(reason)) {
    fixes.push("add the user to group systemd-journal (sudo usermod -aG systemd-journal $USER), then restart logtriage");
  }
  if (/dmesg_restrict/.test(reason)) fixes.push("or let it read /dev/kmsg: sudo sysctl kernel.dmesg_restrict=0 (or run as root)");
  if (/journald is not running/.test(reason) && fixes.length === 0) fixes.push("start systemd-journald (systemctl start systemd-journald)");
  return fixes.length ? fixes.join("; ") : null;
}

function candidateOf(facts: BlindnessFacts, summary: string, nowUs: number): Candidate {
  return {
    tier: "T4",
    severity: facts.state === "sees-again" ? "warning" : "high",
    rule: BLIND_RULE,
    summary,
    process: "logtriage",
    pid: null,
    unit: null,
    timestampUs: nowUs,
    facts: { kind: "blindness", blindness: facts },
    entries: [],
  };
}

const SUBJECT_WORDS: Record<BlindSubject, string> = {
  source: "its log source",
  journald: "journald",
  database: "its database",
  "kernel-ring-buffer": "the kernel ring buffer",
};

/**
 * The pure part: per subject, blind or not, and the events its transitions make. Time comes
 * in as an argument; `recordsRead` is the source's counter, so "sees again" can say how much
 * was read since.
 */
export class BlindnessTracker {
  private readonly open = new Map<BlindSubject, BlindState & { recordsAtStart: number }>();

  /** Blind (with a cause) or not (null) now; returns the event of a transition, else null. */
  update(subject: BlindSubject, blind: { cause: string; fix: string | null } | null, nowUs: number, recordsRead: number): Candidate | null {
    const was = this.open.get(subject);
    if (blind && !was) {
      this.open.set(subject, { subject, cause: blind.cause, fix: blind.fix, sinceUs: nowUs, recordsAtStart: recordsRead });
      const facts: BlindnessFacts = {
        subject,
        state: "blind",
        cause: blind.cause,
        fix: blind.fix,
        blindSinceUs: nowUs,
        blindForMs: null,
        reread: null,
      };
      const summary = subject === "database" ? `logtriage cannot store events: ${blind.cause}` : `logtriage is blind: ${blind.cause}`;
      return candidateOf(facts, summary, nowUs);
    }
    if (!blind && was) {
      this.open.delete(subject);
      const blindForMs = Math.round((nowUs - was.sinceUs) / 1000);
      const read = recordsRead - was.recordsAtStart;
      const reread =
        subject === "database"
          ? "events held in memory meanwhile are stored now"
          : `${read} record(s) read while blind; the reader resumes from the last entry it read, so what was written meanwhile is read now`;
      const facts: BlindnessFacts = {
        subject,
        state: "sees-again",
        cause: was.cause,
        fix: null,
        blindSinceUs: was.sinceUs,
        blindForMs,
        reread,
      };
      return candidateOf(
        facts,
        `logtriage sees again: ${SUBJECT_WORDS[subject]} is back after ${formatElapsed(Math.max(1000, blindForMs))} blind`,
        nowUs,
      );
    }
    return null;
  }

  /** A blindness too short to be seen as one: something restarted under us. */
  restarted(subject: BlindSubject, cause: string, nowUs: number): Candidate {
    const facts: BlindnessFacts = { subject, state: "restarted", cause, fix: null, blindSinceUs: nowUs, blindForMs: null, reread: null };
    return candidateOf(facts, `logtriage may have missed entries: ${cause}`, nowUs);
  }

  /** The kmsg source missed `count` records (the ring buffer wrapped before they were read). */
  lost(count: number, nowUs: number): Candidate {
    const what = `${count} kernel record(s)`;
    const facts: BlindnessFacts = {
      subject: "kernel-ring-buffer",
      state: "lost-records",
      cause: "the kernel ring buffer overwrote records before logtriage read them",
      fix: "a larger ring buffer (log_buf_len= on the kernel command line) keeps more during a flood",
      blindSinceUs: nowUs,
      blindForMs: null,
      reread: what,
    };
    return candidateOf(facts, `logtriage lost ${what}: the kernel ring buffer overwrote them before they were read`, nowUs);
  }

  current(): BlindState[] {
    return [...this.open.values()].map(({ subject, cause, fix, sinceUs }) => ({ subject, cause, fix, sinceUs }));
  }
}

/** journald's process: its pid and start time (field 22 of /proc/PID/stat), to tell a restart from the same process. */
export interface JournaldProcess {
  pid: number;
  startTicks: string;
}

function readJournald(procRoot: string, pid: string): JournaldProcess | null {
  try {
    // comm is cut to 15 characters: "systemd-journald" reads "systemd-journal".
    if (readFileSync(join(procRoot, pid, "comm"), "utf8").trim() !== "systemd-journal") return null;
    const stat = readFileSync(join(procRoot, pid, "stat"), "utf8");
    // "pid (comm) S ppid ...": fields after the last ")" start at field 3 (state).
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (rest[0] === "Z" || rest[0] === "X") return null;
    return { pid: Number(pid), startTicks: rest[19] ?? "" };
  } catch {
    // The process ended while we looked: not journald any more.
    return null;
  }
}

/** The running journald, looking first at the one seen last (one read instead of a /proc scan). */
export function findJournald(procRoot = "/proc", last: JournaldProcess | null = null): JournaldProcess | null {
  if (last) {
    const again = readJournald(procRoot, String(last.pid));
    if (again && again.startTicks === last.startTicks) return again;
  }
  let pids: string[];
  try {
    pids = readdirSync(procRoot).filter((name) => /^\d+$/.test(name));
  } catch {
    // No /proc: nothing to look at.
    return null;
  }
  for (const pid of pids) {
    const found = readJournald(procRoot, pid);
    if (found) return found;
  }
  return null;
}

export interface BlindnessWatchOptions {
  /** The source read, or null when none could start (`startReason` says why). */
  source: Source | null;
  startReason: string;
  /** Watch journald's process (the journal source reads what it writes). */
  watchJournald: boolean;
  /** Whether the last heartbeat write went through. */
  dbWritable: () => boolean;
  emit: (candidate: Candidate) => void;
  /** journald is back (or was restarted) or its active file replaced: restart the reader, to be safe. */
  onJournaldBack?: (why: string) => void;
  log: { warn(message: string): void; info(message: string): void };
  procRoot?: string;
  /**
   * journald's active files (system.journal under /run/log/journal/MACHINE and
   * /var/log/journal/MACHINE); when one is replaced, the reader is restarted. Default from
   * /etc/machine-id.
   */
  journalFiles?: string[];
  /** How often to look. Default 2 s: a /proc read or two, no spawn. */
  intervalMs?: number;
  /** How long the source's reader may be down (restarting) before that is blindness. Default 30 s. */
  sourceDownMs?: number;
}

/** The I/O side: samples the daemon's sight on a timer and emits the tracker's events. */
export class BlindnessWatch {
  readonly tracker = new BlindnessTracker();
  private readonly options: BlindnessWatchOptions;
  private journald: JournaldProcess | null = null;
  private sourceDownSinceMs: number | null = null;
  private lostSeen = 0;
  private restartsSeen = 0;
  /** The active journal files' inodes at the last look ("" for a missing one). */
  private journalInodes: string | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(options: BlindnessWatchOptions) {
    this.options = options;
    const procRoot = options.procRoot ?? "/proc";
    if (options.watchJournald) this.journald = findJournald(procRoot);
  }

  start(): void {
    this.sample(Date.now());
    this.timer = setInterval(() => this.sample(Date.now()), this.options.intervalMs ?? 2_000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private emit(candidate: Candidate | null): void {
    if (!candidate) return;
    const b = candidate.facts.kind === "blindness" ? candidate.facts.blindness : null;
    if (b?.state === "sees-again") this.options.log.info(candidate.summary);
    else this.options.log.warn(`${candidate.summary}${b?.fix ? ` — fix: ${b.fix}` : ""}`);
    this.options.emit(candidate);
  }

  /** One look at everything; public so tests drive it with their own clock. */
  sample(nowMs: number): void {
    const { source } = this.options;
    const nowUs = nowMs * 1000;
    const records = source?.stats.recordsRead ?? 0;
    if (!source) {
      this.emit(
        this.tracker.update(
          "source",
          { cause: `no log source can be read (${this.options.startReason})`, fix: blindnessFix(this.options.startReason) },
          nowUs,
          records,
        ),
      );
    } else {
      if (source.stats.running) this.sourceDownSinceMs = null;
      else this.sourceDownSinceMs ??= nowMs;
      const downFor = this.sourceDownSinceMs === null ? 0 : nowMs - this.sourceDownSinceMs;
      const down = downFor >= (this.options.sourceDownMs ?? 30_000);
      this.emit(
        this.tracker.update(
          "source",
          down
            ? {
                cause: `the ${source.name} reader has been down for ${formatElapsed(downFor)} (${source.stats.lastError ?? "not started"})`,
                fix: null,
              }
            : null,
          nowUs,
          records,
        ),
      );
      // A stall the source detected and fixed by restarting its reader: said once, as it happened.
      if (source.stats.restarts > this.restartsSeen) {
        if (/stalled/.test(source.stats.lastError ?? ""))
          this.emit(this.tracker.restarted("source", `the ${source.name} reader stalled and was restarted`, nowUs));
        this.restartsSeen = source.stats.restarts;
      }
      if (source.stats.lost > this.lostSeen) {
        this.emit(this.tracker.lost(source.stats.lost - this.lostSeen, nowUs));
        this.lostSeen = source.stats.lost;
      }
    }
    if (this.options.watchJournald) this.sampleJournald(nowUs, records);
    this.emit(
      this.tracker.update(
        "database",
        this.options.dbWritable()
          ? null
          : {
              cause: "the database takes no writes (disk full, read-only or locked)",
              fix: "check the disk and the database file's permissions; events wait in memory meanwhile",
            },
        nowUs,
        records,
      ),
    );
  }

  /**
   * journald replaces system.journal when it starts after an unclean stop (the old file is
   * renamed *.journal~) and when it rotates. A replaced file restarts the reader from its cursor:
   * a safeguard (a running follower picked the new file up in every run on systemd 252), cheap
   * and exactly-once.
   */
  private sampleJournalFiles(): void {
    const files = this.options.journalFiles ?? defaultJournalFiles();
    const inodes = files
      .map((f) => {
        try {
          return String(statSync(f).ino);
        } catch {
          // Not there (volatile or persistent storage only): part of the signature as "".
          return "";
        }
      })
      .join(",");
    if (this.journalInodes !== null && inodes !== this.journalInodes && inodes.replaceAll(",", "") !== "")
      this.options.onJournaldBack?.("the active journal file was replaced");
    this.journalInodes = inodes;
  }

  private sampleJournald(nowUs: number, records: number): void {
    this.sampleJournalFiles();
    const before = this.journald;
    const now = findJournald(this.options.procRoot ?? "/proc", before);
    const wasBlind = this.tracker.current().some((b) => b.subject === "journald");
    if (now === null) {
      const cause = before ? `journald (pid ${before.pid}) stopped` : "journald is not running";
      this.emit(
        this.tracker.update(
          "journald",
          { cause, fix: "start systemd-journald; nothing is logged, so nothing can be read, while it is down" },
          nowUs,
          records,
        ),
      );
    } else if (wasBlind) {
      this.options.onJournaldBack?.(`journald is back (pid ${now.pid})`);
      this.emit(this.tracker.update("journald", null, nowUs, records));
    } else if (before && (before.pid !== now.pid || before.startTicks !== now.startTicks)) {
      this.options.onJournaldBack?.(`journald restarted (pid ${before.pid} → ${now.pid})`);
      this.emit(this.tracker.restarted("journald", `journald restarted (pid ${before.pid} → ${now.pid}) between two looks`, nowUs));
    }
    if (now) this.journald = now;
  }

  current(): BlindState[] {
    return this.tracker.current();
  }
}

function defaultJournalFiles(): string[] {
  let machineId: string;
  try {
    machineId = readFileSync("/etc/machine-id", "utf8").trim();
  } catch {
    // No machine id: no journal directory to name.
    return [];
  }
  return [`/run/log/journal/${machineId}/system.journal`, `/var/log/journal/${machineId}/system.journal`];
}

/** The blind part of systemd's STATUS= and `status`: "BLIND: <cause> — fix: …", or null. */
export function blindLine(blind: readonly Pick<BlindState, "cause" | "fix">[]): string | null {
  if (blind.length === 0) return null;
  return `BLIND: ${blind.map((b) => `${b.cause}${b.fix ? ` — fix: ${b.fix}` : ""}`).join("; ")}`;
}
