import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { parseConfig } from "../../src/config/load.ts";
import { createGpuEnricher } from "../../src/enrich/gpu.ts";
import { createEnrichers } from "../../src/enrich/registry.ts";
import { EnrichmentStage } from "../../src/enrich/stage.ts";
import type { Candidate } from "../../src/event.ts";
import { processRunner } from "../../src/run.ts";
import { openStore } from "../../src/store/db.ts";
import { commitEvent, getEvent } from "../../src/store/events.ts";
import { sectionNamed, triageFixture, triageSection } from "../_fixtures.ts";

// The compositor link on a real SQLite database, through the real enrichment stage: the GPU
// event comes from real amdgpu lines (tests/fixtures/real/gpu/driver-lines.txt, a 7.x reset
// quoted from wayvr#650), the crash from this machine's real python3 segfault capture with
// its process renamed to a compositor (there is no compositor or GPU on this VM).

const policy = { instanceId: "box", cooldownMs: 300_000, aggregateThreshold: 3 };
const quiet = { warn() {}, debug() {} };
const SECOND_US = 1_000_000;
/** 2026-11-22 18:50:00 UTC, when the GPU reset begins in these tests. */
const RESET_US = 1_795_373_400 * SECOND_US;

let db: Database;
let gpuLines: Candidate[];
let segfault: Candidate;

beforeEach(async () => {
  db = openStore(":memory:");
  gpuLines = triageSection(await sectionNamed("real/gpu/driver-lines.txt", "amdgpu 7.x full reset"));
  // the ring timeout and the full reset it needed (the reset's progress lines are not events)
  expect(gpuLines.length).toBe(2);
  segfault = (await triageFixture("real/segfault-python.jsonl")).candidates.find((c) => c.rule === "kernel-segfault") as Candidate;
  expect(segfault.process).toBe("python3");
});

afterEach(() => db.close());

/** The reset's lines, one second apart from RESET_US, stored as the daemon stores them (folded by the cooldown). */
function storeGpuReset(startUs = RESET_US): string {
  const ids = gpuLines.map((c, i) => commitEvent(db, { ...c, timestampUs: startUs + i * SECOND_US }, policy).id);
  expect(new Set(ids).size).toBe(1);
  return ids[0] as string;
}

/** The real segfault, as if `process` had crashed at `atUs`. */
function crashOf(process: string, atUs: number): Candidate {
  if (segfault.facts.kind !== "crash") throw new Error("expected crash facts");
  return {
    ...segfault,
    process,
    summary: segfault.summary.replace("python3", process),
    timestampUs: atUs,
    facts: { kind: "crash", crash: { ...segfault.facts.crash, process } },
  };
}

async function enrichThroughStage(crash: Candidate) {
  const stage = new EnrichmentStage({
    db,
    enrichers: [createGpuEnricher()],
    runner: processRunner,
    memory: null,
    instanceId: "box",
    log: quiet,
    toNotification: null,
  });
  const { id } = commitEvent(db, crash, policy);
  const wanted = stage.wants(crash);
  stage.enqueue(id, crash);
  await stage.idle();
  await stage.close();
  const found = getEvent(db, id);
  if (found.kind !== "found") throw new Error("crash event missing");
  return { wanted, event: found.event };
}

const clock = (us: number) => new Date(us / 1000).toTimeString().slice(0, 8);

describe("a compositor crash after a GPU reset", () => {
  test("names the GPU event and the driver in the detail and the summary", async () => {
    const gpuId = storeGpuReset();
    // the reset begins at RESET_US + 1 s; gnome-shell dies 10 s later
    const { wanted, event } = await enrichThroughStage(crashOf("gnome-shell", RESET_US + 11 * SECOND_US));
    expect(wanted).toBe(true);
    expect(event.summary).toBe("Crash: gnome-shell (SIGSEGV) after GPU hang (amdgpu)");
    expect(event.detail).toContain(
      `Follows a GPU hang at ${clock(RESET_US)} (event ${gpuId}: GPU error (amdgpu): ring gfx_0.0.0 timeout (GPU hang)) — the GPU driver, not gnome-shell, is the likely cause.`,
    );
    expect(event.enrichment?.sections[0]?.evidence).toMatchObject({ gpuEventId: gpuId, secondsAfterGpuEvent: 10 });
  });

  test("a reset logged without the timeout before it reads as a reset", async () => {
    const resetOnly = gpuLines.filter((c) => c.summary.includes("GPU reset begin"));
    const { id } = commitEvent(db, { ...(resetOnly[0] as Candidate), timestampUs: RESET_US }, policy);
    const { event } = await enrichThroughStage(crashOf("kwin_wayland", RESET_US + 30 * SECOND_US));
    expect(event.summary).toBe("Crash: kwin_wayland (SIGSEGV) after GPU reset (amdgpu)");
    expect(event.enrichment?.sections[0]?.evidence).toMatchObject({ gpuEventId: id, secondsAfterGpuEvent: 30 });
  });
});

describe("left alone", () => {
  test("no GPU event: the crash keeps its own summary and gets no line", async () => {
    const { event } = await enrichThroughStage(crashOf("gnome-shell", RESET_US));
    expect(event.summary).toBe("Crash: gnome-shell (SIGSEGV) in libc.so.6");
    expect(event.detail).not.toContain("GPU");
    expect(event.enrichment?.sections[0]?.evidence).toMatchObject({ gpuEventId: null });
  });

  test("a GPU event more than 2 minutes before the crash is not its cause", async () => {
    storeGpuReset();
    const { event } = await enrichThroughStage(crashOf("Xorg", RESET_US + 1 * SECOND_US + 121 * SECOND_US));
    expect(event.summary).toBe("Crash: Xorg (SIGSEGV) in libc.so.6");
    expect(event.detail).not.toContain("Follows a GPU");
  });

  test("a GPU event that began after the crash is not its cause", async () => {
    storeGpuReset(RESET_US + 5 * SECOND_US);
    const { event } = await enrichThroughStage(crashOf("Xorg", RESET_US));
    expect(event.detail).not.toContain("Follows a GPU");
  });

  test("a crash of a program that is not a compositor is not linked", async () => {
    storeGpuReset();
    const crash = crashOf("python3", RESET_US + 6 * SECOND_US);
    expect(createGpuEnricher().applies(crash)).toBe(false);
    const { wanted, event } = await enrichThroughStage(crash);
    expect(wanted).toBe(false);
    expect(event.summary).toBe("Crash: python3 (SIGSEGV) in libc.so.6");
    expect(event.enrichment).toBeNull();
  });

  test("another instance's GPU event does not explain this machine's crash", async () => {
    gpuLines.forEach((c, i) => commitEvent(db, { ...c, timestampUs: RESET_US + i * SECOND_US }, { ...policy, instanceId: "other" }));
    const { event } = await enrichThroughStage(crashOf("sway", RESET_US + 10 * SECOND_US));
    expect(event.summary).toBe("Crash: sway (SIGSEGV) in libc.so.6");
  });
});

describe("registry", () => {
  const ctx = { env: { HOME: "/home/me" }, hostname: "workstation" };
  test.each([true, false])("[detectors] gpu = %p → gpu enricher registered: %p", (gpu) => {
    const config = parseConfig(`[detectors]\ngpu = ${gpu}\n`, "config.toml", ctx);
    expect(createEnrichers(config).some((e) => e.name === "gpu")).toBe(gpu);
  });
});
