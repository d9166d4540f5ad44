import { xidMeaning } from "../gpu-xid.ts";
import type { RuleSpec } from "../rule-spec.ts";
import { kernelFacts } from "./_helpers.ts";

// T4: GPU hangs, faults and resets.

export const GPU_RULES: readonly RuleSpec[] = [
  // ── T4: GPU ─────────────────────────────────────────────────────────────────────────
  // Wording checked against real driver lines quoted in public bug reports
  // (tests/fixtures/real/gpu/, sources in tests/fixtures/real/README.md). One incident logs
  // several lines (timeout, reset, VRAM lost); they share a rule and no process, so the
  // cooldown folds them into one event. enrich/gpu.ts links a compositor crash to it.
  {
    name: "nvidia-xid",
    tier: "T4",
    severity: "high",
    group: "gpu",
    doc: "NVIDIA driver: `NVRM: Xid (PCI:…): N, pid=…, name=…` (meaning of common codes included)",
    kernel: true,
    literals: ["NVRM: Xid"],
    // "name=<unknown>" and "pid='<unknown>'": the fault came from no live process (driver 550+).
    pattern: /NVRM: Xid \((?:PCI:)?(?<dev>[^)]*)\): (?<code>\d+)(?:, pid=(?<pid>\d+|'<unknown>'))?(?:, name=(?<name>[^,]+))?/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const code = Number(g["code"]);
      const meaning = xidMeaning(code);
      const pid = g["pid"] && /^\d+$/.test(g["pid"]) ? Number(g["pid"]) : null;
      const name = g["name"] && g["name"] !== "<unknown>" ? g["name"] : null;
      return {
        summary: `GPU error (NVIDIA Xid ${code}): ${meaning.meaning}${name ? ` [${name}]` : ""}`,
        severity: meaning.severity,
        process: name,
        pid,
        facts: kernelFacts(group, g["dev"] ?? null),
      };
    },
  },
  {
    // Drivers log this with an Xid 79 or, since 570 (and before ~2014), without one.
    name: "nvidia-fallen-off-bus",
    tier: "T4",
    severity: "critical",
    group: "gpu",
    doc: "NVIDIA driver: `GPU at … has fallen off the bus` / `…fallen off the bus and is not responding` without an Xid line",
    kernel: true,
    literals: ["fallen off the bus"],
    pattern: /NVRM: (?:GPU (?:at )?(?:PCI:)?(?<dev>[\w:.]+?):? (?:GPU )?has fallen off the bus|fallen off the bus and is not responding)/,
    unless: /NVRM: Xid/,
    describe: ({ group, m }) => ({
      summary: `GPU error (NVIDIA): GPU${m?.groups?.["dev"] ? ` ${m.groups["dev"]}` : ""} has fallen off the bus`,
      facts: kernelFacts(group, m?.groups?.["dev"] ?? null),
    }),
  },
  {
    name: "gpu-vram-exhausted",
    tier: "T4",
    severity: "high",
    group: "gpu",
    doc: "GPU driver could not fit a job's buffers in video memory (amdgpu `Not enough memory for command submission!`, TTM/driver allocation failures) — VRAM, not system RAM",
    kernel: true,
    literals: ["amdgpu", "radeon", "nouveau", "i915", "NVRM", "TTM"],
    pattern:
      /(?<driver>amdgpu|radeon|nouveau|i915|NVRM|TTM)\b.*(?:Not enough memory for command submission|[Ff]ailed to allocate|[Oo]ut of memory|fail ttm_validate|-ENOMEM|VRAM (?:is )?full)/,
    describe: ({ group, m }) => ({
      summary: `GPU memory (VRAM) exhausted (${m?.groups?.["driver"] as string})`,
      facts: kernelFacts(group),
    }),
  },
  {
    // A full reset that did not work is news beyond the hang that caused it (the GPU may now be
    // unusable until reboot): its own rule, so it does not fold into the hang's event. A failed
    // per-ring or MES reset is not: the driver goes on to a full reset, whose outcome this is.
    name: "gpu-recovery-failed",
    tier: "T4",
    severity: "high",
    group: "gpu",
    doc: "GPU reset did not recover: amdgpu `GPU reset(N) failed`; i915/xe `GuC engine reset request failed on …`",
    kernel: true,
    literals: ["reset failed", "engine reset request failed"],
    // drivers/gpu/drm/amd/amdgpu (6.12+ per-ring reset, MES); i915 intel_guc_submission.c and
    // xe xe_guc_submit.c intel_guc_engine_failure_process_msg(): "GuC engine reset request failed on %d:%d (%s) because 0x%08X".
    pattern:
      /^amdgpu \S+ (?:amdgpu: )?(?<what>GPU reset(?:\(\d+\))? failed)|^(?<drv>i915|xe) \S+ \[drm\] (?:\*ERROR\* )?(?:GT\d+: )?(?<guc>GuC engine reset request failed on \d+:\d+(?: \((?<engine>\w+)\))?)/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      return { summary: `GPU recovery failed (${g["drv"] ?? "amdgpu"}): ${(g["what"] ?? g["guc"]) as string}`, facts: kernelFacts(group) };
    },
  },
  {
    // The lines a driver logs after the hang it already reported: the reset's progress and
    // outcome. Known, and not events of their own: one amdgpu reset logs five such lines, and
    // five events of one rule inside the cooldown would read as a "crash loop" (store/events.ts
    // aggregation) when it was one hang. The hang line before them is the event.
    name: "gpu-reset-progress",
    tier: null,
    severity: "warning",
    group: "gpu",
    doc: "amdgpu `Ring … reset succeeded/failed` (a full reset follows), MES `failed to respond` / `failed to reset legacy queue`, `GPU reset succeeded`, `GPU reset(N) succeeded!`, `VRAM is lost due to GPU reset!`; xe `Kernel-submitted job timed out` — the progress of a reset whose hang is the event",
    kernel: true,
    literals: [
      "reset succeeded",
      "reset failed",
      "GPU reset(",
      "VRAM is lost",
      "Kernel-submitted job timed out",
      "reset legacy queue",
      "MES failed to respond",
    ],
    pattern:
      /^amdgpu \S+ (?:amdgpu: )?(?:Ring \S+ reset (?:succeeded|failed)|MES failed to respond to msg=\w+|GPU reset(?:\(\d+\))? succeeded|VRAM is lost due to GPU reset)|^\[drm\] VRAM is lost due to GPU reset|^\[drm:amdgpu_mes_reset_legacy_queue \[amdgpu\]\] \*ERROR\* failed to reset legacy queue|^xe \S+ \[drm\] (?:Tile\d+: )?(?:GT\d+: )?Kernel-submitted job timed out/,
    describe: () => ({ summary: "" }),
  },
  {
    name: "amdgpu-fault",
    tier: "T4",
    severity: "high",
    group: "gpu",
    doc: "amdgpu: `ring … timeout`, `[gfxhub] page fault`, `GPU fault detected`, legacy `VM fault (…) at page N`, `GPU reset begin!`",
    kernel: true,
    literals: ["amdgpu"],
    // Kernel 6.8: "[drm:amdgpu_job_timedout [amdgpu]] *ERROR* ring gfx_0.0.0 timeout";
    // 6.12+: "amdgpu 0000:03:00.0: amdgpu: ring gfx_0.0.0 timeout"; 7.x drops the second
    // "amdgpu:" ("amdgpu 0000:28:00.0: ring gfx_0.0.0 timeout") and says "GPU reset begin!. Source: 1".
    // "GPU reset begin!" is its own event only when no timeout came before it (the cooldown folds it).
    pattern:
      /(?:\*ERROR\* |^amdgpu \S+ (?:amdgpu: )?)(?:ring (?<ring>\S+) timeout|\[(?<hub>\w+)\] (?:no-)?(?:retry )?page fault|(?<fault>GPU fault detected|VM fault \(0x[0-9a-f]+, vmid \d+(?:, pasid \d+)?\) at page \d+)|(?<reset>GPU reset begin|GPU recovery failed))/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const what = g["ring"]
        ? `ring ${g["ring"]} timeout (GPU hang)`
        : g["hub"]
          ? `GPU page fault (${g["hub"]})`
          : g["fault"]
            ? "GPU page fault"
            : (g["reset"] as string);
      return { summary: `GPU error (amdgpu): ${what}`, facts: kernelFacts(group) };
    },
  },
  {
    // amdgpu prints a fault or a hang as several dev_err/DRM_ERROR lines; the first is the
    // event (amdgpu-fault), these follow it and describe it.
    name: "amdgpu-fault-detail",
    tier: null,
    severity: "warning",
    group: "gpu",
    doc: "amdgpu detail lines after a fault or hang (`Process information: …`, `in page starting at address …`, `*_PROTECTION_FAULT_STATUS`, fault status fields): part of the amdgpu-fault event",
    kernel: true,
    literals: ["amdgpu"],
    pattern:
      /^(?:\[drm:amdgpu_job_timedout \[amdgpu\]\] \*ERROR\* Process information: |amdgpu \S+ (?:amdgpu: )?\s*(?:Process \S+ pid \d+ thread |in page starting at address |\w*_L2_PROTECTION_FAULT_STATUS:|Faulty UTCL2 client ID|(?:MORE_FAULTS|WALKER_ERROR|PERMISSION_FAULTS|MAPPING_ERROR|RW): 0x))/,
    describe: () => ({ summary: "" }),
  },
  {
    name: "i915-gpu-hang",
    tier: "T4",
    severity: "high",
    group: "gpu",
    doc: "i915: `GPU HANG: ecode …, in PROCESS [PID]`, `Resetting chip for …`, `Resetting rcs0 for …`",
    kernel: true,
    literals: ["GPU HANG", "Resetting"],
    // The reset lines are only i915's when they carry its device prefix ("i915 0000:00:02.0:
    // [drm] Resetting chip for stopped heartbeat on rcs0"); other drivers reset chips too.
    pattern:
      /GPU HANG: ecode [^,]+, in (?<comm>.+?) \[(?<pid>\d+)\]|GPU HANG: ecode [^,]+|^i915 \S+ (?:\[drm\] )?(?:GT\d+: )?Resetting (?<engine>\w+) for (?<reason>.*)|^drm\/i915: Resetting chip after gpu hang/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      return {
        summary: g["engine"]
          ? `GPU error (i915): resetting ${g["engine"]} for ${g["reason"] as string}`
          : `GPU hang (i915)${g["comm"] ? ` in ${g["comm"]}` : ""}`,
        process: g["comm"] ?? null,
        pid: g["pid"] ? Number(g["pid"]) : null,
        facts: kernelFacts(group),
      };
    },
  },
  {
    name: "xe-gpu-hang",
    tier: "T4",
    severity: "high",
    group: "gpu",
    doc: "Intel xe: `Timedout job: … in PROCESS [PID]`, `Engine reset: engine_class=…`",
    kernel: true,
    literals: ["Timedout job", "Engine reset"],
    // 6.9: "xe 0000:00:02.0: [drm] Timedout job: seqno=…, guc_id=2, flags=0x0"; 6.15+ adds
    // "GT0: " (and "Tile0: ") and " in llama-bench [260404]" ("in no process [-1]" for kernel jobs).
    pattern:
      /^xe \S+ \[drm\] (?:Tile\d+: )?(?:GT\d+: )?(?:Timedout job: [^\n]*?(?: in (?<comm>.+?) \[(?<pid>-?\d+)\])?$|Engine reset: engine_class=(?<engine>\w+))/m,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const process = g["comm"] && g["comm"] !== "no process" ? g["comm"] : null;
      const what = g["engine"] ? `engine reset (${g["engine"]})` : `job timed out (GPU hang)${process ? ` in ${process}` : ""}`;
      return { summary: `GPU error (xe): ${what}`, process, pid: process && g["pid"] ? Number(g["pid"]) : null, facts: kernelFacts(group) };
    },
  },
  {
    name: "nouveau-fault",
    tier: "T4",
    severity: "high",
    group: "gpu",
    doc: "nouveau: `fifo: fault … on channel N [… PROCESS[PID]]`, graphics TRAPs, `wait for idle timeout`, `failed to idle channel` (every era's prefix)",
    kernel: true,
    literals: ["nouveau"],
    // 4.x+: "nouveau 0000:01:00.0: fifo: …" and NV_PRINTK's client prefix "… DRM: failed to idle channel 0 [DRM]";
    // 3.x: "nouveau E[    1184] failed to idle channel 0xcccc0000"; 2.6.3x: "[drm] nouveau 0000:01:00.0: Failed to idle channel 2."
    pattern:
      /^(?:nouveau \S+: (?<sub>[^:\s]+): |nouveau E\[\s*\d+\] |\[drm\] nouveau \S+: )(?<what>.*(?:fault|TRAP|DATA_ERROR|ILLEGAL|timeout|SCHED_ERROR|PBDMA|[Ff]ailed to idle channel).*)$/,
    describe: ({ group, m }) => {
      const g = m?.groups ?? {};
      const what = g["what"] as string;
      // "… on channel 6 [00feff3000 Xwayland[1859]]": the channel's owner, when a process.
      const owner = /on channel -?\d+ \[\w+ (.+?)\[(\d+)\]\]/.exec(what);
      return {
        summary: `GPU error (nouveau${g["sub"] ? ` ${g["sub"]}` : ""}): ${what}`,
        process: owner?.[1] ?? null,
        pid: owner?.[2] ? Number(owner[2]) : null,
        facts: kernelFacts(group),
      };
    },
  },
];
