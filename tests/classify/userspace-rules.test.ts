import { describe, expect, test } from "bun:test";
import type { Candidate } from "../../src/event.ts";
import { Triage } from "../../src/classify/triage.ts";
import { MESSAGE_ID } from "../../src/classify/systemd-ids.ts";
import { journalRecordToEntry } from "../../src/parse/journal-json.ts";
import { ALL_GROUPS } from "../_fixtures.ts";

// One line per rule of the OOM, crash and service families, as journald stores it, and the
// near misses each rule must leave alone. The lines and their sources are in
// tests/fixtures/public/corpus/*.jsonl; here each rule's own behaviour is pinned.

type Fields = Record<string, string>;
const KERNEL: Fields = { _TRANSPORT: "kernel", PRIORITY: "3" };
const SYSTEMD: Fields = { SYSLOG_IDENTIFIER: "systemd", _PID: "1", _TRANSPORT: "journal", PRIORITY: "4" };

function classify(message: string, fields: Fields): Candidate[] {
  const triage = new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS });
  const entry = journalRecordToEntry({
    MESSAGE: message,
    __REALTIME_TIMESTAMP: "1780000000000000",
    __MONOTONIC_TIMESTAMP: "1000000",
    ...fields,
  });
  if (!entry) throw new Error("bad record");
  return [...triage.push(entry, 0), ...triage.flush(0)];
}

const CASES: [rule: string, message: string, fields: Fields, check?: (c: Candidate) => void][] = [
  [
    "kernel-oom-kill-summary",
    "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/lt_capture_30149,task_memcg=/lt_capture_30149,task=python3,pid=30694,uid=0",
    KERNEL,
    (c) => expect([c.pid, c.process, c.unit]).toEqual([30694, "python3", "lt_capture_30149"]),
  ],
  [
    "kernel-oom-kill-choice",
    "Memory cgroup out of memory: Kill process 42453 (memcg_test_1) score 0 or sacrifice child",
    KERNEL,
    (c) => expect(c.summary).toContain("memory cgroup"),
  ],
  [
    "kernel-memcg-oom-limit",
    "Task in /docker/34186d9b1c killed as a result of limit of /docker/34186d9b1c",
    KERNEL,
    (c) => expect(c.unit).toBe("34186d9b1c"),
  ],
  ["kernel-oom-no-victim", "Out of memory and no killable processes...", KERNEL],
  [
    "oom-reaper",
    "oom_reaper: reaped process 2935 (firefox.real), now anon-rss:0kB, file-rss:32kB, shmem-rss:9248kB",
    KERNEL,
    (c) => expect(c.pid).toBe(2935),
  ],
  [
    "unit-oom-notice",
    "mysqld.service: A process of this unit has been killed by the OOM killer.",
    { ...SYSTEMD, MESSAGE_ID: MESSAGE_ID.unitOutOfMemory, UNIT: "mysqld.service" },
    (c) => expect(c.tier).toBe("T1"),
  ],
  [
    "unit-oom-notice-text",
    "mysqld.service: A process of this unit has been killed by the OOM killer.",
    SYSTEMD,
    (c) => expect(c.unit).toBe("mysqld.service"),
  ],
  [
    "unit-oom-result",
    "mysqld.service: Failed with result 'oom-kill'.",
    { ...SYSTEMD, MESSAGE_ID: MESSAGE_ID.unitFailureResult, UNIT: "mysqld.service", UNIT_RESULT: "oom-kill" },
    (c) => expect(c.tier).toBe("T1"),
  ],
  ["unit-oom-result-text", "mysqld.service: Failed with result 'oom-kill'.", SYSTEMD],
  [
    "earlyoom-kill",
    'sending SIGTERM to process 997 uid 1000 "my-process-name": oom_score 1146, oom_score_adj 0, VmRSS 23007 MiB, cmdline "my-process-name"',
    { SYSLOG_IDENTIFIER: "earlyoom" },
    (c) => expect(c.summary).toContain("SIGTERM"),
  ],
  [
    "earlyoom-kill",
    'sending SIGKILL to process 12006 "python3": badness 209, VmRSS 2891 MiB',
    { SYSLOG_IDENTIFIER: "earlyoom" },
    (c) => expect(c.summary).toContain("SIGKILL"),
  ],
  ["nohang-kill", "  Run the command: kill -KILL 12297", { SYSLOG_IDENTIFIER: "nohang" }, (c) => expect(c.summary).toContain("SIGKILL")],
  [
    "unit-abnormal-exit",
    "lt-core-QUIT.service: Main process exited, code=dumped, status=3/QUIT",
    { ...SYSTEMD, MESSAGE_ID: MESSAGE_ID.unitProcessExit, USER_UNIT: "lt-core-QUIT.service", EXIT_CODE: "dumped", EXIT_STATUS: "3" },
    (c) => expect(c.tier).toBe("T2"),
  ],
  ["unit-abnormal-exit-text", "redis-server.service: main process exited, code=killed, status=11/SEGV", SYSTEMD],
  [
    "unit-core-dump-result",
    "php-fpm.service: Failed with result 'core-dump'.",
    { ...SYSTEMD, MESSAGE_ID: MESSAGE_ID.unitFailureResult, UNIT: "php-fpm.service", UNIT_RESULT: "core-dump" },
  ],
  [
    "coredump-text",
    "Process 13404 (systemd) of user 0 terminated abnormally with signal 7/BUS, processing...",
    { SYSLOG_IDENTIFIER: "systemd-coredump" },
    (c) => expect([c.pid, c.process]).toEqual([13404, "systemd"]),
  ],
  ["systemd-manager-crash", "Caught <ABRT>, dumped core as pid 453.", SYSTEMD, (c) => expect(c.summary).toContain("SIGABRT")],
  [
    "abrt-crash",
    "Process 361013 (vim) of user 500 killed by SIGSEGV - dumping core",
    { SYSLOG_IDENTIFIER: "abrt-hook-ccpp" },
    (c) => expect([c.pid, c.process]).toEqual([361013, "vim"]),
  ],
  [
    "apport-crash",
    "called for pid 4321, signal 11, core limit 0, dump mode 1",
    { SYSLOG_IDENTIFIER: "apport" },
    (c) => expect(c.pid).toBe(4321),
  ],
  [
    "audit-anom-abend",
    'type=ANOM_ABEND msg=audit(1545007249.541:227013641): auid=4294967295 uid=1000 gid=33 ses=4294967295 pid=95382 comm="apache2" exe="/usr/sbin/apache2" sig=11',
    { _TRANSPORT: "audit", SYSLOG_IDENTIFIER: "audit" },
    (c) => expect([c.pid, c.process]).toEqual([95382, "apache2"]),
  ],
  [
    "kernel-user-fault-arch",
    "CG_A[7194]: unhandled level 2 translation fault (11) at 0x00000028, esr 0x92000006",
    KERNEL,
    (c) => expect([c.pid, c.process]).toEqual([7194, "CG_A"]),
  ],
  [
    "kernel-user-fault-arch",
    "java[3310]: bus error (7) at 0 nip 10000500 lr 7fff8f3c1234 code 1 in java[10000000+10000]",
    KERNEL,
    (c) => expect(c.summary).toContain("bus error"),
  ],
  ["kernel-user-fault-arch", "User process fault: interruption code 0011 ilc:3 in a.out[1000000+1000]", KERNEL],
  [
    "unit-exit-failed",
    "lt-exit-203.service: Main process exited, code=exited, status=203/EXEC",
    { ...SYSTEMD, MESSAGE_ID: MESSAGE_ID.unitProcessExit, USER_UNIT: "lt-exit-203.service", EXIT_CODE: "exited", EXIT_STATUS: "203" },
    (c) => expect(c.summary).toContain("the executable could not be run"),
  ],
  ["unit-exit-failed-text", "httpd.service: control process exited, code=exited status=1", SYSTEMD],
  ["unit-entered-failed", "Unit httpd.service entered failed state.", SYSTEMD, (c) => expect(c.unit).toBe("httpd.service")],
  ["unit-entered-failed", "oscars-backend.service failed.", SYSTEMD],
  [
    "unit-timeout",
    "lt-stop-timeout.service: State 'stop-sigterm' timed out. Killing.",
    SYSTEMD,
    (c) => expect(c.unit).toBe("lt-stop-timeout.service"),
  ],
  ["unit-timeout", "Job dev-sdb1.device/start timed out.", SYSTEMD, (c) => expect(c.unit).toBe("dev-sdb1.device")],
  ["unit-timeout", "systemd-journald.service watchdog timeout!", SYSTEMD, (c) => expect(c.unit).toBe("systemd-journald.service")],
  ["unit-start-limit-hit", "start request repeated too quickly for httpd.service", SYSTEMD],
  ["unit-start-failed-text", "Failed to start The Apache HTTP Server.", SYSTEMD],
  ["scheduled-job-failed", "(CRON) error (grandchild #28810 failed with exit status 1)", { SYSLOG_IDENTIFIER: "CRON" }],
  [
    "scheduled-job-failed",
    "Job `cron.daily' terminated (exit status: 1) (mailing output)",
    { SYSLOG_IDENTIFIER: "anacron" },
    (c) => expect(c.process).toBe("cron.daily"),
  ],
  ["scheduled-job-failed", "ALERT exited abnormally with [1]", { SYSLOG_IDENTIFIER: "logrotate" }],
  [
    "container-storage-corrupt",
    'time="2017-12-08T10:31:04Z" level=error msg="Handler for GET /v1.32/containers/x/logs returned error: readlink /var/lib/docker/overlay2/l: invalid argument"',
    { SYSLOG_IDENTIFIER: "dockerd" },
  ],
];

describe("userspace rules: one line each", () => {
  test.each(CASES.map(([rule, message, fields, check]) => [rule, message, fields, check] as const))(
    "%s: %s",
    (rule, message, fields, check) => {
      const found = classify(message, fields);
      expect(found.map((c) => c.rule)).toEqual([rule]);
      check?.(found[0] as Candidate);
    },
  );
});

const NEAR_MISSES: [why: string, message: string, fields: Fields][] = [
  [
    "a clean exit logged at debug level",
    "lt-ok.service: Main process exited, code=exited, status=0/SUCCESS",
    {
      ...SYSTEMD,
      PRIORITY: "7",
      MESSAGE_ID: MESSAGE_ID.unitProcessExit,
      USER_UNIT: "lt-ok.service",
      EXIT_CODE: "exited",
      EXIT_STATUS: "0",
    },
  ],
  [
    "a daemon stopped by SIGTERM, which systemd counts as clean (debug)",
    "nginx.service: Main process exited, code=killed, status=15/TERM",
    { ...SYSTEMD, PRIORITY: "7", MESSAGE_ID: MESSAGE_ID.unitProcessExit, UNIT: "nginx.service", EXIT_CODE: "killed", EXIT_STATUS: "15" },
  ],
  [
    "a clean stop",
    "nginx.service: Deactivated successfully.",
    { ...SYSTEMD, PRIORITY: "6", MESSAGE_ID: MESSAGE_ID.unitSuccess, UNIT: "nginx.service" },
  ],
  ["v219's clean stop wording", "Stopped The nginx HTTP and reverse proxy server.", SYSTEMD],
  ["anacron's clean end", "Job `cron.daily' terminated", { SYSLOG_IDENTIFIER: "anacron" }],
  ["anacron's clean end with output", "Job `cron.weekly' terminated (mailing output)", { SYSLOG_IDENTIFIER: "anacron" }],
  ["an application saying 'failed.'", "Connection to backend.service failed.", { SYSLOG_IDENTIFIER: "myapp" }],
  ["systemd-oomd's per-process debug line", "oomd attempting to kill 113 with KILL", { SYSLOG_IDENTIFIER: "systemd-oomd", PRIORITY: "7" }],
  ["a kernel line with 'unhandled' that is no user fault", "ACPI Error: AE_NOT_FOUND, unhandled opcode [0x5b]", KERNEL],
  ["apport's name in another program's line", "called for pid 4321, signal 11, core limit 0, dump mode 1", { SYSLOG_IDENTIFIER: "myapp" }],
  ["a debug SIGCHLD line", "Child 27018 (sh) died (code=killed, status=9/KILL)", { ...SYSTEMD, PRIORITY: "7" }],
];

describe("userspace rules: near misses stay untiered", () => {
  test.each(NEAR_MISSES)("%s", (_why, message, fields) => {
    expect(classify(message, fields).map((c) => c.rule)).toEqual([]);
  });
});
