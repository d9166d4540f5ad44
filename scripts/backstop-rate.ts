// `bun scripts/backstop-rate.ts FILE… [--assume-err]`: how often the kernel-error-unrecognized
// backstop fires on kernel lines of healthy machines. FILE is `journalctl -k -o json` output
// (each line's own PRIORITY is used) or plain dmesg text ("[ sec.usec] message"; its lines have
// no priority, so they are only counted with --assume-err, which takes every line that reads like
// a failure (error, fail, fault, timed out, abort) as printed at err: an upper bound, since the
// kernel prints most such lines at info or warning).
import { Triage } from "../src/classify/triage.ts";
import { parseJournalLine } from "../src/parse/journal-json.ts";
import { parseKmsgRecord } from "../src/parse/kmsg.ts";
import type { Entry } from "../src/event.ts";

const args = process.argv.slice(2);
const assumeErr = args.includes("--assume-err");
const files = args.filter((a) => !a.startsWith("--"));
if (files.length === 0) {
  console.error("usage: bun scripts/backstop-rate.ts FILE… [--assume-err]");
  process.exit(2);
}
const groups = new Set(["core", "gpu", "raid", "file_sharing", "containers", "coredumps", "memory_pressure"] as const);
let lines = 0;
let errLines = 0;
const fired: string[] = [];
for (const file of files) {
  for (const raw of (await Bun.file(file).text()).split(/\r?\n/)) {
    if (!raw.trim()) continue;
    let entry: Entry | null;
    if (raw.startsWith("{")) {
      entry = parseJournalLine(raw);
      if (!entry || entry.transport !== "kernel") continue;
    } else {
      const m = /^\[\s*\d+\.\d+\] ?(.*)$/.exec(raw);
      if (!m || !assumeErr) continue;
      const text = m[1] as string;
      entry = parseKmsgRecord(`${/error|fail|\bfault|timed? out|abort/i.test(text) ? 3 : 6},0,0,-;${text.replace(/\\/g, "\\x5c")}`, null);
      if (!entry) continue;
    }
    lines++;
    if (entry.priority !== null && entry.priority <= 3) errLines++;
    // Each line alone, as the worst case: no report or incident around it absorbs it.
    const triage = new Triage({ pageSizeKb: 4, enabledGroups: groups });
    const out = [...triage.push(entry, 0), ...triage.flush(0)];
    for (const c of out) if (c.rule === "kernel-error-unrecognized") fired.push(entry.message);
  }
}
console.log(
  `kernel lines: ${lines}, at err or worse: ${errLines}, backstop events: ${fired.length} (${lines ? ((fired.length / lines) * 10_000).toFixed(2) : "n/a"} per 10,000 lines)`,
);
for (const m of fired) console.log(`  ${m}`);
