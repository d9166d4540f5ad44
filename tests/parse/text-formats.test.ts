import { describe, expect, test } from "bun:test";
import { parseDmesgLine } from "../../src/parse/dmesg.ts";
import { Triage } from "../../src/classify/triage.ts";
import { ALL_GROUPS, triageFixture } from "../_fixtures.ts";

// The text shapes replay reads besides journal JSON. The journalctl lines were printed here by
// `journalctl -o FORMAT USER_UNIT=lt-core-SEGV.service` (journald and systemd --user 252, the
// unit from scripts/capture-unit-lines.sh); the <PRI> and RFC 5424 lines were sent by
// util-linux `logger -u SOCKET --rfc3164|--rfc5424` (2.38) and read off the socket.

const UTC = (iso: string) => Date.parse(iso) * 1000;

describe("journalctl text output", () => {
  test.each([
    ["short", "Dec 06 01:32:15 vm systemd[30181]: lt-core-SEGV.service: Failed with result 'core-dump'.", UTC("2026-12-06T01:32:15Z")],
    [
      "short-iso",
      "2026-12-06T01:32:15+0000 vm systemd[30181]: lt-core-SEGV.service: Failed with result 'core-dump'.",
      UTC("2026-12-06T01:32:15Z"),
    ],
    [
      "short-precise",
      "Dec 06 01:32:15.571166 vm systemd[30181]: lt-core-SEGV.service: Failed with result 'core-dump'.",
      UTC("2026-12-06T01:32:15.571166Z"),
    ],
    [
      "short-iso-precise",
      "2026-12-06T01:32:15.571166+0000 vm systemd[30181]: lt-core-SEGV.service: Failed with result 'core-dump'.",
      UTC("2026-12-06T01:32:15.571166Z"),
    ],
  ])("%s: identifier, pid, message and wall time", (_format, line, wallUs) => {
    const e = parseDmesgLine(line, { year: 2026 });
    expect(e).toMatchObject({
      identifier: "systemd",
      pid: 30181,
      transport: "syslog",
      message: "lt-core-SEGV.service: Failed with result 'core-dump'.",
    });
    // Classic syslog stamps are local time; this test machine runs in UTC.
    if (new Date().getTimezoneOffset() === 0) expect(Math.floor((e?.realtimeUs ?? 0) / 1000)).toBe(Math.floor(wallUs / 1000));
  });

  test("short-monotonic: the stamp is the line's, host and identifier follow", () => {
    const e = parseDmesgLine("[  870.226620] vm systemd[30181]: lt-core-SEGV.service: Failed with result 'core-dump'.", { year: 2026 });
    expect(e).toMatchObject({
      identifier: "systemd",
      pid: 30181,
      monotonicUs: 870_226_620,
      message: "lt-core-SEGV.service: Failed with result 'core-dump'.",
    });
    const k = parseDmesgLine(
      "[  152.468323] vm kernel: Memory cgroup out of memory: Killed process 4900 (lt-km-3184) total-vm:75532kB, anon-rss:64384kB, file-rss:2296kB, shmem-rss:0kB, UID:0 pgtables:192kB oom_score_adj:0",
      { year: 2026 },
    );
    expect(k).toMatchObject({ identifier: "kernel", transport: "kernel", monotonicUs: 152_468_323 });
    expect(k?.message).toStartWith("Memory cgroup out of memory: Killed process 4900");
  });

  test("dmesg's own comm[pid]: lines keep reading as kernel lines", () => {
    const e = parseDmesgLine(
      "[ 4215.123456] python3[4215]: segfault at 0 ip 00007f7d17185ad8 sp 00007fffd7a39a08 error 4 in libc.so.6[167ad8,7f7d17044000+156000]",
      { year: 2026 },
    );
    expect(e).toMatchObject({ identifier: "kernel", transport: "kernel" });
    expect(e?.message).toStartWith("python3[4215]: segfault at 0");
  });
});

describe("syslog files and sockets", () => {
  test("a line without a hostname", () => {
    expect(parseDmesgLine("Dec  6 01:32:15 kernel: ACPI: Core revision 20220331", { year: 2026 })).toMatchObject({
      identifier: "kernel",
      transport: "kernel",
      message: "ACPI: Core revision 20220331",
    });
    expect(parseDmesgLine("Dec  6 01:32:15 systemd[1]: nginx.service: Failed with result 'exit-code'.", { year: 2026 })).toMatchObject({
      identifier: "systemd",
      pid: 1,
      message: "nginx.service: Failed with result 'exit-code'.",
    });
  });

  test("a <PRI> tag before a BSD syslog line gives the priority", () => {
    expect(
      parseDmesgLine("<78>Dec  6 01:39:33 vm anacron[14511]: Job `cron.daily' terminated (exit status: 1) (mailing output)", {
        year: 2026,
      }),
    ).toMatchObject({
      identifier: "anacron",
      pid: 14511,
      priority: 6,
      message: "Job `cron.daily' terminated (exit status: 1) (mailing output)",
    });
    expect(parseDmesgLine("<28>Dec  6 01:39:33 vm myapp: lt-capture rfc3164 line", { year: 2026 })).toMatchObject({
      identifier: "myapp",
      priority: 4,
    });
  });

  test("RFC 5424, with and without structured data", () => {
    expect(
      parseDmesgLine(
        '<11>1 2026-12-06T01:39:33.051566+00:00 vm myapp - - [timeQuality tzKnown="1" isSynced="0"] lt-capture rfc5424 line',
        {},
      ),
    ).toMatchObject({
      identifier: "myapp",
      pid: null,
      priority: 3,
      realtimeUs: UTC("2026-12-06T01:39:33.051566Z"),
      message: "lt-capture rfc5424 line",
    });
    expect(
      parseDmesgLine(
        "<75>1 2026-12-06T01:39:33.066281+00:00 vm CRON 14510 - - (CRON) error (grandchild #4411 failed with exit status 2)",
        {},
      ),
    ).toMatchObject({ identifier: "CRON", pid: 14510, priority: 3, message: "(CRON) error (grandchild #4411 failed with exit status 2)" });
  });

  test("lines read from these formats are classified like journal entries", () => {
    const triage = new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS });
    const lines = [
      "<75>1 2026-12-06T01:39:33.066281+00:00 vm CRON 14510 - - (CRON) error (grandchild #4411 failed with exit status 2)",
      "Dec 06 01:32:15.570966 vm systemd[30181]: lt-core-SEGV.service: Main process exited, code=dumped, status=11/SEGV",
      "[  870.228139] vm systemd[30181]: Failed to start lt-core-SEGV.service - Dies of SIGSEGV with cores on.",
    ];
    const entries = lines.map((l) => parseDmesgLine(l, { year: 2026 })).filter((e) => e !== null);
    const rules = entries.flatMap((e) => triage.push(e, 0)).map((c) => c.rule);
    expect(rules).toEqual(["scheduled-job-failed", "unit-abnormal-exit-text", "unit-start-failed-text"]);
  });
});

describe("time", () => {
  const nowUs = Date.UTC(2026, 0, 3, 12) * 1000; // 3 Jan 2026, noon UTC

  test("a stamp without a year takes the latest year that does not put it in the future", () => {
    const dec = parseDmesgLine("Dec 31 23:00:00 vm systemd[1]: x.service: Failed with result 'exit-code'.", { nowUs });
    expect(new Date((dec?.realtimeUs ?? 0) / 1000).getFullYear()).toBe(2025);
    const jan = parseDmesgLine("Jan  2 08:00:00 vm systemd[1]: x.service: Failed with result 'exit-code'.", { nowUs });
    expect(new Date((jan?.realtimeUs ?? 0) / 1000).getFullYear()).toBe(2026);
  });

  test("replay --year wins over the guess", () => {
    const e = parseDmesgLine("Dec 31 23:00:00 vm systemd[1]: x.service: Failed with result 'exit-code'.", { year: 2019, nowUs });
    expect(new Date((e?.realtimeUs ?? 0) / 1000).getFullYear()).toBe(2019);
  });

  test("without a year or a clock the wall time stays unknown", () => {
    expect(parseDmesgLine("Dec 31 23:00:00 vm systemd[1]: x", {})?.realtimeUs).toBeNull();
  });

  test("dmesg seconds since boot become wall time when the boot's start is known, and stay relative otherwise", () => {
    const line =
      "[  152.468323] Memory cgroup out of memory: Killed process 4900 (lt-km-3184) total-vm:75532kB, anon-rss:64384kB, file-rss:2296kB, shmem-rss:0kB";
    const bootUs = UTC("2026-12-06T01:18:03Z");
    expect(parseDmesgLine(line, { bootRealtimeUs: bootUs })?.realtimeUs).toBe(bootUs + 152_468_323);
    expect(parseDmesgLine(line, {})).toMatchObject({ realtimeUs: null, monotonicUs: 152_468_323 });
  });
});

describe("the same real unit failures in every journalctl text format", () => {
  // tests/fixtures/real/unit-failures.FORMAT.txt: `journalctl -o FORMAT` of four units from
  // scripts/capture-unit-lines.sh (a core dump, exit 203, a start timeout, a stop timeout).
  const EXPECTED = [
    "unit-abnormal-exit-text",
    "unit-core-dump-result-text",
    "unit-start-failed-text",
    "unit-exit-failed-text",
    "unit-failed-text",
    "unit-start-failed-text",
    "unit-timeout",
    "unit-exit-failed-text",
    "unit-failed-text",
    "unit-start-failed-text",
    "unit-timeout",
    "unit-exit-failed-text",
    "unit-failed-text",
  ];
  test.each(["short", "short-iso", "short-precise", "short-iso-precise", "short-monotonic"])("-o %s", async (format) => {
    const { candidates } = await triageFixture(`real/unit-failures.${format}.txt`);
    expect(candidates.map((c) => c.rule)).toEqual(EXPECTED);
    expect(new Set(candidates.map((c) => c.unit))).toEqual(
      new Set(["lt-core-SEGV.service", "lt-exit-203.service", "lt-start-timeout.service", "lt-stop-timeout.service"]),
    );
  });
});
