// Per-process files under /proc/PID (proc(5)), for the memory history's top consumers:
//   statm    "size resident shared text lib data dt" in pages; resident is the RSS.
//   cmdline  arguments separated (and ended) by NUL; empty for kernel threads.
//   cgroup   "hierarchy-ID:controllers:path" lines; "0::/path" on cgroup v2, and on v1 the
//            "name=systemd" hierarchy is the one systemd names units in.

/** Resident pages from statm; null when the text is not a statm line. */
export function parseStatmResidentPages(text: string): number | null {
  const fields = text.trim().split(/\s+/);
  if (fields.length < 2) return null;
  const resident = Number(fields[1]);
  return Number.isInteger(resident) && resident >= 0 ? resident : null;
}

/** The command line as one string, arguments joined by spaces, cut to `maxChars` (with "…"). */
export function parseCmdline(raw: string, maxChars = 60): string {
  const joined = raw.replace(/\0+$/, "").split("\0").join(" ").trim();
  return joined.length <= maxChars ? joined : `${joined.slice(0, maxChars - 1)}…`;
}

/**
 * The cgroup path systemd placed the process in: the v2 unified path, else v1's name=systemd
 * hierarchy, else the memory controller's (a v1 memcg made by hand). Null when none is there.
 */
export function parseCgroupPath(text: string): string | null {
  let named: string | null = null;
  let memory: string | null = null;
  for (const line of text.split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, controllers, path] = m as unknown as [string, string, string, string];
    if (id === "0" && controllers === "") return path;
    if (controllers.split(",").includes("name=systemd")) named = path;
    else if (controllers.split(",").includes("memory")) memory = path;
  }
  return named ?? memory;
}
