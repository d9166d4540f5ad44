import type { OomReport, OomTask, OomVictim } from "../event.ts";

// The kernel's OOM report, line by line (mm/oom_kill.c dump_header() and friends).
// Shapes by kernel version:
//   all:   "python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0"
//          (4.x adds "nodemask=(null)," before order)
//   all:   "CPU: 1 PID: 4215 Comm: python3 Not tainted 6.1.0-18-amd64 #1"
//          (6.12+ inserts "UID: 0 " after the CPU number)
//   global: "Mem-Info:" then " free:12345 free_pcp:..." (pages), "4194173 pages RAM"
//   memcg: "memory: usage 65536kB, limit 65536kB, failcnt 42"; 4.x also
//          "Task in /lt_test killed as a result of limit of /lt_test"
//   table: "Tasks state (memory values in pages):" then a header naming the columns, which
//          differ by version — parse by header, not by position (cadvisor learned this):
//            4.9:  [ pid ]   uid  tgid total_vm      rss nr_ptes nr_pmds swapents oom_score_adj name
//            4.19+:[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name
//            6.8+: [  pid  ]   uid  tgid total_vm      rss rss_anon rss_file rss_shmem pgtables_bytes swapents oom_score_adj name
//   4.19+: "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,
//           oom_memcg=/lt_test,task_memcg=/lt_test,task=python3,pid=4215,uid=0"
//   kill:  "Memory cgroup out of memory: Killed process 4215 (python3) total-vm:80000kB,
//           anon-rss:63000kB, file-rss:4000kB, shmem-rss:0kB, UID:0 pgtables:180kB oom_score_adj:0"
//          (4.x: "Out of memory: Kill process N (x) score N or sacrifice child" first, and
//           the Killed line stops after shmem-rss)
//   after: "oom_reaper: reaped process 4215 (python3), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB"

export const OOM_OPENER = /^(.+?) invoked oom-killer: (.*)$/;
// 4.4 and older print no shmem-rss; CentOS 7's 3.10 puts ", UID N," before total-vm. Older
// mm/oom_kill.c: 2.6.32-2.6.35 "Killed process %d (%s) vsz:%lukB, anon-rss:%lukB, file-rss:%lukB";
// RHEL 6's 2.6.32 "Killed process %d, UID %d, (%s) total-vm:%lukB, anon-rss:%lukB, file-rss:%lukB".
export const OOM_KILLED =
  /^(?:(?<scope>[^:]*out of memory(?: \([^)]*\))?): )?Killed process (?<pid>\d+)(?:, UID (?<uidFirst>\d+),)? \((?<name>.*)\)(?:, UID (?<uid>\d+),)? (?:total-vm|vsz):(?<totalVm>\d+)kB, anon-rss:(?<anon>\d+)kB, file-rss:(?<file>\d+)kB(?:, shmem-rss:(?<shmem>\d+)kB)?(?<tail>.*)$/i;

const CPU_LINE = /^CPU: \d+ (?:UID: \d+ )?PID: (\d+) Comm: (.*?)(?: (?:Not tainted|Tainted: )|$)/;
const MEMCG_USAGE = /^memory: usage (\d+)kB, limit (\d+)kB/;
const TASK_IN_LIMIT = /^Task in (\S+) killed as a result of limit of (\S+)/;
const PAGES_RAM = /^(\d+) pages RAM$/;
const FREE_PAGES = /(?:^|\s)free:(\d+)(?:\s|$)/;
const TABLE_HEADER = /^\[\s*pid\s*\]\s+(.*)$/;
const TABLE_ROW = /^\[\s*(\d+)\]\s+(.*)$/;
const OOM_KILL_LINE = /^oom-kill:(.*)$/;
// 4.x: "Memory cgroup out of memory: Kill process 4215 (python3) score 1000 or sacrifice child";
// 2.6.24-2.6.35: "Out of memory: kill process 2594 (java) score 1044185 or a child".
const OLD_KILL_CHOICE = /^(Memory cgroup out of memory|Out of memory[^:]*): [Kk]ill process (\d+) \((.*)\) score/;

function parseOpener(match: RegExpExecArray): OomReport["trigger"] {
  const args = match[2] as string;
  const gfp = /gfp_mask=([^,\s(]+)/.exec(args);
  const order = /order=(-?\d+)/.exec(args);
  const adj = /oom_score_adj=(-?\d+)/.exec(args);
  return {
    name: match[1] as string,
    pid: null,
    gfpMask: gfp ? (gfp[1] as string) : null,
    order: order ? Number(order[1]) : null,
    oomScoreAdj: adj ? Number(adj[1]) : null,
  };
}

/** The victim's RSS at the kill, as the kernel's `Killed process` line splits it: anon + file + shmem. */
export function victimRssKb(v: OomVictim): number {
  return (v.anonRssKb ?? 0) + (v.fileRssKb ?? 0) + (v.shmemRssKb ?? 0);
}

/** "constraint=X,nodemask=(null),cpuset=/,mems_allowed=0-1,3,global_oom,task=…" → pairs. */
export function parseOomKillPairs(text: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  // mems_allowed may itself hold commas ("0-1,3"): split only before "key=" or a bare flag.
  for (const part of text.split(/,(?=[a-z_]+(?:=|,|$))/)) {
    const eq = part.indexOf("=");
    if (eq < 0) pairs[part] = "";
    else pairs[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return pairs;
}

/** Parse a `Killed process` line into the victim. */
export function parseKilledProcess(line: string): (OomVictim & { memcgKill: boolean }) | null {
  const g = OOM_KILLED.exec(line)?.groups;
  if (!g) return null;
  const tail = g["tail"] as string;
  const uid = g["uidFirst"] ?? g["uid"] ?? /UID:(\d+)/.exec(tail)?.[1];
  const adj = /oom_score_adj:(-?\d+)/.exec(tail);
  return {
    name: g["name"] as string,
    pid: Number(g["pid"]),
    uid: uid === undefined ? null : Number(uid),
    totalVmKb: Number(g["totalVm"]),
    anonRssKb: Number(g["anon"]),
    fileRssKb: Number(g["file"]),
    shmemRssKb: g["shmem"] === undefined ? null : Number(g["shmem"]),
    oomScoreAdj: adj ? Number(adj[1]) : null,
    memcgKill: /memory cgroup/i.test(g["scope"] ?? ""),
  };
}

interface TableLayout {
  columns: string[];
}

function parseTableRow(layout: TableLayout, pid: number, rest: string, pageSizeKb: number): OomTask | null {
  // Every column but the last ("name") is numeric; the name may contain spaces
  // ("Plex Media Server"), so it is whatever follows the numeric columns.
  const numericCount = layout.columns.length - 1;
  const parts = rest.trim().split(/\s+/);
  if (parts.length < numericCount + 1) return null;
  const values: Record<string, number> = {};
  for (let i = 0; i < numericCount; i++) {
    const n = Number(parts[i]);
    if (!Number.isFinite(n)) return null;
    values[layout.columns[i] as string] = n;
  }
  const name = parts.slice(numericCount).join(" ");
  const rssPages = values["rss"];
  if (rssPages === undefined) return null;
  const totalVm = values["total_vm"];
  return {
    pid,
    uid: values["uid"] ?? null,
    name,
    rssKb: rssPages * pageSizeKb,
    totalVmKb: totalVm === undefined ? null : totalVm * pageSizeKb,
    oomScoreAdj: values["oom_score_adj"] ?? null,
  };
}

/**
 * Parse the lines of one OOM report (messages only, one kernel line each, in order).
 * `pageSizeKb` converts the `Tasks state` table, which counts pages: 4 on x86_64, 16 or 64
 * on some arm64 kernels — take it from the machine, never assume.
 */
export function parseOomReport(lines: readonly string[], pageSizeKb: number, topN = 5): OomReport {
  const report: OomReport = {
    trigger: null,
    victim: null,
    constraint: null,
    memcg: null,
    taskMemcg: null,
    memTotalKb: null,
    memFreeKb: null,
    memcgUsageKb: null,
    memcgLimitKb: null,
    topTasks: [],
    complete: false,
  };
  const tasks: OomTask[] = [];
  let layout: TableLayout | null = null;
  let inMemInfo = false;
  let sawMemcgSignal = false;
  let sawGlobalKill = false;
  let killLineUid: { pid: number; uid: number } | null = null;

  for (const raw of lines) {
    const line = raw.trimEnd();
    let m: RegExpExecArray | null;
    if (report.trigger === null && (m = OOM_OPENER.exec(line))) {
      report.trigger = parseOpener(m);
      continue;
    }
    if ((m = CPU_LINE.exec(line))) {
      if (report.trigger && report.trigger.pid === null) report.trigger.pid = Number(m[1]);
      continue;
    }
    if (line === "Mem-Info:") {
      inMemInfo = true;
      continue;
    }
    if (inMemInfo && report.memFreeKb === null && (m = FREE_PAGES.exec(line))) {
      report.memFreeKb = Number(m[1]) * pageSizeKb;
      continue;
    }
    if ((m = PAGES_RAM.exec(line))) {
      report.memTotalKb = Number(m[1]) * pageSizeKb;
      inMemInfo = false;
      continue;
    }
    if ((m = MEMCG_USAGE.exec(line))) {
      report.memcgUsageKb = Number(m[1]);
      report.memcgLimitKb = Number(m[2]);
      sawMemcgSignal = true;
      continue;
    }
    if ((m = TASK_IN_LIMIT.exec(line))) {
      report.taskMemcg = m[1] as string;
      report.memcg = m[2] as string;
      sawMemcgSignal = true;
      continue;
    }
    if ((m = TABLE_HEADER.exec(line))) {
      layout = { columns: (m[1] as string).trim().split(/\s+/) };
      inMemInfo = false;
      continue;
    }
    if (layout && (m = TABLE_ROW.exec(line))) {
      const task = parseTableRow(layout, Number(m[1]), m[2] as string, pageSizeKb);
      if (task) tasks.push(task);
      continue;
    }
    if ((m = OOM_KILL_LINE.exec(line))) {
      const pairs = parseOomKillPairs(m[1] as string);
      report.constraint = pairs["constraint"] ?? report.constraint;
      if (pairs["oom_memcg"]) report.memcg = pairs["oom_memcg"];
      if (pairs["task_memcg"]) report.taskMemcg = pairs["task_memcg"];
      if (pairs["uid"] !== undefined && pairs["pid"] !== undefined) killLineUid = { pid: Number(pairs["pid"]), uid: Number(pairs["uid"]) };
      continue;
    }
    if ((m = OLD_KILL_CHOICE.exec(line))) {
      if (/memory cgroup/i.test(m[1] as string)) sawMemcgSignal = true;
      else sawGlobalKill = true;
      continue;
    }
    const victim = parseKilledProcess(line);
    if (victim) {
      const { memcgKill, ...rest } = victim;
      report.victim = rest;
      report.complete = true;
      if (memcgKill) sawMemcgSignal = true;
      else if (/out of memory/i.test(line)) sawGlobalKill = true;
      // Kernels before 5.x print no UID on the kill line; the table row has it.
      if (rest.uid === null) {
        const row = tasks.find((t) => t.pid === rest.pid);
        if (row) report.victim.uid = row.uid;
      }
      if (rest.oomScoreAdj === null) {
        const row = tasks.find((t) => t.pid === rest.pid);
        if (row) report.victim.oomScoreAdj = row.oomScoreAdj;
      }
      continue;
    }
  }
  // Kernels before 4.19 have no oom-kill: line; infer the constraint from what they print.
  if (report.constraint === null) {
    if (sawMemcgSignal) report.constraint = "CONSTRAINT_MEMCG";
    else if (sawGlobalKill || report.memTotalKb !== null) report.constraint = "CONSTRAINT_NONE";
  }
  if (report.victim && report.victim.uid === null && killLineUid?.pid === report.victim.pid) {
    report.victim.uid = killLineUid.uid;
  }
  report.topTasks = tasks.sort((a, b) => b.rssKb - a.rssKb || a.pid - b.pid).slice(0, topN);
  return report;
}
