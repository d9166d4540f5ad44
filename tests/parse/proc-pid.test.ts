import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parseCgroupPath, parseCmdline, parseStatmResidentPages } from "../../src/parse/proc-pid.ts";
import { parsePsi } from "../../src/parse/psi.ts";
import { ownerOfCgroup } from "../../src/host/proc-sample.ts";
import { fixturePath } from "../_fixtures.ts";

// /proc/PID files of a real python3 run as a transient `systemd --user` unit (see the fixtures' README).

const read = (name: string) => readFileSync(fixturePath(`real/proc/${name}`), "utf8");

test("statm: the resident pages are the second field", () => {
  expect(parseStatmResidentPages(read("pid-user-unit-statm.txt"))).toBe(12289);
  expect(parseStatmResidentPages("")).toBeNull();
  expect(parseStatmResidentPages("garbage")).toBeNull();
});

test("statm and status agree on the RSS (4 kB pages)", () => {
  const vmRssKb = Number(/VmRSS:\s+(\d+) kB/.exec(read("pid-user-unit-status.txt"))?.[1]);
  expect((parseStatmResidentPages(read("pid-user-unit-statm.txt")) as number) * 4).toBe(vmRssKb);
});

test("cmdline: NUL-separated arguments joined, cut with an ellipsis", () => {
  const raw = read("pid-user-unit-cmdline.bin");
  expect(parseCmdline(raw, 200)).toBe("/usr/bin/python3 -c import time; b = bytearray(40*1024*1024); time.sleep(30) --flag-arg");
  const cut = parseCmdline(raw, 20);
  expect(cut).toBe("/usr/bin/python3 -c…");
  expect(cut.length).toBe(20);
  expect(parseCmdline("")).toBe("");
});

test("cgroup: the unit's path from v2 or v1's name=systemd line; its owner by name", () => {
  const path = parseCgroupPath(read("pid-user-unit-cgroup.txt"));
  expect(path).toBe("/app.slice/lt-capture-30761.service");
  expect(ownerOfCgroup(path)).toBe("lt-capture-30761.service");
  // v1 only (no "0::" line): the name=systemd hierarchy.
  const v1 = read("pid-user-unit-cgroup.txt")
    .split("\n")
    .filter((l) => !l.startsWith("0::"))
    .join("\n");
  expect(parseCgroupPath(v1)).toBe("/app.slice/lt-capture-30761.service");
  expect(ownerOfCgroup(parseCgroupPath(read("pid-shell-cgroup.txt")))).toBe("init.scope");
  expect(ownerOfCgroup("/")).toBeNull();
  expect(ownerOfCgroup("/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4521.scope")).toBe("firefox");
});

test("the real thrashing series parses reading by reading", () => {
  const readings = read("pressure-memory-thrash-series.txt")
    .trim()
    .split("\n")
    .map((line) => parsePsi(line.replace(" full", "\nfull")));
  expect(readings).toHaveLength(20);
  expect(readings[0]?.some.avg10).toBe(0);
  expect(readings[19]?.full?.avg10).toBe(13.01);
});
