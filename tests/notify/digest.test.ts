import { describe, expect, test } from "bun:test";
import type { Facts, OomTask } from "../../src/event.ts";
import { utf8Bytes } from "../../src/text/alert.ts";
import { buildDigest, digestText, digestTitle, orderInstances, splitDigest, type DigestEvent } from "../../src/notify/digest.ts";
import { formatPeriod } from "../../src/text/format.ts";

// The digest is built from events as the store hands them back. Dates are local (new Date(y, m, d)),
// so the title's "Feb 10-16" holds in any time zone the tests run in.

const GB_KB = 1024 * 1024;
const SINCE_US = localUs(2026, 2, 10);
const UNTIL_US = localUs(2026, 2, 17);

function localUs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  return new Date(year, month - 1, day, hour, minute, second).getTime() * 1000;
}

let nextId = 0;

interface Seed extends Partial<DigestEvent> {
  instanceId: string;
  tier: DigestEvent["tier"];
  summary: string;
  timestampUs: number;
  /** Seconds from the first to the last occurrence. */
  spanS?: number;
}

function event(seed: Seed): DigestEvent {
  const { spanS = 0, ...rest } = seed;
  nextId++;
  return {
    id: nextId.toString(16).padStart(16, "0"),
    severity: "high",
    rule: "test-rule",
    process: null,
    unit: null,
    lastSeenUs: seed.timestampUs + spanS * 1_000_000,
    occurrences: 1,
    detail: "",
    facts: { kind: "plain" },
    ...rest,
  };
}

function task(name: string, pid: number, rssKb: number, oomScoreAdj = 0): OomTask {
  return { pid, uid: 1000, name, rssKb, totalVmKb: null, oomScoreAdj };
}

/** A kernel OOM report as parse/oom-report.ts returns it (task table biggest first). */
function oomKill(victim: OomTask, trigger: OomTask, topTasks: OomTask[]): Facts {
  return {
    kind: "oom-kill",
    oom: {
      trigger: { name: trigger.name, pid: trigger.pid, gfpMask: "0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP)", order: 0, oomScoreAdj: 0 },
      victim: {
        name: victim.name,
        pid: victim.pid,
        uid: 1000,
        totalVmKb: null,
        anonRssKb: victim.rssKb,
        fileRssKb: 0,
        shmemRssKb: 0,
        oomScoreAdj: victim.oomScoreAdj,
      },
      constraint: "CONSTRAINT_NONE",
      memcg: null,
      taskMemcg: null,
      memTotalKb: 16 * GB_KB,
      memFreeKb: 120_000,
      memcgUsageKb: null,
      memcgLimitKb: null,
      topTasks,
      complete: true,
    },
  };
}

const electron1 = task("electron", 3377, Math.round(8.1 * GB_KB));
const firefox = task("firefox", 4521, Math.round(3.2 * GB_KB));
const electron2 = task("electron", 5120, Math.round(4.3 * GB_KB));
const qemu = task("qemu-system-x86", 2210, 5 * GB_KB, -1000);

/** A two-instance weekly digest's events (a workstation and a NAS), as their stores would hold them. */
function designEvents(): DigestEvent[] {
  const ws = "workstation";
  return [
    // Firefox killed while electron held 8.1 GB and was the allocating task (the alert example in the docs).
    event({
      instanceId: ws,
      tier: "T1",
      severity: "critical",
      summary: "OOM kill: firefox (pid 4521)",
      process: "firefox",
      timestampUs: localUs(2026, 2, 11, 14, 32, 5),
      facts: oomKill(firefox, electron1, [electron1, firefox, task("chromium", 2900, Math.round(1.8 * GB_KB))]),
    }),
    // Electron killed two days later; the largest task then was a VM shielded by oom_score_adj -1000.
    event({
      instanceId: ws,
      tier: "T1",
      severity: "critical",
      summary: "OOM kill: electron (pid 5120)",
      process: "electron",
      timestampUs: localUs(2026, 2, 13, 20, 1),
      facts: oomKill(electron2, qemu, [qemu, electron2, task("firefox", 6001, 900_000)]),
    }),
    event({ instanceId: ws, tier: "T2", summary: "Crash: vlc (SIGSEGV)", process: "vlc", timestampUs: localUs(2026, 2, 12, 16, 45, 12) }),
    event({ instanceId: ws, tier: "T2", summary: "Crash: gimp (SIGABRT)", process: "gimp", timestampUs: localUs(2026, 2, 14, 10, 3) }),
    event({ instanceId: ws, tier: "T2", summary: "Crash: vlc (SIGSEGV)", process: "vlc", timestampUs: localUs(2026, 2, 15, 21, 17) }),
    event({
      instanceId: ws,
      tier: "T3",
      summary: "docker.service failed",
      unit: "docker.service",
      timestampUs: localUs(2026, 2, 10, 8, 0),
    }),
    ...[30, 60, 45, 45].map((spanS, i) =>
      event({
        instanceId: ws,
        tier: "T5",
        severity: "warning",
        summary: "Memory pressure: page allocation failure in firefox (order 4)",
        process: "firefox",
        timestampUs: localUs(2026, 2, 11 + i, 14, 31),
        spanS,
      }),
    ),
    event({
      instanceId: "nas",
      tier: "T3",
      summary: "smbd.service failed",
      unit: "smbd.service",
      timestampUs: localUs(2026, 2, 11, 3, 12),
    }),
    event({
      instanceId: "nas",
      tier: "T4",
      summary: "I/O error on /dev/sdc — SMART: reallocated sectors 48→52",
      timestampUs: localUs(2026, 2, 14, 2, 40),
      facts: { kind: "kernel", device: "sdc", lines: [] },
    }),
    event({
      instanceId: "nas",
      tier: "T3",
      summary: "zfs-scrub.service failed",
      unit: "zfs-scrub.service",
      timestampUs: localUs(2026, 2, 16, 4, 10),
      detail: 'exit code 1, scrub errors detected on pool "tank"\nMain process: code=exited, status=1/FAILURE',
    }),
  ];
}

const DESIGN_BODY = `=== workstation ===
OOM Kills:        2 (firefox ×1, electron ×1)
Process Crashes:  3 (vlc ×2, gimp ×1)
Service Failures: 1 (docker.service ×1)
HW/Kernel Errors: 0
Memory Pressure:  4 warning episodes (avg duration: 45s)
Top memory offender: electron (avg 6.2 GB, triggered 1 OOM)

=== nas ===
OOM Kills:        0
Process Crashes:  0
Service Failures: 2 (smbd.service ×1, zfs-scrub.service ×1)
HW/Kernel Errors: 1 (I/O error on /dev/sdc — SMART: reallocated sectors 48→52)
Memory Pressure:  0

Longest incident: [nas] zfs-scrub.service failed
  → exit code 1, scrub errors detected on pool "tank"`;

function digestOf(events: DigestEvent[], instances = orderInstances(new Set(events.map((e) => e.instanceId)), "workstation")) {
  return buildDigest({ sinceUs: SINCE_US, untilUs: UNTIL_US, instances, events });
}

describe("the documented example", () => {
  test("title and body, line for line", () => {
    const digest = digestOf(designEvents());
    expect(digest.title).toBe("📊 logtriage weekly digest (Feb 10-16)");
    expect(digestText(digest).split("\n")).toEqual(DESIGN_BODY.split("\n"));
  });

  test("the order events arrive in does not matter", () => {
    expect(digestText(digestOf(designEvents().reverse()))).toBe(DESIGN_BODY);
  });

  test("it fits one ntfy message, title unchanged", () => {
    const parts = splitDigest(digestOf(designEvents()));
    expect(parts).toEqual([{ title: "📊 logtriage weekly digest (Feb 10-16)", message: DESIGN_BODY }]);
  });
});

describe("counts", () => {
  test("an instance with no events: its section with zeros, no offender, no longest incident", () => {
    const digest = buildDigest({ sinceUs: SINCE_US, untilUs: UNTIL_US, instances: ["x"], events: [] });
    expect(digestText(digest)).toBe(
      ["=== x ===", "OOM Kills:        0", "Process Crashes:  0", "Service Failures: 0", "HW/Kernel Errors: 0", "Memory Pressure:  0"].join(
        "\n",
      ),
    );
    expect(digest.footer).toEqual([]);
  });

  test("a crash loop is one event with many occurrences, and counts them all", () => {
    const loop = event({
      instanceId: "nas",
      tier: "T3",
      summary: "Crash loop: nfs-server.service — 7× service failure within 5 min of each other (latest: nfs-server.service failed)",
      unit: "nfs-server.service",
      occurrences: 7,
      timestampUs: localUs(2026, 2, 12, 9, 0),
      spanS: 1500,
      detail: "nfs-server.service failed with result 'exit-code'.",
    });
    const again = event({
      instanceId: "nas",
      tier: "T3",
      summary: "nfs-server.service failed",
      unit: "nfs-server.service",
      timestampUs: localUs(2026, 2, 15, 9, 0),
    });
    const smbd = event({
      instanceId: "nas",
      tier: "T3",
      summary: "smbd.service failed",
      unit: "smbd.service",
      timestampUs: localUs(2026, 2, 16, 9, 0),
    });
    const text = digestText(digestOf([loop, again, smbd]));
    expect(text).toContain("\nService Failures: 9 (nfs-server.service ×8, smbd.service ×1)\n");
    // It lasted 25 minutes, so it is the longest, although smbd's failure came later.
    expect(text).toEndWith(`\n\nLongest incident: [nas] ${loop.summary}\n  → nfs-server.service failed with result 'exit-code'.`);
  });

  test("longest incident ties: more occurrences first, then the latest; memory pressure never", () => {
    const twice = event({
      instanceId: "a",
      tier: "T2",
      summary: "Crash: vlc",
      process: "vlc",
      occurrences: 2,
      timestampUs: localUs(2026, 2, 10, 9),
    });
    const later = event({ instanceId: "a", tier: "T2", summary: "Crash: gimp", process: "gimp", timestampUs: localUs(2026, 2, 16, 9) });
    const pressure = event({
      instanceId: "a",
      tier: "T5",
      severity: "warning",
      summary: "Memory pressure: journald flushing caches",
      timestampUs: localUs(2026, 2, 12),
      spanS: 600,
    });
    expect(digestOf([twice, later, pressure]).footer).toEqual(["Longest incident: [a] Crash: vlc"]);
    const earlier = event({
      instanceId: "a",
      tier: "T2",
      summary: "Crash: gimp earlier",
      process: "gimp",
      timestampUs: later.timestampUs - 1,
    });
    expect(digestOf([later, earlier]).footer).toEqual(["Longest incident: [a] Crash: gimp"]);
    expect(digestOf([pressure]).footer).toEqual([]);
  });

  test("names: most first, then in the order they happened; more than five end with +N more", () => {
    const names = ["a", "b", "c", "d", "e", "f", "g"];
    const events = names.map((name, i) =>
      event({
        instanceId: "ws",
        tier: "T2",
        summary: `Crash: ${name}`,
        process: name,
        timestampUs: localUs(2026, 2, 10, 10 + i),
        occurrences: name === "g" ? 3 : 1,
      }),
    );
    expect(digestText(digestOf(events))).toContain("\nProcess Crashes:  9 (g ×3, a ×1, b ×1, c ×1, d ×1, +2 more)\n");
  });

  test("several kernel errors: the first one's summary and how many others", () => {
    const events = [
      event({ instanceId: "nas", tier: "T4", summary: "ATA error on ata3", occurrences: 4, timestampUs: localUs(2026, 2, 12) }),
      event({ instanceId: "nas", tier: "T4", summary: "I/O error on /dev/sdc", timestampUs: localUs(2026, 2, 11) }),
    ];
    expect(digestText(digestOf(events))).toContain("\nHW/Kernel Errors: 5 (I/O error on /dev/sdc; +1 more)\n");
  });

  test("memory pressure: one episode, mixed severities, durations over a minute", () => {
    const episode = (severity: DigestEvent["severity"], spanS: number) =>
      event({ instanceId: "ws", tier: "T5", severity, summary: "p", timestampUs: localUs(2026, 2, 11), spanS });
    expect(digestText(digestOf([episode("warning", 0)]))).toContain("\nMemory Pressure:  1 warning episode (avg duration: 0s)");
    const mixed = [episode("warning", 100), episode("high", 200)];
    expect(digestText(digestOf(mixed))).toContain("\nMemory Pressure:  2 episodes (avg duration: 2m30s)");
  });

  test("OOM kills without a kernel task table (systemd-oomd, earlyoom) count, but name no offender", () => {
    const oomd = event({
      instanceId: "ws",
      tier: "T1",
      summary: "OOM kill (systemd-oomd): code.scope",
      process: "code",
      timestampUs: localUs(2026, 2, 12),
      facts: { kind: "userspace-oom-kill", killer: "systemd-oomd", victim: "code", pid: null, cgroup: "/user.slice/code.scope" },
    });
    const text = digestText(digestOf([oomd]));
    expect(text).toContain("\nOOM Kills:        1 (code ×1)\n");
    expect(text).not.toContain("Top memory offender");
  });

  test("the offender: largest in the most kills; triggered = kills it was largest in or allocated in; average over kills it appears in", () => {
    const kill = (day: number, facts: Facts) =>
      event({ instanceId: "ws", tier: "T1", summary: "OOM kill", process: "firefox", timestampUs: localUs(2026, 2, 10 + day), facts });
    const kills = [
      kill(1, oomKill(firefox, electron1, [electron1, firefox])), // largest and allocating
      kill(2, oomKill(firefox, firefox, [electron1, firefox])), // largest; firefox's own allocation
      kill(3, oomKill(electron2, qemu, [qemu, electron2])), // neither
    ];
    // (8.1 + 8.1 + 4.3) / 3 GB
    expect(digestText(digestOf(kills))).toContain("\nTop memory offender: electron (avg 6.8 GB, triggered 2 OOMs)");
  });

  test("events of an instance not listed get a section after the listed ones", () => {
    const lone = event({ instanceId: "pi", tier: "T2", summary: "Crash: x", process: "x", timestampUs: localUs(2026, 2, 12) });
    const digest = buildDigest({ sinceUs: SINCE_US, untilUs: UNTIL_US, instances: ["ws"], events: [lone] });
    expect(digest.sections.map((s) => s[0])).toEqual(["=== ws ===", "=== pi ==="]);
  });

  test("log text with line breaks and control characters stays on its line", () => {
    const odd = event({
      instanceId: "ws",
      tier: "T4",
      summary: "BUG: soft lockup\n\x1b[31mCPU#3\x1b[0m stuck",
      timestampUs: localUs(2026, 2, 12),
    });
    expect(digestText(digestOf([odd]))).toContain("\nHW/Kernel Errors: 1 (BUG: soft lockup CPU#3 stuck)\n");
  });
});

describe("order and title", () => {
  test("own instance first, then the others alphabetically", () => {
    expect(orderInstances(["workstation", "nas", "backup"], "workstation")).toEqual(["workstation", "backup", "nas"]);
    expect(orderInstances(["workstation", "nas"], "laptop")).toEqual(["nas", "workstation"]);
  });

  test.each([
    ["within a month", localUs(2026, 2, 10), localUs(2026, 2, 17), "Feb 10-16"],
    ["across a month boundary", localUs(2026, 1, 30), localUs(2026, 2, 6), "Jan 30-Feb 5"],
    ["across a new year", localUs(2025, 12, 29), localUs(2026, 1, 5), "Dec 29 2025-Jan 4 2026"],
    ["one day", localUs(2026, 2, 10), localUs(2026, 2, 11), "Feb 10"],
    ["ending mid-day: that day included", localUs(2026, 2, 9, 9), localUs(2026, 2, 16, 9), "Feb 9-16"],
  ])("%s", (_name, sinceUs, untilUs, range) => {
    expect(formatPeriod(sinceUs, untilUs)).toBe(range);
    expect(digestTitle(sinceUs, untilUs)).toBe(`📊 logtriage weekly digest (${range})`);
  });
});

describe("trend versus the previous period", () => {
  const week = 7 * 86_400_000_000;
  const shifted = (e: DigestEvent): DigestEvent => ({
    ...e,
    id: `${e.id}p`,
    timestampUs: e.timestampUs - week,
    lastSeenUs: e.lastSeenUs - week,
  });

  test("a line per instance watched all through the previous period, naming what changed", () => {
    const now = designEvents();
    const before = [
      ...now.filter((e) => e.instanceId === "workstation" && e.tier !== "T2").map(shifted),
      shifted(
        event({ instanceId: "workstation", tier: "T1", summary: "OOM kill: gimp", process: "gimp", timestampUs: localUs(2026, 2, 12) }),
      ),
    ];
    const digest = buildDigest({
      sinceUs: SINCE_US,
      untilUs: UNTIL_US,
      instances: ["workstation", "nas"],
      events: now,
      previous: { events: before, instances: new Set(["workstation"]) },
    });
    expect(digest.sections[0]?.at(-1)).toBe("Trend vs previous 7d: OOM Kills 3→2, Process Crashes 0→3");
    expect(digest.sections[1]?.at(-1)).toBe("Memory Pressure:  0");
    // The example's lines themselves are unchanged.
    expect(digest.sections[0]?.slice(0, -1).join("\n")).toBe(DESIGN_BODY.split("\n\n")[0] as string);
  });

  test("no change says so", () => {
    const now = designEvents().filter((e) => e.instanceId === "nas");
    const digest = buildDigest({
      sinceUs: SINCE_US,
      untilUs: UNTIL_US,
      instances: ["nas"],
      events: now,
      previous: { events: now.map(shifted), instances: new Set(["nas"]) },
    });
    expect(digest.sections[0]?.at(-1)).toBe("Trend vs previous 7d: unchanged");
  });
});

describe("splitting for ntfy's 4096-byte messages", () => {
  function fleet(count: number): DigestEvent[] {
    return Array.from({ length: count }, (_, i) => {
      const instanceId = `host-${String(i).padStart(2, "0")}`;
      return event({
        instanceId,
        tier: "T2",
        summary: `Crash: worker-${i} (SIGSEGV)`,
        process: `worker-${i}`,
        timestampUs: localUs(2026, 2, 10, 1) + i,
      });
    });
  }

  test("a long digest goes out in parts at section boundaries, each under the limit, numbered in the title", () => {
    const digest = buildDigest({ sinceUs: SINCE_US, untilUs: UNTIL_US, instances: [], events: fleet(60) });
    const whole = digestText(digest);
    expect(utf8Bytes(whole)).toBeGreaterThan(4096);
    const parts = splitDigest(digest);
    expect(parts.length).toBeGreaterThan(1);
    for (const [i, part] of parts.entries()) {
      expect(utf8Bytes(part.message)).toBeLessThanOrEqual(4096);
      expect(part.message).toStartWith("=== host-");
      expect(part.title).toBe(`📊 logtriage weekly digest (Feb 10-16) (${i + 1}/${parts.length})`);
    }
    expect(parts.at(-1)?.message).toEndWith("\n\nLongest incident: [host-59] Crash: worker-59 (SIGSEGV)");
    // Nothing is lost or repeated: the parts put back together are the whole.
    expect(parts.map((p) => p.message).join("\n\n")).toBe(whole);
  });

  test("a section longer than a message is cut between its lines, a line longer than one at a character", () => {
    const digest = buildDigest({
      sinceUs: SINCE_US,
      untilUs: UNTIL_US,
      instances: ["ws"],
      events: [event({ instanceId: "ws", tier: "T4", summary: "é".repeat(200), timestampUs: localUs(2026, 2, 11) })],
    });
    const parts = splitDigest(digest, 120);
    for (const part of parts) expect(utf8Bytes(part.message)).toBeLessThanOrEqual(120);
    expect(parts[0]?.message).toBe("=== ws ===\nOOM Kills:        0\nProcess Crashes:  0\nService Failures: 0");
    expect(parts[1]?.message).toStartWith("HW/Kernel Errors: 1 (éé");
    expect(parts[1]?.message).toEndWith("…");
    expect(parts.map((p) => p.message).join("\n")).toContain("Memory Pressure:  0");
  });
});
