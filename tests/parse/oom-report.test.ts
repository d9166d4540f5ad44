import { describe, expect, test } from "bun:test";
import { parseKilledProcess, parseOomKillPairs, parseOomReport } from "../../src/parse/oom-report.ts";
import { fixtureEntries } from "../_fixtures.ts";

/** Kernel lines of a capture from its first OOM opener on. */
async function reportLines(name: string): Promise<string[]> {
  const lines = (await fixtureEntries(name)).filter((e) => e.transport === "kernel").map((e) => e.message);
  return lines.slice(lines.findIndex((l) => / invoked oom-killer:/.test(l)));
}

describe("parseOomReport on real captures (Debian 12, kernel 6.18, cgroup v1 memcg)", () => {
  test("single memcg kill: trigger, victim, constraint, memcg, limit, table", async () => {
    const r = parseOomReport(await reportLines("real/oom-memcg-v1-kernel6.jsonl"), 4);
    expect(r.complete).toBe(true);
    expect(r.trigger).toEqual({ name: "python3", pid: 3546, gfpMask: "0xcc0", order: 0, oomScoreAdj: 0 });
    expect(r.victim?.name).toBe("python3");
    expect(r.victim?.pid).toBe(3546);
    expect(r.victim?.uid).toBe(0);
    expect(r.victim?.anonRssKb).toBe(65280);
    expect(r.victim?.fileRssKb).toBe(5328);
    expect(r.victim?.shmemRssKb).toBe(0);
    expect(r.victim?.oomScoreAdj).toBe(0);
    expect(r.constraint).toBe("CONSTRAINT_MEMCG");
    expect(r.memcg).toBe("/lt_test");
    expect(r.taskMemcg).toBe("/lt_test");
    expect(r.memcgLimitKb).toBe(65536);
    expect(r.memcgUsageKb).toBe(65536);
    // memcg reports carry no global Mem-Info
    expect(r.memTotalKb).toBeNull();
    expect(r.memFreeKb).toBeNull();
    // 6.8+ header with rss_anon/rss_file/rss_shmem: rss 17652 pages × 4 kB
    expect(r.topTasks).toEqual([{ pid: 3546, uid: 0, name: "python3", rssKb: 17652 * 4, totalVmKb: 19165 * 4, oomScoreAdj: 0 }]);
  });

  test("victim is not the hog: the table shows the bigger task first", async () => {
    const r = parseOomReport(await reportLines("real/oom-memcg-victim-not-hog.jsonl"), 4);
    expect(r.victim?.pid).toBe(4288);
    expect(r.victim?.oomScoreAdj).toBe(1000);
    expect(r.trigger?.pid).toBe(4291);
    expect(r.topTasks[0]?.pid).toBe(4291);
    expect(r.topTasks[0]?.rssKb).toBeGreaterThan(r.topTasks[1]?.rssKb ?? Infinity);
    expect(r.topTasks[1]?.pid).toBe(4288);
  });

  test("page size is applied to the task table, not assumed", async () => {
    const lines = await reportLines("real/oom-memcg-v1-kernel6.jsonl");
    expect(parseOomReport(lines, 64).topTasks[0]?.rssKb).toBe(17652 * 64);
  });

  test("the dmesg, kmsg and journal captures of one report parse identically", async () => {
    const fromJournal = parseOomReport(await reportLines("real/oom-memcg-v1-kernel6.jsonl"), 4);
    expect(parseOomReport(await reportLines("real/oom-memcg-v1-kernel6.dmesg.txt"), 4)).toEqual(fromJournal);
    expect(parseOomReport(await reportLines("real/oom-memcg-v1-kernel6.kmsg.txt"), 4)).toEqual(fromJournal);
  });
});

describe("line parsers", () => {
  test.each([
    [
      "python3",
      "Memory cgroup out of memory: Killed process 3546 (python3) total-vm:76660kB, anon-rss:65280kB, file-rss:5328kB, shmem-rss:0kB, UID:0 pgtables:184kB oom_score_adj:0",
    ],
    [
      "Plex Media Server",
      "Out of memory: Killed process 812 (Plex Media Server) total-vm:1000kB, anon-rss:900kB, file-rss:0kB, shmem-rss:0kB, UID:998 pgtables:12kB oom_score_adj:0",
    ],
    [
      "()",
      "Out of memory: Killed process 9 (()) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1kB oom_score_adj:0",
    ],
    ["with (parens)", "Killed process 10 (with (parens)) total-vm:1kB, anon-rss:2kB, file-rss:3kB, shmem-rss:4kB"],
  ])("Killed process names %p", (name, line) => {
    expect(parseKilledProcess(line)?.name).toBe(name);
  });

  test("4.x Killed process line: no UID, no oom_score_adj", () => {
    const v = parseKilledProcess("Killed process 2281 (stress) total-vm:1053436kB, anon-rss:1048488kB, file-rss:0kB, shmem-rss:0kB");
    expect(v).toMatchObject({ pid: 2281, name: "stress", uid: null, oomScoreAdj: null, anonRssKb: 1048488, memcgKill: false });
  });

  // mm/oom_kill.c before 2.6.36 said vsz for total-vm; RHEL 6's 2.6.32 prints the UID before the name.
  test("2.6.32 Killed process lines: vsz, and RHEL 6's UID first", () => {
    expect(parseKilledProcess("Killed process 2594 (java) vsz:4318704kB, anon-rss:1043192kB, file-rss:212kB")).toMatchObject({
      pid: 2594,
      name: "java",
      uid: null,
      totalVmKb: 4318704,
      anonRssKb: 1043192,
      fileRssKb: 212,
      shmemRssKb: null,
    });
    expect(
      parseKilledProcess("Killed process 11726, UID 498, (mysqld) total-vm:7823732kB, anon-rss:2539268kB, file-rss:768kB"),
    ).toMatchObject({ pid: 11726, name: "mysqld", uid: 498, totalVmKb: 7823732, anonRssKb: 2539268, fileRssKb: 768 });
  });

  test("oom-kill: pairs keep mems_allowed lists with commas", () => {
    const p = parseOomKillPairs(
      "constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0-1,3,global_oom,task_memcg=/user.slice,task=chrome,pid=42,uid=1000",
    );
    expect(p["mems_allowed"]).toBe("0-1,3");
    expect("global_oom" in p).toBe(true);
    expect(p["task"]).toBe("chrome");
    expect(p["uid"]).toBe("1000");
  });
});
