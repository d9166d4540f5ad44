import { describe, expect, test } from "bun:test";
import type { Candidate } from "../../src/event.ts";
import { Triage } from "../../src/classify/triage.ts";
import { MESSAGE_ID } from "../../src/classify/systemd-ids.ts";
import { journalRecordToEntry } from "../../src/parse/journal-json.ts";
import { ALL_GROUPS } from "../_fixtures.ts";

// Parity with node-problem-detector's userspace monitors (kubernetes/node-problem-detector
// config/systemd-monitor.json, systemd-monitor-counter.json, docker-monitor.json,
// abrt-adaptor.json): every one of their rules, the logtriage rule that catches the same
// lines, and why where we deliberately differ. Each rule's example line matches NPD's own
// pattern; NPD's journald plugin reads the entries of one SYSLOG_IDENTIFIER ("source").

interface NpdRule {
  config: string;
  reason: string;
  /** NPD's pattern, as in its config. */
  pattern: string;
  /** Journal entries that NPD's rule fires on (one, or the run its counter needs). */
  lines: { message: string; fields: Record<string, string> }[];
  /** Our rule for the same lines; null where we deliberately do not tier them. */
  ours: string | null;
  why?: string;
}

const systemd = (message: string, extra: Record<string, string> = {}) => ({
  message,
  fields: { SYSLOG_IDENTIFIER: "systemd", _PID: "1", _TRANSPORT: "journal", PRIORITY: "6", ...extra },
});
const dockerd = (message: string) => ({ message, fields: { SYSLOG_IDENTIFIER: "dockerd", _TRANSPORT: "stdout", PRIORITY: "6" } });
const abrt = (message: string) => ({ message, fields: { SYSLOG_IDENTIFIER: "abrt-notification", _TRANSPORT: "journal", PRIORITY: "3" } });

/** Five starts of a unit, each after systemd scheduled its restart: what NPD's log-counter counts. */
function restarts(unit: string, started: string): NpdRule["lines"] {
  return Array.from({ length: 5 }, (_, i) => [
    systemd(`${unit}: Scheduled restart job, restart counter is at ${i + 1}.`, {
      MESSAGE_ID: MESSAGE_ID.unitRestartScheduled,
      UNIT: unit,
      N_RESTARTS: String(i + 1),
    }),
    systemd(started, { UNIT: unit }),
  ]).flat();
}

const START_IS_NOT_A_PROBLEM =
  "NPD counts every start as a temporary event; a start is not a problem, so we tier none. What its counter looks for (a unit restarting again and again) is unit-restart-loop, and each failure before a restart is unit-failed / unit-exit-failed.";

const NPD_RULES: NpdRule[] = [
  {
    config: "systemd-monitor.json",
    reason: "KubeletStart",
    pattern:
      "Started (Kubernetes kubelet|kubelet.service|kubelet.service - Kubernetes kubelet|kubelet.service - kubelet: The Kubernetes Node Agent).",
    lines: [systemd("Started kubelet.service - kubelet: The Kubernetes Node Agent.")],
    ours: null,
    why: START_IS_NOT_A_PROBLEM,
  },
  {
    config: "systemd-monitor.json",
    reason: "DockerStart",
    pattern: "Starting (Docker Application Container Engine|docker.service|docker.service - Docker Application Container Engine)...",
    lines: [systemd("Starting docker.service - Docker Application Container Engine...")],
    ours: null,
    why: START_IS_NOT_A_PROBLEM,
  },
  {
    config: "systemd-monitor.json",
    reason: "ContainerdStart",
    pattern: "Starting (containerd container runtime|containerd.service|containerd.service - containerd container runtime)...",
    lines: [systemd("Starting containerd.service - containerd container runtime...")],
    ours: null,
    why: START_IS_NOT_A_PROBLEM,
  },
  {
    config: "systemd-monitor-counter.json",
    reason: "FrequentKubeletRestart",
    pattern: "--count=5 of Started (Kubernetes kubelet|kubelet.service|kubelet.service - Kubernetes kubelet). in 20m",
    lines: restarts("kubelet.service", "Started kubelet.service - Kubernetes kubelet."),
    ours: "unit-restart-loop",
    why: "We count systemd's own 'Scheduled restart job' entries (more than 3 in 5 min), so a loop is seen within minutes, not after 5 starts in 20 min.",
  },
  {
    config: "systemd-monitor-counter.json",
    reason: "FrequentDockerRestart",
    pattern:
      "--count=5 of Starting (Docker Application Container Engine|docker.service|docker.service - Docker Application Container Engine)... in 20m",
    lines: restarts("docker.service", "Starting docker.service - Docker Application Container Engine..."),
    ours: "unit-restart-loop",
  },
  {
    config: "systemd-monitor-counter.json",
    reason: "FrequentContainerdRestart",
    pattern:
      "--count=5 of Starting (containerd container runtime|containerd.service|containerd.service - containerd container runtime)... in 20m",
    lines: restarts("containerd.service", "Starting containerd.service - containerd container runtime..."),
    ours: "unit-restart-loop",
  },
  {
    config: "docker-monitor.json",
    reason: "CorruptDockerImage",
    pattern:
      "Error trying v2 registry: failed to register layer: rename /var/lib/docker/image/(.+) /var/lib/docker/image/(.+): directory not empty.*",
    lines: [
      dockerd(
        'time="2017-02-10T17:22:31.519213380Z" level=error msg="Error trying v2 registry: failed to register layer: rename /var/lib/docker/image/overlay2/layerdb/tmp/write-set-091458362 /var/lib/docker/image/overlay2/layerdb/sha256/6a2d5b1b0ea4d8c2: directory not empty"',
      ),
    ],
    ours: "container-storage-corrupt",
  },
  {
    config: "docker-monitor.json",
    reason: "CorruptDockerOverlay2",
    pattern: "returned error: readlink /var/lib/docker/overlay2.*: invalid argument.*",
    lines: [
      dockerd(
        'time="2017-12-08T10:31:04.102927000Z" level=error msg="Handler for GET /v1.32/containers/kontena-agent/logs returned error: readlink /var/lib/docker/overlay2/l: invalid argument"',
      ),
    ],
    ours: "container-storage-corrupt",
    why: "NPD makes this a permanent node condition; we raise one T3 event per occurrence burst (cooldown), the node's state is the operator's to judge.",
  },
  {
    config: "abrt-adaptor.json",
    reason: "CCPPCrash",
    pattern: "Process \\d+ \\(\\S+\\) crashed in .*",
    lines: [abrt("Process 2270 (gnome-shell) crashed in g_closure_invoke()")],
    ours: "abrt-crash",
  },
  {
    config: "abrt-adaptor.json",
    reason: "UncaughtException",
    pattern: "Process \\d+ \\(\\S+\\) of user \\d+ encountered an uncaught \\S+ exception",
    lines: [abrt("Process 3112 (dnf) of user 0 encountered an uncaught Python3 exception")],
    ours: "abrt-crash",
  },
  {
    config: "abrt-adaptor.json",
    reason: "XorgCrash",
    pattern: "Display server \\S+ crash in \\S+",
    lines: [abrt("Display server Xorg crash in OsAbort")],
    ours: "abrt-crash",
  },
  {
    config: "abrt-adaptor.json",
    reason: "VMcore",
    pattern: "System encountered a fatal error in \\S+",
    lines: [abrt("System encountered a fatal error in ext4_xattr_set_entry")],
    ours: "abrt-kernel-crash",
    why: "A vmcore is the previous boot's kernel crash: a T4 kernel event here, not a T2 process crash.",
  },
  {
    config: "abrt-adaptor.json",
    reason: "KernelOops",
    pattern: "System encountered a non-fatal error in \\S+",
    lines: [abrt("System encountered a non-fatal error in nf_nat_setup_info")],
    ours: "abrt-kernel-crash",
    why: "A kernel oops is T4 (kernel), as our own kernel-oops rule tiers the kernel's report.",
  },
];

function classify(lines: NpdRule["lines"]): Candidate[] {
  const triage = new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS });
  const out: Candidate[] = [];
  lines.forEach((l, i) => {
    const entry = journalRecordToEntry({
      MESSAGE: l.message,
      __REALTIME_TIMESTAMP: String(1_780_000_000_000_000 + i * 10_000_000),
      __MONOTONIC_TIMESTAMP: String(1_000_000 + i * 10_000_000),
      ...l.fields,
    });
    if (entry) out.push(...triage.push(entry, 0));
  });
  out.push(...triage.flush(0));
  return out;
}

describe("node-problem-detector parity: systemd, docker and ABRT monitors", () => {
  test.each(NPD_RULES.map((r) => [`${r.config} ${r.reason} → ${r.ours ?? "not tiered"}`, r] as const))("%s", (_title, rule) => {
    // The example is a line NPD's own pattern accepts (searched anywhere in the message here).
    const npd = new RegExp(rule.pattern.replace(/^--count=\d+ of (.*) in \d+m$/, "$1"));
    expect(rule.lines.some((l) => npd.test(l.message))).toBe(true);
    const found = classify(rule.lines).map((c) => c.rule);
    if (rule.ours === null) {
      expect(rule.why?.length ?? 0).toBeGreaterThan(0);
      expect(found).toEqual([]);
    } else {
      expect(found).toContain(rule.ours);
    }
  });

  test("every rule of the four configs is listed", () => {
    const byConfig = Object.groupBy(NPD_RULES, (r) => r.config);
    expect(Object.fromEntries(Object.entries(byConfig).map(([c, rs]) => [c, rs?.map((r) => r.reason)]))).toEqual({
      "systemd-monitor.json": ["KubeletStart", "DockerStart", "ContainerdStart"],
      "systemd-monitor-counter.json": ["FrequentKubeletRestart", "FrequentDockerRestart", "FrequentContainerdRestart"],
      "docker-monitor.json": ["CorruptDockerImage", "CorruptDockerOverlay2"],
      "abrt-adaptor.json": ["CCPPCrash", "UncaughtException", "XorgCrash", "VMcore", "KernelOops"],
    });
  });
});
