import { describe, expect, test } from "bun:test";
import type { Candidate } from "../../src/event.ts";
import { BUILTIN_RULES } from "../../src/classify/rules.ts";
import { xidMeaning } from "../../src/classify/gpu-xid.ts";
import { sectionNamed, triageSection } from "../_fixtures.ts";

// GPU driver lines quoted in public bug reports and mailing-list posts
// (tests/fixtures/real/gpu/driver-lines.txt; sources in tests/fixtures/real/README.md).

const FILE = "real/gpu/driver-lines.txt";

async function triageNamed(title: string): Promise<Candidate[]> {
  return triageSection(await sectionNamed(FILE, title));
}

const described = (cs: Candidate[]) => cs.map((c) => `${c.rule} ${c.severity} ${c.summary}`);

describe("amdgpu", () => {
  test("6.12+ wording ('amdgpu: ring … timeout' after the device); the per-ring reset that followed is context", async () => {
    expect(described(await triageNamed("amdgpu 6.12+ per-ring reset"))).toEqual([
      "amdgpu-fault high GPU error (amdgpu): ring gfx_0.0.0 timeout (GPU hang)",
    ]);
  });

  test("7.x wording (no second 'amdgpu:'): the timeout and the full reset it needed; the reset's progress is not an event", async () => {
    expect(described(await triageNamed("amdgpu 7.x full reset"))).toEqual([
      "amdgpu-fault high GPU error (amdgpu): ring gfx_0.0.0 timeout (GPU hang)",
      "amdgpu-fault high GPU error (amdgpu): GPU reset begin",
    ]);
  });

  test("a reset's progress lines are known (matched by gpu-reset-progress), so no later rule tiers them", async () => {
    const progress = BUILTIN_RULES.find((r) => r.name === "gpu-reset-progress");
    const lines = [
      "amdgpu 0000:03:00.0: amdgpu: Ring gfx_0.0.0 reset succeeded",
      "amdgpu 0000:2d:00.0: Ring gfx_0.0.0 reset failed",
      "amdgpu 0000:2d:00.0: GPU reset succeeded, trying to resume",
      "amdgpu 0000:2d:00.0: VRAM is lost due to GPU reset!",
      "amdgpu 0000:08:00.0: amdgpu: GPU reset(2) succeeded!",
      "xe 0000:00:02.0: [drm] GT0: Kernel-submitted job timed out",
    ];
    expect(lines.filter((l) => progress?.pattern?.test(l))).toEqual(lines);
    expect(triageSection({ title: "progress", identifier: null, lines })).toEqual([]);
  });

  test("6.x wording ('*ERROR* ring … timeout' from amdgpu_job_timedout)", async () => {
    const cs = await triageNamed("amdgpu 6.x, picom");
    expect(cs[0]?.summary).toBe("GPU error (amdgpu): ring gfx_0.0.0 timeout (GPU hang)");
    expect(cs.map((c) => c.summary)).toEqual([
      "GPU error (amdgpu): ring gfx_0.0.0 timeout (GPU hang)",
      "GPU error (amdgpu): GPU reset begin",
    ]);
  });

  test("the lines of one incident share a subject, so the cooldown folds them into one event", async () => {
    const cs = await triageNamed("amdgpu 7.x full reset");
    expect(new Set(cs.map((c) => `${c.rule}|${c.process}|${c.unit}`)).size).toBe(1);
  });

  test("'Not enough memory for command submission!' is VRAM exhaustion, not a RAM OOM", async () => {
    const [c] = await triageNamed("amdgpu VRAM exhausted");
    expect([c?.tier, c?.rule, c?.summary]).toEqual(["T4", "gpu-vram-exhausted", "GPU memory (VRAM) exhausted (amdgpu)"]);
  });
});

describe("Intel i915 and xe", () => {
  test("i915 chip reset and GPU HANG naming the process", async () => {
    const cs = await triageNamed("i915 GuC engine reset");
    expect(described(cs)).toEqual([
      "i915-gpu-hang high GPU error (i915): resetting chip for GuC failed to reset engine mask=0x1",
      "i915-gpu-hang high GPU hang (i915) in xdg-desktop-por",
    ]);
    expect([cs[1]?.process, cs[1]?.pid]).toEqual(["xdg-desktop-por", 1676]);
  });

  test("i915's older wording", async () => {
    expect((await triageNamed("i915 4.x-era")).map((c) => c.summary)).toEqual(["GPU hang (i915)", "GPU hang (i915)"]);
  });

  test("xe 6.9: 'Timedout job' without GT prefix or process", async () => {
    expect(described(await triageNamed("xe 6.9"))).toEqual(["xe-gpu-hang high GPU error (xe): job timed out (GPU hang)"]);
  });

  test("xe 6.15-era: engine reset, a kernel job ('in no process [-1]' names nobody)", async () => {
    const cs = await triageNamed("xe 6.15-era");
    expect(cs.map((c) => c.summary)).toEqual(["GPU error (xe): engine reset (bcs)", "GPU error (xe): job timed out (GPU hang)"]);
    expect(cs.every((c) => c.process === null && c.pid === null)).toBe(true);
  });

  test("another driver's 'Resetting chip' line is not an i915 hang", () => {
    const lines = ["r8169 0000:02:00.0 eth0: Resetting chip for link down"];
    expect(triageSection({ title: "other", identifier: null, lines }).filter((c) => c.rule === "i915-gpu-hang")).toEqual([]);
  });
});

describe("nouveau", () => {
  test("FIFO fault is one event; 'channel killed' and recovery lines add nothing", async () => {
    const cs = await triageNamed("nouveau 5.11");
    expect(cs.map((c) => c.rule)).toEqual(["nouveau-fault"]);
    expect(cs[0]?.summary).toStartWith("GPU error (nouveau fifo): fault 01 [WRITE]");
    // the channel's owner here is the kernel's DRM client, not a process
    expect(cs[0]?.process).toBeNull();
  });
});

describe("NVIDIA", () => {
  test("Xid 13 from no process ('<unknown>'), Xid 109 naming the process", async () => {
    const cs = await triageNamed("NVIDIA Xid 13 with no process");
    expect(described(cs)).toEqual([
      "nvidia-xid medium GPU error (NVIDIA Xid 13): graphics engine exception (often an application bug)",
      "nvidia-xid high GPU error (NVIDIA Xid 109): context switch timeout [pt_main_thread]",
    ]);
    expect([cs[0]?.process, cs[0]?.pid]).toEqual([null, null]);
    expect([cs[1]?.process, cs[1]?.pid]).toEqual(["pt_main_thread", 1797828]);
    expect(cs[0]?.facts.kind === "kernel" && cs[0].facts.device).toBe("0000:cb:00");
  });

  test("Xid 45 is the cleanup after another Xid", async () => {
    const [c] = await triageNamed("NVIDIA Xid 45");
    expect(c?.summary).toBe("GPU error (NVIDIA Xid 45): preemptive cleanup after earlier errors [python3]");
  });

  test("2015 driver lines without pid", async () => {
    expect((await triageNamed("NVIDIA Xid 44 / 31")).map((c) => c.summary)).toEqual([
      "GPU error (NVIDIA Xid 44): graphics engine fault during context switch",
      "GPU error (NVIDIA Xid 31): GPU memory page fault (often an application bug)",
    ]);
  });

  test.each([
    ["NVIDIA fallen off the bus, old driver", "GPU error (NVIDIA): GPU 0000:01:00.0 has fallen off the bus"],
    ["NVIDIA fallen off the bus, open module", "GPU error (NVIDIA): GPU has fallen off the bus"],
  ])("%s: critical, with no Xid line", async (title, summary) => {
    const cs = await triageNamed(title);
    expect(cs.map((c) => [c.rule, c.severity, c.summary])).toEqual([["nvidia-fallen-off-bus", "critical", summary]]);
  });

  test.each([
    [79, "critical"],
    [119, "critical"],
    [154, "critical"],
    [48, "critical"],
    [13, "medium"],
    [43, "medium"],
    [31, "medium"],
  ])("Xid %d is %s", (code, severity) => {
    expect(xidMeaning(code).severity as string).toBe(severity);
  });

  test("an Xid missing from the table still says where to look", () => {
    expect(xidMeaning(999).meaning).toBe("Xid 999 (see NVIDIA's Xid catalogue)");
  });
});

test("every GPU rule is in the gpu group, so [detectors] gpu = false turns them all off", async () => {
  const gpuRules = BUILTIN_RULES.filter((r) => /gpu|nvidia|amdgpu|i915|xe-|nouveau/.test(r.name));
  expect(gpuRules.length).toBe(10);
  expect(gpuRules.every((r) => r.group === "gpu")).toBe(true);
  const lines = (await sectionNamed(FILE, "amdgpu 7.x full reset")).lines;
  expect(triageSection({ title: "off", identifier: null, lines }, new Set(["core"]))).toEqual([]);
});

test("as journal JSON, the raw prefilter keeps every line a GPU rule (or gpu-reset-progress) needs", async () => {
  const { Triage } = await import("../../src/classify/triage.ts");
  const { parseJournalLine } = await import("../../src/parse/journal-json.ts");
  const { ALL_GROUPS } = await import("../_fixtures.ts");
  const lines = (await Bun.file(`${import.meta.dir}/../fixtures/${FILE}`).text()).split("\n").filter((l) => l && !l.startsWith("#"));
  // each line as journald stores a kernel record
  const records = lines.map((l, i) =>
    JSON.stringify({ __CURSOR: `c${i}`, _TRANSPORT: "kernel", SYSLOG_IDENTIFIER: "kernel", PRIORITY: "3", MESSAGE: l.trimStart() }),
  );
  const run = (prefilter: boolean) => {
    const t = new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS });
    const out = records.flatMap((r) => (!prefilter || t.wantsRawLine(r) ? t.push(parseJournalLine(r)!, 0) : []));
    return [...out, ...t.flush(0)].map((c) => [c.rule, c.summary]);
  };
  expect(run(true)).toEqual(run(false));
  expect(run(true).length).toBeGreaterThan(15);
});
