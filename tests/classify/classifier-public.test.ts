import { describe, expect, test } from "bun:test";
import { ALL_GROUPS, fixtureSections, sectionNamed, triageSection } from "../_fixtures.ts";

// Real lines from public sources (tests/fixtures/public/SOURCES.md), grouped by section.

const rules = (s: Parameters<typeof triageSection>[0]) => triageSection(s).map((c) => c.rule);

describe("older and foreign OOM report shapes", () => {
  test("kernel 4.9 global OOM: nr_ptes table, 'Kill process … or sacrifice child', Mem-Info totals", async () => {
    const run = triageSection({
      title: "4.9",
      identifier: null,
      lines: (await Bun.file(`${import.meta.dir}/../fixtures/public/oom-global-kernel4.9.dmesg.txt`).text())
        .split("\n")
        .filter((l) => l && !l.startsWith("#")),
    });
    // The report, then the reaper's line about the same victim (the store joins the two).
    expect(run.map((c) => c.rule)).toEqual(["kernel-oom-kill", "oom-reaper"]);
    expect(run[1]?.pid).toBe(2935);
    const facts = run[0]?.facts;
    if (facts?.kind !== "oom-kill") throw new Error("expected an OOM report");
    expect(facts.oom.constraint).toBe("CONSTRAINT_NONE");
    expect(facts.oom.victim).toMatchObject({ name: "firefox.real", pid: 2935, uid: 10230 });
    expect(facts.oom.trigger).toMatchObject({ name: "wicd", pid: 2525 });
    expect(facts.oom.memTotalKb).toBeGreaterThan(3_000_000);
    expect(facts.oom.memFreeKb).toBeGreaterThan(0);
    expect(facts.oom.topTasks[0]?.name).toBe("firefox.real");
    expect(facts.oom.topTasks.length).toBeLessThanOrEqual(5);
  });

  test("kernel 4.4 docker memcg OOM: 'Task in … killed as a result of limit of …', no shmem-rss", async () => {
    const lines = (await Bun.file(`${import.meta.dir}/../fixtures/public/oom-memcg-kernel4.dmesg.txt`).text())
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
    const [c] = triageSection({ title: "4.4", identifier: null, lines });
    const facts = c?.facts;
    if (facts?.kind !== "oom-kill") throw new Error("expected an OOM report");
    expect(c?.rule).toBe("kernel-memcg-oom-kill");
    expect(facts.oom.memcg).toStartWith("/docker/34186d9b");
    expect(facts.oom.memcgLimitKb).toBe(204800);
    expect(facts.oom.victim).toMatchObject({ name: "main", pid: 11344, uid: 0, shmemRssKb: null });
    expect(facts.oom.topTasks.map((t) => t.name)).toEqual(["main", "go"]);
  });

  test("cgroup v2 reports on 5.15 and 6.x, joined midway: the kill still gets the table", async () => {
    const lines = (await Bun.file(`${import.meta.dir}/../fixtures/public/oom-memcg-v2-kernel6.dmesg.txt`).text())
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
    const kills = triageSection({ title: "v2", identifier: null, lines }).filter((c) => c.tier === "T1");
    expect(kills.map((c) => c.process)).toEqual([".thunderbird-wr", "apk", "mem_stress"]);
    const first = kills[0]?.facts;
    expect(first?.kind === "oom-kill" && first.oom.memcg).toContain("app-gnome-thunderbird-265606.scope");
    const apk = kills[1]?.facts;
    expect(apk?.kind === "oom-kill" && apk.oom.topTasks.map((t) => t.name)).toEqual(["apk", "sh"]);
  });
});

describe("hardware and kernel errors (T4)", () => {
  test.each([
    ["block I/O errors, newer shape", "block-io-error,ext4-error,journal-abort"],
    ["block I/O errors, 4.19-5.x", "block-io-error"],
    ["ATA errors", "ata-error"],
    ["SCSI sense, numeric", "scsi-error,scsi-medium-error"],
    ["NVMe timeouts", "nvme-error"],
    ["EXT4 (sources", "ext4-error"],
    ["EXT4 warning, old 3.x", "ext4-error"],
    ["BTRFS (sources", "btrfs-error"],
    ["XFS (sources", "xfs-error"],
    ["MCE (sources", "mce"],
    ["EDAC (sources", "edac-correctable"],
    ["NMI (source", "nmi"],
    ["hard lockup", "hard-lockup"],
    ["soft lockup", "soft-lockup"],
    ["hung task, kernel 3.16", "hung-task"],
    ["Oops, kernel 3.16", "kernel-oops"],
    ["Oops, kernel 5.4.22", "kernel-oops"],
    ["divide error Oops", "kernel-oops"],
    ["WARNING block, complete, kernel 5.10.75", "kernel-warning"],
    ["old-style WARNING without", "kernel-warning"],
    ["Kernel panic", "kernel-oom-no-victim,kernel-panic"],
    ["thermal, newer", "thermal-throttle"],
  ])("%s → %s", async (title, expected) => {
    const section = await sectionNamed("public/hardware-errors.txt", title);
    const found = rules(section);
    expect(found.length).toBeGreaterThan(0);
    expect(new Set(found)).toEqual(new Set(expected.split(",")));
  });

  test("a complete Oops block is one event that keeps its trace", async () => {
    const section = await sectionNamed("public/hardware-errors.txt", "Oops, kernel 3.16");
    const events = triageSection(section);
    expect(events).toHaveLength(1);
    const facts = events[0]?.facts;
    expect(facts?.kind === "kernel" && facts.lines.length).toBe(section.lines.length);
  });

  test("RAID: mdadm monitor events", async () => {
    const section = await sectionNamed("public/hardware-errors.txt", "RAID / mdadm");
    const events = triageSection({ ...section, identifier: "mdadm" });
    expect(events.map((c) => c.summary)).toEqual(["RAID /dev/md0: DeviceDisappeared"]);
  });

  test("with role 'desktop' the RAID group is off: the same mdadm lines are not tiered", async () => {
    const section = await sectionNamed("public/hardware-errors.txt", "RAID / mdadm");
    expect(triageSection({ ...section, identifier: "mdadm" }, new Set(["core", "gpu"]))).toEqual([]);
  });
});

describe("GPU (T4)", () => {
  test.each([
    ["NVIDIA Xid 79", "GPU error (NVIDIA Xid 79): GPU has fallen off the bus", "critical"],
    ["NVIDIA Xid 63", "GPU error (NVIDIA Xid 63): ECC page retirement / row remapping event", "high"],
  ])("%s", async (title, summary, severity) => {
    const [c] = triageSection(await sectionNamed("public/gpu-errors.txt", title));
    expect(c?.summary).toStartWith(summary);
    expect(c?.severity as string).toBe(severity);
  });

  test.each([
    ["amdgpu, 6.x/7.x shape", "ring gfx_0.0.0 timeout"],
    ["amdgpu, 6.8 shape", "ring gfx_0.0.0 timeout"],
    ["amdgpu sdma ring timeout", "ring sdma0 timeout"],
    ["i915 GPU hang", "GPU hang (i915) in thunderbird"],
  ])("%s", async (title, text) => {
    const events = triageSection(await sectionNamed("public/gpu-errors.txt", title));
    expect(events.some((c) => c.summary.includes(text))).toBe(true);
    expect(events.every((c) => c.tier === "T4")).toBe(true);
  });

  test("GPU rules follow the gpu detector: off, the Xid line is not tiered", async () => {
    expect(triageSection(await sectionNamed("public/gpu-errors.txt", "NVIDIA Xid 79"), new Set(["core"]))).toEqual([]);
  });
});

describe("userspace OOM killers (T1)", () => {
  test.each([
    [
      "SYSLOG_IDENTIFIER=systemd-oomd  (source: github.com/systemd/systemd/issues/23606",
      null,
      "systemd-oomd-kill",
      "vte-spawn-dbb4a75e-031f-480d-924b-5de5af7579d2.scope",
    ],
    [
      "SYSLOG_IDENTIFIER=systemd-oomd  (source: github.com/systemd/systemd/pull/42321",
      null,
      "systemd-oomd-kill",
      "systemd-journald.service",
    ],
    [
      "SYSLOG_IDENTIFIER=systemd (user manager",
      null,
      "systemd-oomd-unit-kill-text",
      "vte-spawn-dbb4a75e-031f-480d-924b-5de5af7579d2.scope",
    ],
    ["SYSLOG_IDENTIFIER=earlyoom  (source: github.com/rfjakob/earlyoom/issues/354", null, "earlyoom-kill", "java"],
    ["earlyoom stderr, v1.3-rc1", "earlyoom", "earlyoom-kill", "python3"],
    ["earlyoom stderr, 2018 format", "earlyoom", "earlyoom-kill", "bash"],
    ["earlyoom stderr, early-2019 format", "earlyoom", "earlyoom-kill", "bash"],
    ["nohang (v0.1-era", "nohang", "nohang-kill", null],
  ])("%s", async (title, identifier, rule, who) => {
    const section = await sectionNamed("public/userspace-oom-killers.txt", title);
    const events = triageSection(identifier ? { ...section, identifier } : section);
    expect(events.map((c) => c.rule)).toEqual([rule]);
    expect(events[0]?.tier).toBe("T1");
    if (who) expect(events[0]?.unit === who || events[0]?.process === who).toBe(true);
  });

  test("systemd-oomd names a desktop app by its scope: app-gnome-firefox-4521.scope → firefox", () => {
    const events = triageSection({
      title: "constructed from the documented systemd-oomd shape",
      identifier: "systemd-oomd",
      lines: [
        "Killed /user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4521.scope due to memory pressure for /user.slice/user-1000.slice/user@1000.service being 92.33% > 50.00% for > 20s with reclaim activity",
      ],
    });
    expect(events[0]?.process).toBe("firefox");
  });
});

describe("look-alikes are not tiered", () => {
  test("every section of public/lookalikes.txt", async () => {
    for (const section of await fixtureSections("public/lookalikes.txt")) {
      expect({ section: section.title, events: triageSection(section).map((c) => c.summary) }).toEqual({
        section: section.title,
        events: [],
      });
    }
  });

  test.each([
    ["myapp", "test: handling segfault in parser gracefully"],
    [
      "kernel-as-app",
      "python3[4215]: segfault at 0 ip 00007f7d17185ad8 sp 00007fffd7a39a08 error 4 in libc.so.6[167ad8,7f7d17044000+156000]",
    ],
    ["myapp", "Adjusting oom_score_adj of pid 1 to -900"],
    ["myapp", "Killed process 4521 (firefox) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB"],
  ])("an application (%s) printing kernel words: %p", (identifier, line) => {
    expect(triageSection({ title: "app", identifier, lines: [line] })).toEqual([]);
  });

  test("the kernel's own oom_adj deprecation notice (captured here) is not an OOM kill", () => {
    const line = "sh (4102): /proc/4102/oom_adj is deprecated, please use /proc/4102/oom_score_adj instead.";
    expect(triageSection({ title: "kernel", identifier: null, lines: [line] })).toEqual([]);
  });
});

describe("the raw prefilter never changes the outcome", () => {
  test.each([
    "public/oom-memcg-v2-kernel6.dmesg.txt",
    "public/oom-memcg-kernel4.dmesg.txt",
    "public/hardware-errors.txt",
    "public/gpu-errors.txt",
  ])("%s as journal JSON: same events with and without it", async (file) => {
    const { Triage } = await import("../../src/classify/triage.ts");
    const { parseJournalLine } = await import("../../src/parse/journal-json.ts");
    // Each kernel line as journald would store it (a kernel-transport record).
    const lines = (await Bun.file(`${import.meta.dir}/../fixtures/${file}`).text()).split("\n").filter((l) => l && !l.startsWith("#"));
    const records = lines.map((l, i) =>
      JSON.stringify({
        __CURSOR: `c${i}`,
        _TRANSPORT: "kernel",
        SYSLOG_IDENTIFIER: "kernel",
        PRIORITY: "4",
        MESSAGE: l.replace(/^\[[^\]]*\] ?/, ""),
      }),
    );
    const run = (prefilter: boolean) => {
      const t = new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS });
      // One line at a time, as the reader does: the filter depends on the assembler's state.
      const out = records.flatMap((r) => (!prefilter || t.wantsRawLine(r) ? t.push(parseJournalLine(r)!, 0) : []));
      return [...out, ...t.flush(0)].map((c) => [c.rule, c.summary, c.entries.length]);
    };
    expect(run(true)).toEqual(run(false));
  });
});
