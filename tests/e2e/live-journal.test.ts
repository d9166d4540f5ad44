import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, jsonLines } from "../cli/_run.ts";
import { awaitJournal, ensureJournald, isRoot, journalCursor, memcgOomKill, segfault, type Journald } from "./_system.ts";

// End to end on this machine's real kernel and a real journald: cause an OOM kill and a
// segfault, read them back with `journalctl -o json`, replay them through the compiled
// binary. This is what a user does with `journalctl -b -o json | logtriage replay -`, and it
// proves the parsers against whatever kernel CI runs today. Needs root (cgroups, journald),
// as CI has; elsewhere it cannot run.
describe.skipIf(!isRoot)("live journal (root: real journald, real OOM kill, real segfault)", () => {
  let journald: Journald;
  let work: string;
  beforeAll(async () => {
    journald = await ensureJournald();
    work = mkdtempSync(join(tmpdir(), "logtriage-e2e-"));
  });
  afterAll(async () => {
    await journald?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** `journalctl … | logtriage replay - --json`, with an empty HOME (built-in defaults). */
  function replay(journalJson: string): Record<string, unknown>[] {
    const p = Bun.spawnSync([BIN, "replay", "-", "--json"], {
      stdin: new TextEncoder().encode(journalJson),
      env: { HOME: work, PATH: process.env["PATH"] ?? "/usr/bin:/bin" },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(p.exitCode).toBe(0);
    return jsonLines(p.stdout.toString());
  }

  test("a real cgroup OOM kill is one T1 event naming the victim and its cgroup", async () => {
    const cursor = journalCursor();
    const { pid, memcg } = await memcgOomKill(`lt_e2e_${process.pid}`);
    const journal = await awaitJournal(cursor, new RegExp(`Killed process ${pid} \\(python3\\)`));
    // Filtered by pid: a journald started just now may still be importing older kernel records
    // (another test's OOM kill, read from /dev/kmsg) after the cursor.
    const t1 = replay(journal).filter((e) => e["tier"] === "T1" && e["pid"] === pid);
    expect(t1).toHaveLength(1);
    expect(t1[0]?.["rule"]).toBe("kernel-memcg-oom-kill");
    expect(t1[0]?.["pid"]).toBe(pid);
    const oom = t1[0]?.["oom"] as {
      memcg: string;
      constraint: string;
      victim: { name: string };
      top_tasks: { pid: number }[];
      trigger: { pid: number };
    };
    expect(oom.constraint).toBe("CONSTRAINT_MEMCG");
    expect(oom.memcg).toBe(memcg);
    expect(oom.victim.name).toBe("python3");
    expect(oom.top_tasks.map((t) => t.pid)).toContain(pid);
    expect(oom.trigger.pid).toBe(pid);
  }, 60_000);

  test("a real segfault is one T2 event with the faulting library", async () => {
    const cursor = journalCursor();
    const pid = await segfault(work);
    // the kernel's Code: line follows the segfault line
    const journal = await awaitJournal(cursor, new RegExp(`python3\\[${pid}\\]: segfault at 0[\\s\\S]*Code: `));
    const t2 = replay(journal).filter((e) => e["tier"] === "T2" && e["pid"] === pid);
    expect(t2).toHaveLength(1);
    expect(t2[0]?.["rule"]).toBe("kernel-segfault");
    expect(String(t2[0]?.["summary"])).toMatch(/^Crash: python3 \(SIGSEGV\) in libc/);
  }, 60_000);
});
