import type { Database } from "bun:sqlite";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Candidate, PreviousBootFacts } from "../event.ts";
import type { Log } from "../log.ts";
import { parseJournalLine } from "../parse/journal-json.ts";
import { isPstoreDmesgFile, judgeBootEnd, parsePstoreDmesg, type PstoreRecord } from "../parse/previous-boot.ts";
import { RunError, type Runner } from "../run.ts";
import { loadMonitorState, saveMonitorState } from "../store/monitor-state.ts";
import type { Monitor } from "./monitor.ts";

// "Why did it go down": once per boot, at the daemon's first start in it, look at how the
// previous boot ended. A shutdown that reached its end is nothing to report; a journal that
// simply stops (power loss, a hang, a panic, a hardware watchdog reset) is one T4 event with
// its last signs: a kernel log pstore kept, the last T1–T4 events stored, the last lines.

export interface PreviousBootOptions {
  db: Database;
  runner: Runner;
  log: Log;
  instanceId: string;
  /** This boot's id; default /proc/sys/kernel/random/boot_id. */
  bootId?: () => string | null;
  /** The journalctl to ask (tests point it at a directory of journal files with --directory). */
  journalctlArgs?: string[];
  /** Where the kernel's pstore is mounted, and where systemd-pstore archives it. */
  pstoreDirs?: string[];
}

const STATE_KEY = "previous-boot:checked";
const TAIL_ENTRIES = 300;

function readBootId(): string | null {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim().replaceAll("-", "");
  } catch {
    // Not Linux: no boot to tell apart.
    return null;
  }
}

/** Kernel-log files under the pstore directories (systemd-pstore nests them: <record id>/<count>/dmesg.txt), with their mtime. */
function pstoreFiles(dirs: readonly string[]): { path: string; mtimeUs: number }[] {
  const out: { path: string; mtimeUs: number }[] = [];
  const walk = (dir: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      // Not mounted, not archived, or not ours to read: nothing kept there.
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      try {
        const st = statSync(path);
        if (st.isDirectory() && depth < 3) walk(path, depth + 1);
        else if (st.isFile() && isPstoreDmesgFile(name)) out.push({ path, mtimeUs: Math.round(st.mtimeMs * 1000) });
      } catch {
        // Gone while we looked.
      }
    }
  };
  for (const d of dirs) walk(d, 0);
  return out;
}

export function uncleanCandidate(facts: PreviousBootFacts, nowUs: number): Candidate {
  const at = facts.endUs === null ? "an unknown time" : new Date(facts.endUs / 1000).toTimeString().slice(0, 8);
  const signs = facts.pstore.find((p) => p.headline)?.headline ?? facts.lastEvents[0] ?? facts.lastLines.at(-1) ?? "none";
  return {
    tier: "T4",
    severity: "high",
    rule: "unclean-shutdown",
    summary: `Unclean shutdown at ${at} — last signs: ${signs}`,
    process: null,
    pid: null,
    unit: null,
    timestampUs: nowUs,
    facts: { kind: "previous-boot", boot: facts },
    entries: [],
  };
}

export class PreviousBootMonitor implements Monitor {
  readonly name = "previous-boot";
  private readonly options: PreviousBootOptions;

  constructor(options: PreviousBootOptions) {
    this.options = options;
  }

  async run(_signal: AbortSignal, emit: (candidate: Candidate) => void): Promise<void> {
    const candidate = await this.check(Date.now() * 1000);
    if (candidate) emit(candidate);
  }

  /** The event for an unclean end of the previous boot, once per boot; null otherwise. */
  async check(nowUs: number): Promise<Candidate | null> {
    const { db, log } = this.options;
    const bootId = (this.options.bootId ?? readBootId)();
    if (bootId === null) return null;
    if (loadMonitorState<{ bootId: string }>(db, STATE_KEY)?.bootId === bootId) return null;
    const verdict = await this.judge(nowUs);
    saveMonitorState(db, STATE_KEY, { bootId }, nowUs);
    if (verdict === null) log.debug("no previous boot in the journal to look at");
    return verdict;
  }

  private async judge(nowUs: number): Promise<Candidate | null> {
    const { runner, log } = this.options;
    const argv = [
      "journalctl",
      ...(this.options.journalctlArgs ?? []),
      "-b",
      "-1",
      "-o",
      "json",
      "--all",
      "-n",
      String(TAIL_ENTRIES),
      "--no-pager",
      "--quiet",
    ];
    let stdout: string;
    try {
      const r = await runner.run(argv, { timeoutMs: 15_000, maxOutputBytes: 8 << 20 });
      // "-b -1" with one boot only: journalctl says so and exits 1. Nothing to judge.
      if (r.exitCode !== 0) return null;
      stdout = r.stdout;
    } catch (error) {
      if (error instanceof RunError && error.result === null) return null;
      throw error;
    }
    const entries = stdout
      .split("\n")
      .flatMap((l) => (l.trim() ? [parseJournalLine(l)] : []))
      .filter((e) => e !== null);
    const end = judgeBootEnd(entries);
    if (end === null || end.clean) return null;
    const previousBootId = entries.at(-1)?.bootId ?? "unknown";
    // Records kept since that boot began: older ones were someone else's crash.
    const kept: PstoreRecord[] = pstoreFiles(this.options.pstoreDirs ?? ["/sys/fs/pstore", "/var/lib/systemd/pstore"])
      .filter((f) => end.firstUs === null || f.mtimeUs >= end.firstUs)
      .map((f) => {
        try {
          return parsePstoreDmesg(f.path, readFileSync(f.path, "utf8").slice(-256 * 1024));
        } catch {
          return { path: f.path, kind: "other" as const, headline: null };
        }
      })
      .sort((a, b) => (a.headline ? 0 : 1) - (b.headline ? 0 : 1));
    const lastEvents =
      end.firstUs === null || end.endUs === null
        ? []
        : (
            this.options.db
              .query(
                `SELECT tier, summary FROM events WHERE instance_id = ?1 AND tier IN ('T1','T2','T3','T4') AND timestamp BETWEEN ?2 AND ?3 ORDER BY timestamp DESC LIMIT 3`,
              )
              .all(this.options.instanceId, end.firstUs, end.endUs) as { tier: string; summary: string }[]
          ).map((e) => `[${e.tier}] ${e.summary}`);
    log.warn(
      `the previous boot ended without a shutdown (last entry ${end.endUs === null ? "?" : new Date(end.endUs / 1000).toISOString()})`,
    );
    return uncleanCandidate(
      { bootId: previousBootId, endUs: end.endUs, clean: false, pstore: kept, lastEvents, lastLines: end.lastLines },
      nowUs,
    );
  }
}
