import { describe, expect, test } from "bun:test";
import { triageFixture } from "../_fixtures.ts";

// Captured on this machine (tests/fixtures/real/README.md): Debian 12, kernel 6.18, systemd 252.

const rulesOf = (run: { candidates: { rule: string }[] }) => run.candidates.map((c) => c.rule);

describe("classification of real captures", () => {
  test("memcg OOM kill: one T1 naming the victim, its cgroup and limit", async () => {
    const { candidates } = await triageFixture("real/oom-memcg-v1-kernel6.jsonl");
    expect(candidates).toHaveLength(1);
    const [c] = candidates;
    expect(c?.tier).toBe("T1");
    expect(c?.rule).toBe("kernel-memcg-oom-kill");
    expect(c?.process).toBe("python3");
    expect(c?.pid).toBe(3546);
    expect(c?.summary).toContain("cgroup /lt_test hit its limit of 64.0 MB");
    // every report line is kept with its cursor: the event can be traced back to the journal
    expect(c?.entries.length).toBe(79);
    expect(c?.entries.every((e) => e.cursor !== null)).toBe(true);
  });

  test("segfault + Code: one T2 with the faulting library", async () => {
    // The capture is a contiguous journal slice: it opens with the tail of the OOM scenario.
    const { candidates } = await triageFixture("real/segfault-python.jsonl");
    const crashes = candidates.filter((c) => c.tier === "T2");
    expect(crashes.map((c) => [c.rule, c.process, c.pid])).toEqual([["kernel-segfault", "python3", 4516]]);
    expect(crashes[0]?.summary).toBe("Crash: python3 (SIGSEGV) in libc.so.6");
    expect(crashes[0]?.entries).toHaveLength(2);
    const facts = crashes[0]?.facts;
    expect(facts?.kind === "crash" && facts.crash.code).toContain("<62>");
  });

  test.each([
    ["real/trap-divide-error.jsonl", "divide error"],
    ["real/trap-invalid-opcode.jsonl", "invalid opcode"],
    ["real/trap-int3.jsonl", "int3"],
    ["real/trap-general-protection.jsonl", "general protection fault"],
  ])("%s: T2 trap '%s'", async (file, fault) => {
    const { candidates } = await triageFixture(file);
    // each capture may open with the previous scenario's trap: the last one is this file's
    const trap = candidates.filter((c) => c.rule === "kernel-trap").at(-1);
    expect(trap?.tier).toBe("T2");
    expect(trap?.facts.kind === "crash" && trap.facts.crash.fault).toBe(fault);
    expect(trap?.process).toBe("crashme");
  });

  test("a failing user unit: T3 per failure with exit status, then 'gave up'", async () => {
    const run = await triageFixture("real/unit-fail-restart-limit.jsonl");
    expect(run.candidates.every((c) => c.tier === "T3" && c.unit === "lt-fail.service")).toBe(true);
    expect(rulesOf(run).filter((r) => r === "unit-failed")).toHaveLength(4);
    expect(rulesOf(run)).toContain("unit-start-limit-hit");
    const failed = run.candidates.find((c) => c.rule === "unit-failed");
    expect(failed?.facts).toMatchObject({ kind: "unit", result: "exit-code", exitCode: "exited", exitStatus: "3" });
  });

  test("a unit restarted forever with clean exits: a restart loop once it passes 3 restarts in 5 min", async () => {
    const run = await triageFixture("real/unit-restart-always-loop.jsonl");
    expect(run.candidates.map((c) => `${c.tier} ${c.rule} ${c.summary}`)).toEqual([
      "T3 unit-restart-loop Restart loop: lt-restart-always.service restarted 4 times within 5 min (restart counter at 4)",
      "T3 unit-restart-loop Restart loop: lt-restart-always.service restarted 5 times within 5 min (restart counter at 5)",
    ]);
    expect(run.candidates[0]?.facts).toMatchObject({
      kind: "unit",
      unit: "lt-restart-always.service",
      result: "restart-loop",
      restartCount: 4,
    });
  });

  test("a loop driven from outside (Started entries, no restart counter, clean exits): a restart loop from the starts", async () => {
    const run = await triageFixture("real/unit-restart-external-loop.jsonl");
    expect(run.candidates.map((c) => `${c.tier} ${c.rule} ${c.unit}`)).toEqual([
      "T3 unit-start-loop lt-restart-always.service",
      "T3 unit-start-loop lt-restart-always.service",
    ]);
    expect(run.candidates[0]?.summary).toContain("started 4 times within 5 min with no failure logged");
    expect(run.candidates[0]?.facts).toMatchObject({ kind: "unit", result: "restart-loop", restartCount: 4 });
  });

  test("five units restarted by one `systemctl restart`: one mass-restart event naming the units, not one per unit", async () => {
    const run = await triageFixture("real/mass-restart-five-units.jsonl");
    expect(run.candidates.map((c) => `${c.tier} ${c.rule} ${c.unit}`)).toEqual(["T3 mass-restart null"]);
    expect(run.candidates[0]?.summary).toBe(
      "Mass restart: 3 units restarted within 1 min: lt-mass-a.service, lt-mass-b.service, lt-mass-c.service (a package upgrade, a watchdog or a script restarting services?)",
    );
  });

  test("daemon-reexec and a stop of the same five units: no mass restart (no restart jobs)", async () => {
    const run = await triageFixture("real/daemon-reexec-then-mass-stop.jsonl");
    expect(rulesOf(run)).not.toContain("mass-restart");
    expect(run.candidates.filter((c) => c.tier !== null)).toEqual([]);
  });

  test("units in Restart= loops restart together: each its own restart loop, never a mass restart", async () => {
    expect(rulesOf(await triageFixture("real/unit-restart-always-loop.jsonl"))).not.toContain("mass-restart");
  });

  test("a failing unit's restarts are its crash loop, not a second restart-loop event", async () => {
    expect(rulesOf(await triageFixture("real/unit-fail-restart-limit.jsonl"))).not.toContain("unit-start-loop");
    const run = await triageFixture("real/unit-fail-restart-limit.jsonl");
    expect(rulesOf(run)).not.toContain("unit-restart-loop");
  });

  test("a unit whose executable is missing: spawn failure and 203 exit status", async () => {
    const run = await triageFixture("real/unit-exec-missing.jsonl");
    const spawn = run.candidates.find((c) => c.rule === "unit-spawn-failed");
    expect(spawn?.unit).toBe("lt-exec-missing.service");
    expect(spawn?.summary).toContain("Failed to locate executable /usr/local/bin/lt-does-not-exist");
    const failed = run.candidates.find((c) => c.rule === "unit-failed" && c.unit === "lt-exec-missing.service");
    expect(failed?.facts).toMatchObject({ exitStatus: "203" });
  });

  test("a unit killed by SIGSEGV: abnormal exit (T2), failure (T3), kernel segfault (T2)", async () => {
    const run = await triageFixture("real/unit-sigsegv.jsonl");
    const segv = run.candidates.filter((c) => c.unit === "lt-segv.service" || c.process === "python3");
    expect(segv.map((c) => c.rule)).toEqual(["unit-abnormal-exit", "unit-failed", "kernel-segfault"]);
  });

  test("systemd-coredump entry: T2 with signal and executable", async () => {
    const run = await triageFixture("real/coredump-c-program.jsonl");
    const core = run.candidates.find((c) => c.rule === "coredump");
    expect(core?.summary).toBe("Crash: crashme (SIGSEGV), core dumped");
    expect(core?.pid).toBe(9701);
    expect(core?.facts.kind === "crash" && core.facts.crash.object).toBe("/tmp/lt/crashme");
  });

  test("coredumps off (role table): the coredump rule is not loaded, the kernel line still is", async () => {
    const run = await triageFixture("real/coredump-c-program.jsonl", new Set(["core"]));
    expect(rulesOf(run)).not.toContain("coredump");
    expect(rulesOf(run)).toContain("kernel-segfault");
  });

  test.each([
    "real/benign-noise.jsonl",
    "real/benign-noise.dmesg.txt",
    "real/unit-success.jsonl",
    "real/unit-success-debuglog.jsonl",
    "real/journal-quirks.jsonl",
    "real/kernel-device-continuation.jsonl",
  ])("%s: nothing tiered", async (file) => {
    const run = await triageFixture(file);
    expect(run.candidates.map((c) => c.summary)).toEqual([]);
    expect(run.stats.lines).toBeGreaterThan(0);
  });

  test("the raw prefilter changes nothing: same events with and without it", async () => {
    const { Triage } = await import("../../src/classify/triage.ts");
    const { readLogStream } = await import("../../src/sources/file.ts");
    const { ALL_GROUPS, fixturePath } = await import("../_fixtures.ts");
    for (const file of ["real/oom-memcg-two-kills.jsonl", "real/coredump-python.jsonl", "real/unit-fail-restart-limit.jsonl"]) {
      const summaries = async (prefilter: boolean) => {
        const t = new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS });
        const out: string[] = [];
        const opts = prefilter ? { year: 2026, wantsRawLine: (l: string) => t.wantsRawLine(l) } : { year: 2026 };
        for await (const e of readLogStream(Bun.file(fixturePath(file)).stream(), opts)) out.push(...t.push(e, 0).map((c) => c.summary));
        return [...out, ...t.flush(0).map((c) => c.summary)];
      };
      expect(await summaries(true)).toEqual(await summaries(false));
    }
  });
});
