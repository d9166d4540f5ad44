import { expect, test } from "bun:test";
import { EventWriter } from "../../src/daemon/writer.ts";
import { blameOom, fastestGrowing } from "../../src/enrich/oom-blame.ts";
import { createOomEnricher } from "../../src/enrich/oom.ts";
import { EnrichmentStage } from "../../src/enrich/stage.ts";
import type { Candidate, Facts } from "../../src/event.ts";
import { processRunner } from "../../src/run.ts";
import { MemoryHistory, type MemorySample, type ProcessSample } from "../../src/host/memory-history.ts";
import { openStore } from "../../src/store/db.ts";
import { getEvent } from "../../src/store/events.ts";
import { nextPending } from "../../src/store/outbox.ts";
import { triageFixture } from "../_fixtures.ts";

// OOM blame on real kernel reports (captured here, see tests/fixtures/real/README.md) and
// readings shaped like the PSI monitor's: a cgroup where a small process with
// oom_score_adj=1000 was killed while a hog grew beside it, a hog that was its own victim,
// and userspace killers whose reports have no task table.

const thresholds = { warnSomeAvg10: 50, warnFullAvg10: 10 };
type OomFacts = Extract<Facts, { kind: "oom-kill" | "userspace-oom-kill" }>;

async function oomCandidate(fixture: string): Promise<Candidate & { facts: OomFacts }> {
  const run = await triageFixture(fixture);
  const c = run.candidates.find((x) => x.tier === "T1" && x.facts.kind === "oom-kill");
  if (!c) throw new Error(`no kernel OOM candidate in ${fixture}`);
  return c as Candidate & { facts: OomFacts };
}

function proc(pid: number, comm: string, rssMb: number, owner: string | null = null): ProcessSample {
  return { pid, comm, cmdline: comm, rssKb: rssMb * 1024, owner };
}

function reading(
  timeUs: number,
  top: ProcessSample[],
  psi: { someAvg10: number; fullAvg10: number } = { someAvg10: 0, fullAvg10: 0 },
): MemorySample {
  return { timeUs, psi, memTotalKb: 24_000_000, memAvailableKb: 20_000_000, swapTotalKb: 0, swapFreeKb: 0, top };
}

test("the small victim of a cgroup OOM, and the hog beside it named as the likely cause (real report)", async () => {
  const c = await oomCandidate("real/oom-memcg-victim-not-hog.jsonl");
  const blame = blameOom({ facts: c.facts, killTimeUs: c.timestampUs, samples: null, thresholds });
  expect(blame.summary).toBe("OOM kill: python3 (pid 4288) — likely cause: python3 54.2 MB");
  // The rule's detail already names the cgroup and its limit; a bare cgroup adds no owner line.
  expect(blame.lines[0]).toStartWith("Likely cause:");
  expect(blame.evidence["cgroup"]).toEqual({ path: "/lt_victim", owner: "lt_victim", limitKb: 65536, usageKb: 65536 });
  const unitFacts = {
    ...c.facts,
    oom: { ...(c.facts.kind === "oom-kill" ? c.facts.oom : ({} as never)), memcg: "/system.slice/postgresql.service" },
  } as OomFacts;
  expect(blameOom({ facts: unitFacts, killTimeUs: c.timestampUs, samples: null, thresholds }).lines[0]).toBe(
    "That cgroup is postgresql.service's: postgresql.service hit its own memory limit of 64.0 MB, the machine did not run out of memory.",
  );
  expect(blame.lines).toContain(
    "Likely cause: python3 (pid 4291) consuming 54.2 MB RSS in the cgroup, per the kernel's task table at the kill — 2.7× the victim's 19.8 MB.",
  );
  expect(blame.lines).toContain("The kernel killed python3 instead because its oom_score_adj is 1000 (the largest's: 0).");
  expect(blame.evidence["largest"]).toMatchObject({ pid: 4291, rssKb: 13883 * 4, oomScoreAdj: 0, source: "kernel task table" });
  expect(blame.missing).toEqual(["memory history is off ([psi] enabled = false): no growth or pressure before the kill"]);
});

test("with the memory history: the hog's growth before the kill, and no system-wide pressure (a cgroup limit)", async () => {
  const c = await oomCandidate("real/oom-memcg-victim-not-hog.jsonl");
  const t = c.timestampUs;
  const samples = [
    reading(t - 20e6, [proc(900, "postgres", 300), proc(4288, "python3", 19)]),
    reading(t - 15e6, [proc(900, "postgres", 300), proc(4291, "python3", 12), proc(4288, "python3", 19)]),
    reading(t - 10e6, [proc(900, "postgres", 301), proc(4291, "python3", 30), proc(4288, "python3", 19)]),
    reading(t - 5e6, [proc(900, "postgres", 300), proc(4291, "python3", 50), proc(4288, "python3", 19)]),
    // After the kill: not evidence for it.
    reading(t + 5e6, [proc(777, "later", 900)]),
  ];
  const blame = blameOom({ facts: c.facts, killTimeUs: t, samples, thresholds });
  expect(blame.lines).toContain("Fastest-growing before the kill: python3 (pid 4291), 12.0 MB → 50.0 MB in 10 s (228 MB/min).");
  expect(blame.lines).toContain(
    "No system-wide memory pressure in the 20 s before the kill — as expected when a cgroup hits its own limit.",
  );
  expect(blame.evidence["fastestGrowing"]).toEqual({
    name: "python3",
    pid: 4291,
    owner: null,
    fromKb: 12 * 1024,
    toKb: 50 * 1024,
    overS: 10,
  });
  expect(blame.missing).toEqual([]);
});

test("a hog that was its own victim is named as the cause, without blaming another", async () => {
  const c = await oomCandidate("real/oom-memcg-v1-kernel6.jsonl");
  const blame = blameOom({ facts: c.facts, killTimeUs: c.timestampUs, samples: null, thresholds });
  expect(blame.summary).toBeNull();
  expect(
    blame.lines.some((l) =>
      /was itself the largest consumer, .* RSS in the cgroup, per the kernel's task table at the kill: the victim was the cause\./.test(l),
    ),
  ).toBe(true);
});

test("a system-wide kill after sustained pressure says how long it was critical, and its peak", async () => {
  const run = await triageFixture("public/oom-global-kernel5.dmesg.txt");
  const c = run.candidates.find((x) => x.tier === "T1" && x.facts.kind === "oom-kill") as Candidate & { facts: OomFacts };
  const t = 1_800_000_000_000_000;
  const calm = reading(t - 40e6, [], { someAvg10: 2, fullAvg10: 0 });
  // This report (kernel 5, vm.oom_dump_tasks off) has no task table: the history names the largest.
  const rising = [23, 18, 13, 8, 3].map((ago, i) =>
    reading(t - ago * 1e6, [proc(19499, "mem.bash", 2_000 + i * 400), proc(800, "firefox", 900)], {
      someAvg10: 60 + i * 5,
      fullAvg10: 20 + i * 5,
    }),
  );
  const blame = blameOom({ facts: c.facts, killTimeUs: t, samples: [calm, ...rising], thresholds });
  expect(blame.lines).toContain("Memory pressure was critical (PSI full avg10 up to 40%, some avg10 up to 80%) for 23 s before the kill.");
  expect(blame.evidence["pressure"]).toMatchObject({ aboveForS: 23, readings: 5, peakSomeAvg10: 80, peakFullAvg10: 40 });
  expect(blame.lines).toContain(
    "mem.bash (pid 19499) was itself the largest consumer, 3.5 GB RSS in the memory history 3 s before the kill: the victim was the cause.",
  );
  expect(blame.lines).toContain("Fastest-growing before the kill: mem.bash (pid 19499), 2.0 GB → 3.5 GB in 20 s (4.7 GB/min).");
  expect(blame.summary).toBeNull();
});

test("earlyoom's kill: the largest processes come from the memory history (its report has no table)", () => {
  const t = 1_800_000_000_000_000;
  const facts: OomFacts = { kind: "userspace-oom-kill", killer: "earlyoom", victim: "cluster", pid: 29410, cgroup: null };
  const samples = [
    reading(t - 4e6, [proc(31000, "electron", 8_300, "app-code.scope"), proc(29410, "cluster", 3_300), proc(1200, "chromium", 1_800)]),
  ];
  const blame = blameOom({ facts, killTimeUs: t, samples, thresholds });
  expect(blame.summary).toBe("OOM kill: cluster (pid 29410) — likely cause: electron 8.1 GB");
  expect(blame.lines).toContain(
    "Likely cause: electron (pid 31000, app-code.scope) consuming 8.1 GB RSS in the memory history 4 s before the kill — 2.5× the victim's 3.2 GB.",
  );
  expect(blame.lines).toContain("Largest processes 4 s before the kill:");
  expect(blame.lines.some((l) => /2\. cluster .* 3\.2 GB {2}pid 29410 \(killed\)/.test(l))).toBe(true);
});

test("systemd-oomd's cgroup becomes the app people know", () => {
  const facts: OomFacts = {
    kind: "userspace-oom-kill",
    killer: "systemd-oomd",
    victim: null,
    pid: null,
    cgroup: "/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4521.scope",
  };
  const blame = blameOom({ facts, killTimeUs: 1, samples: [], thresholds });
  expect(blame.lines[0]).toBe(
    "systemd-oomd acted on firefox (cgroup /user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4521.scope).",
  );
  expect(blame.missing).toContain("the memory history has no reading before the kill yet (the daemon had just started)");
});

test("growth: a process must grow by 10 MB to count; fluctuations do not", () => {
  const t = 1_000_000_000;
  const samples = [reading(t - 10e6, [proc(1, "a", 100), proc(2, "b", 100)]), reading(t - 5e6, [proc(1, "a", 105), proc(2, "b", 150)])];
  expect(fastestGrowing(samples, t)?.process.comm).toBe("b");
  expect(fastestGrowing([samples[0] as MemorySample, reading(t - 5e6, [proc(1, "a", 105)])], t)).toBeNull();
});

test("through the enrichment stage: the stored event and its alert name the hog", async () => {
  const db = openStore(":memory:");
  const c = await oomCandidate("real/oom-memcg-victim-not-hog.jsonl");
  const memory = new MemoryHistory();
  memory.push(reading(c.timestampUs - 5e6, [proc(4291, "python3", 50)]));
  const notify = (e: { summary: string; detail: string }) => ({
    title: e.summary,
    message: e.detail,
    priority: 5 as const,
    tags: [],
    click: null,
  });
  const stage = new EnrichmentStage({
    db,
    enrichers: [createOomEnricher(thresholds)],
    runner: processRunner,
    memory,
    instanceId: "box",
    log: { warn() {}, debug() {} },
    toNotification: notify,
  });
  new EventWriter({
    db,
    policy: { instanceId: "box", cooldownMs: 0, aggregateThreshold: 3 },
    alerts: { tiers: new Set(["T1"]), toNotification: notify },
    enrichment: stage,
  }).commit([c], null);
  await stage.idle();
  const alert = nextPending(db);
  if (alert?.state !== "pending") throw new Error("the alert was not released");
  expect(alert.notification.title).toBe("OOM kill: python3 (pid 4288) — likely cause: python3 54.2 MB");
  expect(alert.notification.message).toContain("Likely cause: python3 (pid 4291)");
  const id = (db.query("SELECT id FROM events").get() as { id: string }).id;
  const stored = getEvent(db, id);
  expect(stored.kind === "found" && stored.event.enrichment?.sections[0]?.evidence?.["largest"]).toMatchObject({ pid: 4291 });
  db.close();
});
