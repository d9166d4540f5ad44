import { describe, expect, test } from "bun:test";
import { runRecord } from "../_corpus.ts";

// Parity with node-problem-detector's kernel and read-only-filesystem monitors: every rule in
// kubernetes/node-problem-detector config/kernel-monitor.json (commit 06c4b903) and
// config/readonly-monitor.json (commit 2182ad0d), with NPD's own pattern, a real line that
// pattern matches, and the logtriage rule that catches the same line. NPD's patterns are RE2;
// these use no RE2-only syntax, so they run unchanged as JavaScript regular expressions.

interface NpdRule {
  monitor: "kernel-monitor" | "readonly-monitor";
  reason: string;
  pattern: string;
  /** A real line the NPD pattern matches, and where it was printed. */
  line: string;
  source: string;
  ours: string;
  /** Where logtriage deliberately differs from NPD on this rule. */
  differs?: string;
}

const NPD: readonly NpdRule[] = [
  {
    monitor: "kernel-monitor",
    reason: "OOMKilling",
    pattern: String.raw`Killed process \d+ (.+) total-vm:\d+kB, anon-rss:\d+kB, file-rss:\d+kB.*`,
    line: "Memory cgroup out of memory: Killed process 4900 (lt-km-3184) total-vm:75532kB, anon-rss:64384kB, file-rss:2296kB, shmem-rss:0kB, UID:0 pgtables:192kB",
    source: "captured on the test VM: a cgroup OOM kill (journalctl -k)",
    ours: "kernel-oom-kill-line",
    differs: "T1, not a temporary condition; with the whole report around it the kill is one event with the victim's memory and the cgroup",
  },
  {
    monitor: "kernel-monitor",
    reason: "TaskHung",
    pattern: String.raw`task [\S ]+:\w+ blocked for more than \w+ seconds\.`,
    line: "INFO: task syz-executor0:10244 blocked for more than 120 seconds.",
    source: "google/syzkaller pkg/report/testdata/linux/report/176",
    ours: "hung-task",
  },
  {
    monitor: "kernel-monitor",
    reason: "UnregisterNetDevice",
    pattern: String.raw`unregister_netdevice: waiting for \w+ to become free. Usage count = \d+`,
    line: "unregister_netdevice: waiting for lo to become free. Usage count = 1",
    source: "netdev patch for ip6_gre (public text index find_string id 33230754428)",
    ours: "netdev-unregister-hang",
  },
  {
    monitor: "kernel-monitor",
    reason: "KernelOops",
    pattern: String.raw`BUG: unable to handle kernel NULL pointer dereference at .*`,
    line: "BUG: unable to handle kernel NULL pointer dereference at 0000000000000078",
    source: "kubernetes/node-problem-detector test/kernel_log_generator/problems/null_pointer",
    ours: "kernel-oops",
    differs:
      "every Oops shape (5.x 'BUG: kernel NULL pointer dereference, address:', page faults, arm64 'Internal error: Oops', GPF) is caught, not only this one",
  },
  {
    monitor: "kernel-monitor",
    reason: "KernelOops",
    pattern: String.raw`divide error: 0000 \[#\d+\] SMP`,
    line: "divide error: 0000 [#1] SMP ",
    source: "kubernetes/node-problem-detector test/kernel_log_generator/problems/divide_zero",
    ours: "kernel-oops",
  },
  {
    monitor: "kernel-monitor",
    reason: "Ext4Error",
    pattern: String.raw`EXT4-fs error .*`,
    line: "EXT4-fs error (device sdb1): ext4_journal_check_start:61: Detected aborted journal",
    source: "github.com/coolsnowwolf/lede/issues/6147",
    ours: "ext4-error",
  },
  {
    monitor: "kernel-monitor",
    reason: "Ext4Warning",
    pattern: String.raw`EXT4-fs warning .*`,
    line: "EXT4-fs warning (device dm-1): ext4_end_bio:316: I/O error -19 writing to inode 10223621 (offset 50331648 size 6148096 starting block 14409150)",
    source: "github.com/raspberrypi/linux/issues/703",
    ours: "ext4-error",
    differs: "only warnings that report a failure (I/O errors, a full directory index) are events; NPD counts every EXT4 warning",
  },
  {
    monitor: "kernel-monitor",
    reason: "IOError",
    pattern: String.raw`Buffer I/O error .*`,
    line: "Buffer I/O error on device sda, logical block 32897",
    source: "github.com/longhorn/longhorn/issues/4382",
    ours: "block-io-error",
  },
  {
    monitor: "kernel-monitor",
    reason: "XfsHasShutdown",
    pattern: String.raw`XFS .* Shutting down filesystem.?`,
    line: "XFS (dm-14): Log I/O Error Detected.  Shutting down filesystem",
    source: "AWS instance journal (public text index find_string id 31200425030)",
    ours: "xfs-error",
  },
  {
    monitor: "kernel-monitor",
    reason: "MemoryReadError",
    pattern: String.raw`CE memory read error .*`,
    line: "EDAC MC1: 262 CE memory read error on CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x2031c14 offset:0x940 grain:32 syndrome:0x0 -  OVERFLOW area:DRAM err_code:0001:0091 socket:0 ha:0 channel_mask:2 rank:1)",
    source: "github.com/illinois-scicomp/machine-shop-maintenance/issues/66",
    ours: "edac-correctable",
  },
  {
    monitor: "kernel-monitor",
    reason: "DockerHung",
    pattern: String.raw`task docker:\w+ blocked for more than \w+ seconds\.`,
    line: "INFO: task docker:20744 blocked for more than 120 seconds.",
    source: "kubernetes/node-problem-detector test/kernel_log_generator/problems/docker_hung",
    ours: "hung-task",
    differs:
      "any hung task is reported, naming the task; NPD's KernelDeadlock condition for dockerd is a Kubernetes node condition logtriage has no use for",
  },
  {
    monitor: "kernel-monitor",
    reason: "FilesystemIsReadOnly",
    pattern: "Remounting filesystem read-only",
    line: "EXT4-fs (sdb1): Remounting filesystem read-only",
    source: "github.com/coolsnowwolf/lede/issues/6147",
    ours: "ext4-error",
  },
  {
    monitor: "readonly-monitor",
    reason: "FilesystemIsReadOnly",
    pattern: "Remounting filesystem read-only",
    line: "EXT4-fs (sda1): Remounting filesystem read-only",
    source: "github.com/sonic-net/sonic-buildimage/issues/23146",
    ours: "ext4-error",
  },
];

describe("node-problem-detector kernel-monitor and readonly-monitor parity", () => {
  test("every NPD rule is listed (the reasons of both monitors)", () => {
    expect(NPD.filter((r) => r.monitor === "kernel-monitor").map((r) => r.reason)).toEqual([
      "OOMKilling",
      "TaskHung",
      "UnregisterNetDevice",
      "KernelOops",
      "KernelOops",
      "Ext4Error",
      "Ext4Warning",
      "IOError",
      "XfsHasShutdown",
      "MemoryReadError",
      "DockerHung",
      "FilesystemIsReadOnly",
    ]);
    expect(NPD.filter((r) => r.monitor === "readonly-monitor").map((r) => r.reason)).toEqual(["FilesystemIsReadOnly"]);
  });

  test.each(NPD.map((r) => [`${r.monitor} ${r.reason} → ${r.ours}`, r] as const))("%s", (_, r) => {
    // The line is one NPD's rule matches…
    expect(new RegExp(r.pattern).test(r.line)).toBe(true);
    // …and logtriage gives it the named rule, as a kernel record at err.
    const events = runRecord({
      text: r.line,
      origin: "kernel",
      fields: { PRIORITY: "3" },
      tier: null,
      rule: null,
      kind: "benign",
      source: r.source,
      at: r.reason,
    });
    expect(events.map((c) => c.rule)).toEqual([r.ours]);
  });
});
