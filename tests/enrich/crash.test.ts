import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import { createCrashEnricher } from "../../src/enrich/crash.ts";
import { EnrichmentStage } from "../../src/enrich/stage.ts";
import type { Candidate } from "../../src/event.ts";
import { type Runner, type RunResult } from "../../src/run.ts";
import { openStore } from "../../src/store/db.ts";
import { commitEvent, getEvent } from "../../src/store/events.ts";
import { fixturePath, triageFixture } from "../_fixtures.ts";
import { missingTool } from "../_builders.ts";

// The crash enricher through the real enrichment stage, on the real crash captures of
// tests/fixtures/real (§6) and a Runner that answers with the captured `coredumpctl info`.

const policy = { instanceId: "vm", cooldownMs: 300_000, aggregateThreshold: 3 };
const quiet = { warn() {}, debug() {} };
const infoText = readFileSync(fixturePath("real/coredumpctl-info.txt"), "utf8");
const cInfo = infoText.split(/\n\n(?=\s*PID: )/)[0] as string;

let db: Database;
let proc: string;
beforeEach(() => {
  db = openStore(":memory:");
  proc = mkdtempSync(join(tmpdir(), "logtriage-crash-"));
  mkdirSync(join(proc, "sys/kernel"), { recursive: true });
});
afterEach(() => {
  db.close();
  rmSync(proc, { recursive: true, force: true });
});

function corePattern(text: string): void {
  writeFileSync(join(proc, "sys/kernel/core_pattern"), `${text}\n`);
}

const ok = (stdout: string): RunResult => ({ exitCode: 0, stdout, stderr: "", timedOut: false });
const noUnit: RunResult = { exitCode: 1, stdout: "", stderr: "", timedOut: false };

/** coredumpctl answers "no match" `pendingRuns` times (systemd-coredump still unwinding), then the capture. */
function coredumpctlAfter(pendingRuns: number): Runner & { argvs: string[][] } {
  const argvs: string[][] = [];
  let left = pendingRuns;
  return {
    argvs,
    run: (argv) => {
      argvs.push(argv);
      if (argv[0] !== "coredumpctl") return Promise.resolve(noUnit);
      if (left-- > 0) return Promise.resolve({ exitCode: 1, stdout: "", stderr: "No coredumps found.\n", timedOut: false });
      return Promise.resolve(ok(cInfo));
    },
  };
}

async function segfaultOfC(): Promise<Candidate> {
  const found = (await triageFixture("real/coredump-c-program.jsonl")).candidates.find((c) => c.rule === "kernel-segfault");
  if (!found) throw new Error("no kernel-segfault in the capture");
  return found;
}

async function enrich(c: Candidate, runner: Runner) {
  const stage = new EnrichmentStage({
    db,
    enrichers: [createCrashEnricher({ procRoot: proc, crashDir: join(proc, "crash"), timeoutMs: 5_000 })],
    runner,
    memory: null,
    instanceId: "vm",
    log: quiet,
    toNotification: null,
    // A dump that never comes is looked for a little past the timeout, not the daemon's minute.
    lateMs: 300,
  });
  const { id } = commitEvent(db, c, policy);
  stage.enqueue(id, c);
  await stage.idle();
  await stage.close();
  const found = getEvent(db, id);
  if (found.kind !== "found") throw new Error("event missing");
  return found.event;
}

describe("crash enricher", () => {
  test("a dump logged after the enricher gave up: the event gets its backtrace late", async () => {
    corePattern("|/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h %d");
    // systemd-coredump still writing a large core: no entry until the test says so.
    let dumped = false;
    const argvs: string[][] = [];
    const runner: Runner = {
      run: (argv) => {
        argvs.push(argv);
        if (argv[0] !== "coredumpctl") return Promise.resolve(noUnit);
        if (!dumped) return Promise.resolve({ exitCode: 1, stdout: "", stderr: "No coredumps found.\n", timedOut: false });
        return Promise.resolve(ok(cInfo));
      },
    };
    const c = await segfaultOfC();
    const stage = new EnrichmentStage({
      db,
      enrichers: [createCrashEnricher({ procRoot: proc, crashDir: join(proc, "crash"), timeoutMs: 5_000 })],
      runner,
      memory: null,
      instanceId: "vm",
      log: quiet,
      toNotification: null,
      lateMs: 60_000,
    });
    const { id } = commitEvent(db, c, policy);
    stage.enqueue(id, c);
    const detail = () => {
      const found = getEvent(db, id);
      if (found.kind !== "found") throw new Error("event missing");
      return found.event.detail;
    };
    // The first pass gives up in time and says the backtrace may still come.
    while (!detail().includes("no backtrace yet")) await Bun.sleep(20);
    expect(detail()).toContain("First crash of this program in 24 h");
    const asked = argvs.filter((a) => a[0] === "coredumpctl").length;
    dumped = true;
    await stage.idle();
    expect(stage.counters.late).toBe(1);
    expect(argvs.filter((a) => a[0] === "coredumpctl").length).toBeGreaterThan(asked);
    expect(detail()).toContain("#0 main (crashme + 0x1218)");
    expect(detail()).toContain("Signal: SIGSEGV");
    expect(detail()).not.toContain("no backtrace yet");
    await stage.close();
  });

  test("no dump ever comes: it stops asking in time, and the rest (24 h count, no-dump reason) is still said", async () => {
    corePattern("|/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h %d");
    const runner = coredumpctlAfter(Number.POSITIVE_INFINITY);
    const event = await enrich(await segfaultOfC(), runner);
    expect(event.detail).toContain("First crash of this program in 24 h");
    expect(event.detail).toMatch(/no coredump of pid \d+ found in time: no backtrace/);
    expect(event.detail).not.toContain("no answer within");
    // Only dumps from this crash's moment are asked for: a reused pid's old dump is not this crash's.
    expect(runner.argvs[0]?.some((a) => /^--since=@\d+$/.test(a))).toBe(true);
  });

  test("the kernel segfault line gets executable, signal, frames and core file once systemd-coredump has it", async () => {
    corePattern("|/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h %d");
    const runner = coredumpctlAfter(2);
    const event = await enrich(await segfaultOfC(), runner);
    expect(runner.argvs.filter((a) => a[0] === "coredumpctl").length).toBe(3);
    expect(event.detail).toContain("Executable: /tmp/lt/crashme");
    expect(event.detail).toContain("Signal: SIGSEGV");
    expect(event.detail).toContain("#0 main (crashme + 0x1218)");
    expect(event.detail).toContain("16.4K");
    expect(event.detail).toContain("First crash of this program in 24 h");
  });

  test("the coredump entry's own stack trace is used without running coredumpctl", async () => {
    const entry = (await triageFixture("real/coredump-python.jsonl")).candidates.find((c) => c.rule === "coredump") as Candidate;
    const runner = coredumpctlAfter(0);
    const event = await enrich(entry, runner);
    expect(runner.argvs.some((a) => a[0] === "coredumpctl")).toBe(false);
    expect(event.detail).toContain("Executable: /usr/bin/python3.11");
    expect(event.detail).toContain("#0 __strlen_evex (libc.so.6 + 0x167ad8)");
    expect(event.detail).toContain("top 5 of 19 frames");
  });

  test("a second crash of the program says how often it happened in 24 h", async () => {
    corePattern("|/lib/systemd/systemd-coredump %P");
    const first = await segfaultOfC();
    commitEvent(db, { ...first, pid: 1, unit: "other.service", timestampUs: first.timestampUs - 3600e6 }, policy);
    const event = await enrich(first, coredumpctlAfter(0));
    expect(event.detail).toContain("Occurred 1 time before in 24 h (this is crash 2)");
  });

  test("coredumpctl not installed: says so with the package to install", async () => {
    corePattern("|/lib/systemd/systemd-coredump %P");
    const runner = missingTool;
    const event = await enrich(await segfaultOfC(), runner);
    expect(event.detail).toContain("coredumpctl is not installed (apt install systemd-coredump): no backtrace");
  });

  test("apport's core_pattern: names the report file of that executable", async () => {
    corePattern("|/usr/share/apport/apport -p%p -s%s -c%c -d%d -P%P -u%u -g%g -- %E");
    const c = await segfaultOfC();
    const event = await enrich(c, coredumpctlAfter(0));
    expect(event.detail).toContain("cores go apport");
  });

  test("core_pattern 'core': says cores are files in the working directory", async () => {
    corePattern("core");
    const event = await enrich(await segfaultOfC(), coredumpctlAfter(0));
    expect(event.detail).toContain("written as 'core' in the process's working directory");
  });
});

describe("phase of a crash in a unit", () => {
  const capture = readFileSync(fixturePath("real/coredump-c-program.jsonl"), "utf8").split("\n");
  const startedLine = capture.find((l) => l.includes('"MESSAGE":"Started lt-crash-c.service')) as string;
  /** journalctl answers with the capture's real "Started lt-crash-c.service" entry. */
  const journalWithStart: Runner = {
    run: (argv) =>
      Promise.resolve(argv[0] === "journalctl" && argv.includes("USER_UNIT=lt-crash-c.service") ? ok(`${startedLine}\n`) : noUnit),
  };
  async function coredumpEntry(): Promise<Candidate> {
    return (await triageFixture("real/coredump-c-program.jsonl")).candidates.find((c) => c.rule === "coredump") as Candidate;
  }

  test("a crash within seconds of the unit's start is startup", async () => {
    const event = await enrich(await coredumpEntry(), journalWithStart);
    expect(event.detail).toMatch(/Phase: startup \(\d+\.\d s after the unit started\)/);
  });

  test("the same crash a minute after the start is running", async () => {
    const c = await coredumpEntry();
    const event = await enrich({ ...c, timestampUs: c.timestampUs + 60_000_000 }, journalWithStart);
    expect(event.detail).toMatch(/Phase: running \(6\d\.\d s after the unit started\)/);
  });

  test("a unit that hit its start limit gave up", async () => {
    const c = await coredumpEntry();
    const limit = (await triageFixture("real/unit-fail-restart-limit.jsonl")).candidates.find(
      (x) => x.rule === "unit-start-limit-hit",
    ) as Candidate;
    commitEvent(db, { ...limit, unit: c.unit, timestampUs: Date.now() * 1000 }, policy);
    const event = await enrich(c, journalWithStart);
    expect(event.detail).toContain("Phase: gave_up (the unit hit its start limit)");
  });
});
