// `bun run bench` (after `npm run build`): the project's performance figures, measured in one
// run, medians of several runs each, on the compiled binary.
//   1. replay throughput over a generated 1,000,000-entry journal vs `grep -E -c` with the
//      same literal pattern set, and the ratio;
//   2. peak RSS of that replay, and of a replay of a tenth of the input (it streams: the two
//      should be about equal);
//   3. `query --tier T1 --last 7d` over a database of 1,000,000 events: median wall time of
//      the compiled CLI, and of the query itself in-process.
//   4. the live daemon (scripts/bench-daemon.ts, as root): OOM kill → ntfy latency, idle RSS,
//      a log storm through journald.
//   5. health probes (scripts/bench-probes.ts): scheduling drift and CPU with 50 services at 30 s.
//   6. the PSI monitor (scripts/bench-psi.ts): RSS it adds, CPU of a reading.
//   7. the parser fuzzer (scripts/fuzz-parsers.ts), a long run with a new seed each time.
//   8. the kernel fast path and the footprint (scripts/bench-footprint.ts): OOM → ntfy latency
//      journal only vs fast path, idle RSS beside bare Bun, idle CPU, RSS after a storm.
//   3b. storing one event into a database holding BENCH_STORED_EVENTS (default 10,000) events,
//      with and without the index the lookup of a line's event uses.
// Environment: BENCH_ONLY=replay (sections 1 and 2 only) or store (3b only), BENCH_BIN (another build to measure,
// e.g. an older revision's, for a side-by-side figure), BENCH_ENTRIES (default 1000000),
// BENCH_RUNS (default 5), BENCH_DIR, and
// bench-daemon.ts's BENCH_KILLS, BENCH_IDLE_S, BENCH_STORM_LINES, bench-probes.ts's
// BENCH_PROBE_SERVICES, BENCH_PROBE_INTERVAL_S, BENCH_PROBE_S, bench-psi.ts's BENCH_PSI_S.

import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPORT_OPENER_LITERALS } from "../src/classify/assemble.ts";
import { Triage } from "../src/classify/triage.ts";
import { openStore } from "../src/store/db.ts";
import { commitEvent, queryEvents } from "../src/store/events.ts";
import type { Candidate, Tier } from "../src/event.ts";
import { benchDaemon } from "./bench-daemon.ts";
import { benchFootprint } from "./bench-footprint.ts";
import { benchProbes } from "./bench-probes.ts";
import { benchPsi } from "./bench-psi.ts";
import { fuzzParsers } from "./fuzz-parsers.ts";
import { generateJournal } from "./gen-journal.ts";

const ROOT = join(import.meta.dir, "..");
const BIN = process.env["BENCH_BIN"] ?? join(ROOT, "dist", "logtriage");
const ENTRIES = Number(process.env["BENCH_ENTRIES"] ?? 1_000_000);
const RUNS = Number(process.env["BENCH_RUNS"] ?? 5);
const DIR = process.env["BENCH_DIR"] ?? join(ROOT, "bench-data");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

interface Timed {
  ms: number;
  maxRssKb: number;
  stdout: string;
}

function timed(argv: string[], env: Record<string, string> = {}): Timed {
  const t0 = performance.now();
  const proc = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const ms = performance.now() - t0;
  if (proc.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${proc.exitCode}: ${proc.stderr.toString().slice(0, 500)}`);
  // Bun reports resourceUsage.maxRSS in bytes (checked against /usr/bin/time -f %M).
  return { ms, maxRssKb: Number(proc.resourceUsage?.maxRSS ?? 0) / 1024, stdout: proc.stdout.toString() };
}

function ereEscape(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
}

/** The pattern set the engine's prefilter uses, as one grep -E alternation. */
function grepPattern(): string {
  const triage = new Triage({
    pageSizeKb: 4,
    enabledGroups: new Set(["core", "gpu", "raid", "file_sharing", "containers", "coredumps", "memory_pressure"]),
  });
  const raw = triage.classifier.rawPrefilter;
  if (!raw) throw new Error("the built-in rules always have a prefilter");
  // grep cannot tie a literal to an identifier or a transport: every literal, anywhere in the line.
  const identifierLiterals = [...raw.identifiers.values()].flatMap((lits) => lits ?? []);
  return [...raw.messageIds, ...identifierLiterals, ...raw.anyLiterals, ...raw.kernelLiterals, ...REPORT_OPENER_LITERALS]
    .map(ereEscape)
    .join("|");
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function ensureJournal(path: string, entries: number): Promise<void> {
  if (existsSync(path)) return;
  const r = await generateJournal(path, entries);
  console.log(`generated ${path}: ${fmt(r.entries)} entries, ${fmt(r.tiered)} tiered scenarios, ${r.oomReports} OOM reports`);
}

async function benchReplay(home: string): Promise<void> {
  const big = join(DIR, `journal-${ENTRIES}.jsonl`);
  const small = join(DIR, `journal-${ENTRIES / 10}.jsonl`);
  await ensureJournal(big, ENTRIES);
  await ensureJournal(small, ENTRIES / 10);
  const env = { HOME: home, XDG_CONFIG_HOME: join(home, ".config"), XDG_DATA_HOME: join(home, ".local/share"), NO_COLOR: "1" };
  const pattern = grepPattern();
  const replayMs: number[] = [];
  const grepMs: number[] = [];
  const rss: number[] = [];
  let events = 0;
  let grepCount = 0;
  for (let i = 0; i < RUNS; i++) {
    const r = timed([BIN, "replay", big, "--json"], env);
    replayMs.push(r.ms);
    rss.push(r.maxRssKb);
    events = r.stdout.split("\n").filter(Boolean).length;
    const g = timed(["grep", "-E", "-c", pattern, big]);
    grepMs.push(g.ms);
    grepCount = Number(g.stdout.trim());
  }
  const smallRss = median(Array.from({ length: RUNS }, () => timed([BIN, "replay", small, "--json"], env).maxRssKb));
  const replayRate = ENTRIES / (median(replayMs) / 1000);
  const grepRate = ENTRIES / (median(grepMs) / 1000);
  console.log(`\n## Replay throughput (${fmt(ENTRIES)} journal-JSON entries, ${RUNS} runs each, medians)`);
  console.log(`logtriage replay --json : ${fmt(median(replayMs))} ms  ${fmt(replayRate)} entries/s  (${fmt(events)} events)`);
  console.log(`grep -E -c (same literals): ${fmt(median(grepMs))} ms  ${fmt(grepRate)} entries/s  (${fmt(grepCount)} matching lines)`);
  console.log(`ratio logtriage/grep     : ${fmt(replayRate / grepRate, 2)}  (aim ≥ 0.50)`);
  console.log(`\n## Peak RSS of replay (median of ${RUNS})`);
  console.log(
    `${fmt(ENTRIES)} entries: ${fmt(median(rss) / 1024, 1)} MB   ${fmt(ENTRIES / 10)} entries: ${fmt(smallRss / 1024, 1)} MB   (streaming: should not grow with input)`,
  );
}

function seedEvents(dbPath: string, count: number): void {
  const db = openStore(dbPath);
  const nowUs = Date.now() * 1000;
  const spanUs = 90 * 86_400_000_000;
  const tiers: Tier[] = ["T1", "T2", "T2", "T3", "T3", "T3", "T4", "T4", "T5", "T5"];
  const policy = { instanceId: "workstation", cooldownMs: 0, aggregateThreshold: 3 };
  const batch = 10_000;
  for (let start = 0; start < count; start += batch) {
    db.transaction(() => {
      for (let i = start; i < Math.min(count, start + batch); i++) {
        const tier = tiers[i % tiers.length] as Tier;
        const c: Candidate = {
          tier,
          severity: "high",
          rule: "bench",
          summary: `bench event ${i}`,
          process: `proc${i % 97}`,
          pid: i,
          unit: null,
          // oldest first, as a daemon writes them (cooldown 0 then never folds two rows)
          timestampUs: nowUs - spanUs + Math.floor((i / count) * spanUs),
          facts: { kind: "plain" },
          entries: [],
        };
        commitEvent(db, c, policy);
      }
    })();
  }
  db.close();
}

function benchQuery(home: string): void {
  const dbPath = join(DIR, `events-${ENTRIES}.db`);
  if (!existsSync(dbPath)) {
    const t0 = performance.now();
    seedEvents(dbPath, ENTRIES);
    console.log(`\nseeded ${dbPath} with ${fmt(ENTRIES)} events over 90 days in ${fmt((performance.now() - t0) / 1000, 1)} s`);
  }
  const env = { HOME: home, XDG_CONFIG_HOME: join(home, ".config"), NO_COLOR: "1" };
  const cli = Array.from({ length: RUNS * 2 }, () => timed([BIN, "query", "--tier", "T1", "--last", "7d", "--db", dbPath], env).ms);
  const version = Array.from({ length: RUNS * 2 }, () => timed([BIN, "--version"], env).ms);
  const db = openStore(dbPath, { readonly: true });
  const sinceUs = (Date.now() - 7 * 86_400_000) * 1000;
  const inProcess: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    queryEvents(db, { sinceUs, tiers: ["T1"], limit: 50 });
    inProcess.push(performance.now() - t0);
  }
  db.close();
  console.log(`\n## query --tier T1 --last 7d over ${fmt(ENTRIES)} events (medians)`);
  console.log(
    `compiled CLI, wall time incl. start-up: ${fmt(median(cli), 1)} ms  (aim < 50 ms; --version alone: ${fmt(median(version), 1)} ms)`,
  );
  console.log(`binary size: ${fmt(statSync(BIN).size / 1024 / 1024, 1)} MB (the Bun runtime included)`);
  console.log(`the query itself, in-process          : ${fmt(median(inProcess), 2)} ms`);
}

/**
 * 3b. Storing one event into a database that already holds many: every commit looks for the
 * recent event a line joins (same pid or unit within the incident window). Side by side in one
 * run: with the index on (instance_id, last_seen) and with it dropped, as before migration 8.
 */
function benchCommit(): void {
  const stored = Number(process.env["BENCH_STORED_EVENTS"] ?? 10_000);
  const dir = mkdtempSync(join(tmpdir(), "logtriage-bench-commit-"));
  try {
    const db = openStore(join(dir, "events.db"));
    const policy = { instanceId: "bench", cooldownMs: 300_000, aggregateThreshold: 3 };
    const t0 = 1_800_000_000_000_000;
    const failure = (unit: string, pid: number, timestampUs: number): Candidate => ({
      tier: "T3",
      severity: "medium",
      rule: "unit-failed",
      summary: `Service failed: ${unit} (exit-code)`,
      process: null,
      pid,
      unit,
      timestampUs,
      facts: { kind: "unit", unit, result: "exit-code", exitCode: "exited", exitStatus: "1", restartCount: null },
      entries: [],
    });
    db.transaction(() => {
      for (let i = 0; i < stored; i++) commitEvent(db, failure(`u${i}.service`, 1000 + i, t0 + i * 60_000_000), policy);
    })();
    let next = stored;
    const commits = (): number[] =>
      Array.from({ length: 200 }, () => {
        const i = next++;
        const start = performance.now();
        commitEvent(db, failure(`new${i}.service`, 5_000_000 + i, t0 + i * 60_000_000), policy);
        return performance.now() - start;
      });
    const indexed = commits();
    db.run("DROP INDEX idx_events_seen");
    const scanned = commits();
    db.close();
    console.log(`\n## storing one event with ${fmt(stored)} stored (200 commits each way, medians)`);
    console.log(`with the (instance_id, last_seen) index: ${fmt(median(indexed), 3)} ms`);
    console.log(`without it (before migration 8)        : ${fmt(median(scanned), 3)} ms  (×${fmt(median(scanned) / median(indexed), 1)})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (!existsSync(BIN)) {
  console.error(`${BIN} is missing: run 'npm run build' first (bun run bench does).`);
  process.exit(2);
}
mkdirSync(DIR, { recursive: true });
/** 7. The parser fuzzer's long run (the suite runs a short one); FUZZ_SEED, FUZZ_ITERATIONS. */
async function benchFuzz(): Promise<void> {
  const seed = Number(process.env["FUZZ_SEED"] ?? Date.now() % 1_000_000);
  const iterations = Number(process.env["FUZZ_ITERATIONS"] ?? 50_000);
  const t0 = performance.now();
  const r = await fuzzParsers(seed, iterations);
  console.log(`\n## Parser fuzz (seed ${seed}, ${fmt(iterations)} rounds)`);
  console.log(`${fmt(r.calls)} parser calls in ${fmt((performance.now() - t0) / 1000, 1)} s: ${r.findings.length} finding(s)`);
  for (const f of r.findings.slice(0, 10))
    console.log(`  ${f.parser} (round ${f.iteration}): ${f.error}; input ${JSON.stringify(f.input.slice(0, 200))}`);
  if (r.findings.length > 0) process.exitCode = 1;
}

const home = mkdtempSync(join(tmpdir(), "logtriage-bench-"));
try {
  console.log(`logtriage bench: ${new Date().toISOString()}, ${process.arch}, bun ${Bun.version}`);
  if (process.env["BENCH_ONLY"] === "store") benchCommit();
  else await benchReplay(home);
  if (process.env["BENCH_ONLY"] === undefined) {
    benchQuery(home);
    benchCommit();
    await benchDaemon();
    await benchFootprint();
    await benchProbes();
    await benchPsi();
    await benchFuzz();
  }
} finally {
  rmSync(home, { recursive: true, force: true });
}
