import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { appNameFromCgroup } from "../classify/cgroup-name.ts";
import { parseCgroupPath, parseCmdline, parseStatmResidentPages } from "../parse/proc-pid.ts";
import type { ProcessSample } from "./memory-history.ts";

// The largest processes by RSS, read cheaply: every /proc/PID/statm (one short line each) to
// rank them, then comm, cmdline and cgroup only for the few that are kept. Processes come and
// go during the scan; one that vanished is simply not counted.

function readSmall(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    // Gone since the directory was listed, or a kernel thread's empty file: not an error.
    return null;
  }
}

/** Who owns a cgroup path, for a person: the unit, container or app name; null for the root or an unknown path. */
export function ownerOfCgroup(path: string | null): string | null {
  if (path === null || path === "/" || path === "") return null;
  return appNameFromCgroup(path);
}

export function sampleTopProcesses(
  count: number,
  pageSizeKb: number,
  procRoot = "/proc",
  previous?: ReadonlyMap<number, ProcessSample>,
): ProcessSample[] {
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch {
    return [];
  }
  // Keep the `count` largest in a small sorted array: cheaper than sorting every process.
  const top: { pid: number; rssKb: number }[] = [];
  for (const name of names) {
    const first = name.charCodeAt(0);
    if (first < 48 || first > 57) continue;
    const statm = readSmall(join(procRoot, name, "statm"));
    if (statm === null) continue;
    const pages = parseStatmResidentPages(statm);
    if (pages === null || pages === 0) continue;
    const rssKb = pages * pageSizeKb;
    if (top.length === count && rssKb <= (top[top.length - 1] as { rssKb: number }).rssKb) continue;
    let i = top.length;
    while (i > 0 && (top[i - 1] as { rssKb: number }).rssKb < rssKb) i--;
    top.splice(i, 0, { pid: Number(name), rssKb });
    if (top.length > count) top.pop();
  }
  const out: ProcessSample[] = [];
  for (const { pid, rssKb } of top) {
    const dir = join(procRoot, String(pid));
    const comm = readSmall(join(dir, "comm"))?.trim();
    if (comm === undefined) continue;
    // The same process as last reading (same pid and name): its command line and owner have
    // not changed, and sharing them (and the whole sample when its RSS has not moved either)
    // keeps ten minutes of history to a few distinct objects.
    const known = previous?.get(pid);
    if (known && known.comm === comm) {
      out.push(known.rssKb === rssKb ? known : { ...known, rssKb });
      continue;
    }
    out.push({
      pid,
      comm,
      cmdline: parseCmdline(readSmall(join(dir, "cmdline")) ?? ""),
      rssKb,
      owner: ownerOfCgroup(parseCgroupPath(readSmall(join(dir, "cgroup")) ?? "")),
    });
  }
  return out;
}

/** Samples the largest processes reading after reading, reusing what it knew of each from the last one. */
export class TopProcessSampler {
  private previous = new Map<number, ProcessSample>();
  constructor(
    private readonly count: number,
    private readonly pageSizeKb: number,
    private readonly procRoot = "/proc",
  ) {}

  sample(): ProcessSample[] {
    const top = sampleTopProcesses(this.count, this.pageSizeKb, this.procRoot, this.previous);
    this.previous = new Map(top.map((p) => [p.pid, p]));
    return top;
  }
}
