import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import {
  apportReportPrefix,
  describeFrame,
  parseCoredumpInfo,
  parseCoredumpList,
  parseCorePattern,
  parseStackFrames,
} from "../../src/parse/coredump.ts";
import { fixtureEntries, fixturePath } from "../_fixtures.ts";

// Real output of systemd-coredump / coredumpctl 252.39 on this project's Debian 12 VM
// (tests/fixtures/real/README.md, section 6).

const infoText = readFileSync(fixturePath("real/coredumpctl-info.txt"), "utf8");
const [cInfo, pythonInfo] = infoText.split(/\n\n(?=\s*PID: )/) as [string, string];

describe("parseCoredumpInfo", () => {
  test("a C program's NULL dereference: symbol names from its debug info", () => {
    const info = parseCoredumpInfo(cInfo);
    expect(info?.pid).toBe(9701);
    expect(info?.comm).toBe("crashme");
    expect(info?.signalNumber).toBe(11);
    expect(info?.signalName).toBe("SIGSEGV");
    expect(info?.executable).toBe("/tmp/lt/crashme");
    expect(info?.unit).toBe("lt-crash-c.service");
    expect(info?.userUnit).toBeNull();
    expect(info?.storagePath).toBe("/var/lib/systemd/coredump/core.crashme.0.fbab4f0ccbf945e1805b9ef1c3915417.9701.1795373747000000.zst");
    expect(info?.storageState).toBe("present");
    expect(info?.sizeOnDisk).toBe("16.4K");
    expect(info?.frames.map(describeFrame)).toEqual([
      "#0 main (crashme + 0x1218)",
      "#1 __libc_start_call_main (libc.so.6 + 0x2724a)",
      "#2 __libc_start_main_impl (libc.so.6 + 0x27305)",
      "#3 _start (crashme + 0x1081)",
    ]);
  });

  test("python3 in ctypes: 19 frames, n/a where there is no symbol, two-digit indexes", () => {
    const info = parseCoredumpInfo(pythonInfo);
    expect(info?.pid).toBe(9747);
    expect(info?.executable).toBe("/usr/bin/python3.11");
    expect(info?.frames).toHaveLength(19);
    expect(info?.frames[0]).toEqual({
      index: 0,
      address: "0x00007f78faf5aad8",
      func: "__strlen_evex",
      object: "libc.so.6",
      offset: "0x167ad8",
    });
    expect(info?.frames[1]?.func).toBeNull();
    expect(info?.frames[1]?.object).toBe("_ctypes.cpython-311-x86_64-linux-gnu.so");
    expect(info?.frames[10]?.index).toBe(10);
    expect(info?.frames[18]?.func).toBe("_start");
  });

  test("both records printed together: the first one is returned", () => {
    expect(parseCoredumpInfo(infoText)?.pid).toBe(9701);
  });

  test("a dump systemd-coredump did not keep: Storage: none, no size", () => {
    const info = parseCoredumpInfo(cInfo.replace(/ {7}Storage: .*\n {2}Size on Disk: .*\n/, "       Storage: none\n"));
    expect(info?.storagePath).toBeNull();
    expect(info?.storageState).toBe("none");
    expect(info?.sizeOnDisk).toBeNull();
  });

  test.each([[""], ["No coredumps found.\n"], ["garbage: here"]])("not an info record: %p → null", (text) => {
    expect(parseCoredumpInfo(text)).toBeNull();
  });
});

describe("parseStackFrames from the journal entry's MESSAGE", () => {
  test("the coredump entry of the C crash carries the same frames as coredumpctl info", async () => {
    const entries = await fixtureEntries("real/coredump-c-program.jsonl");
    const dump = entries.find((e) => e.messageId === "fc2e22bc6ee647b6b90729ab34a250b1");
    expect(dump).toBeDefined();
    const frames = parseStackFrames(dump?.message ?? "");
    expect(frames.map(describeFrame)).toEqual(parseCoredumpInfo(cInfo)?.frames.map(describeFrame) ?? []);
  });

  test("a message without a stack trace (no elfutils) has no frames", () => {
    expect(parseStackFrames("Process 9701 (crashme) of user 0 dumped core.")).toEqual([]);
  });
});

describe("parseCoredumpList", () => {
  test("coredumpctl --json=short list: sizes in bytes, a deleted core is missing with size null", () => {
    const rows = parseCoredumpList(readFileSync(fixturePath("real/coredumpctl-list.json"), "utf8"));
    expect(rows).toHaveLength(3);
    expect(rows?.[0]).toEqual({
      timeUs: 1795373714066924,
      pid: 9532,
      signal: 11,
      corefile: "missing",
      exe: "/tmp/lt/crashme",
      sizeBytes: null,
    });
    expect(rows?.[2]).toEqual({
      timeUs: 1795373756810763,
      pid: 9747,
      signal: 11,
      corefile: "present",
      exe: "/usr/bin/python3.11",
      sizeBytes: 627923,
    });
  });

  test.each([["No coredumps found.\n"], ["{}"], [""]])("not the JSON array: %p → null", (text) => {
    expect(parseCoredumpList(text)).toBeNull();
  });
});

describe("parseCorePattern", () => {
  test.each([
    // Debian's 50-coredump.conf (systemd 252)
    ["|/lib/systemd/systemd-coredump %P %u %g %s %t 9223372036854775808 %h %d\n", { kind: "systemd-coredump" }],
    // Ubuntu 22.04's apport
    ["|/usr/share/apport/apport -p%p -s%s -c%c -d%d -P%P -u%u -g%g -- %E\n", { kind: "apport" }],
    // what systemd-coredump writes after it decides PID 1 crashed (captured here)
    ["|/bin/false\n", { kind: "disabled", why: "core_pattern pipes to /bin/false" }],
    ["core\n", { kind: "file", pattern: "core" }],
    ["/var/cores/core.%e.%p\n", { kind: "file", pattern: "/var/cores/core.%e.%p" }],
    ["|/usr/lib/abrt/abrt-hook-ccpp %s %c %p %u %g %t %e\n", { kind: "pipe", program: "/usr/lib/abrt/abrt-hook-ccpp" }],
    ["\n", { kind: "disabled", why: "core_pattern is empty" }],
  ])("%p", (text, target) => {
    expect(parseCorePattern(text)).toEqual(target as ReturnType<typeof parseCorePattern>);
  });
});

test("apport names its report after the executable's path", () => {
  expect(apportReportPrefix("/usr/bin/python3.11")).toBe("_usr_bin_python3.11");
});
