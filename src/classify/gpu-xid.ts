import type { Severity } from "../event.ts";

// Meanings of the NVIDIA Xid codes people actually meet, after NVIDIA's "Xid Errors"
// catalogue (docs.nvidia.com/deploy/xid-errors). An Xid line looks like:
//   NVRM: Xid (PCI:0000:01:00): 79, pid=1234, GPU has fallen off the bus.
// Severity: "critical" where the GPU is gone or memory is corrupt, "high" for driver /
// firmware faults, "medium" where an application's own bug is the usual cause.

interface XidMeaning {
  meaning: string;
  severity: Severity;
}

const XID: Record<number, XidMeaning> = {
  8: { meaning: "GPU stopped processing (timeout)", severity: "high" },
  13: { meaning: "graphics engine exception (often an application bug)", severity: "medium" },
  31: { meaning: "GPU memory page fault (often an application bug)", severity: "medium" },
  32: { meaning: "invalid or corrupted push buffer stream", severity: "high" },
  38: { meaning: "driver firmware error", severity: "high" },
  43: { meaning: "GPU stopped processing (application fault)", severity: "medium" },
  44: { meaning: "graphics engine fault during context switch", severity: "high" },
  // Logged for every channel torn down after another error ("caused by previous Xid 149"): look for that one.
  45: { meaning: "preemptive cleanup after earlier errors", severity: "medium" },
  48: { meaning: "double-bit ECC error (uncorrectable memory error)", severity: "critical" },
  56: { meaning: "display engine error", severity: "high" },
  61: { meaning: "internal micro-controller breakpoint/warning", severity: "high" },
  62: { meaning: "internal micro-controller halt", severity: "critical" },
  63: { meaning: "ECC page retirement / row remapping event", severity: "high" },
  64: { meaning: "ECC page retirement / row remapping failure", severity: "critical" },
  68: { meaning: "video processor (NVDEC) exception", severity: "high" },
  69: { meaning: "graphics engine class error", severity: "high" },
  74: { meaning: "NVLink error", severity: "high" },
  79: { meaning: "GPU has fallen off the bus", severity: "critical" },
  92: { meaning: "high single-bit ECC error rate", severity: "high" },
  94: { meaning: "contained ECC error", severity: "high" },
  95: { meaning: "uncontained ECC error", severity: "critical" },
  109: { meaning: "context switch timeout", severity: "high" },
  119: { meaning: "GSP RPC timeout", severity: "critical" },
  120: { meaning: "GSP error", severity: "critical" },
  // Seen after Xid 119 on resume (open-gpu-kernel-modules#1271): the driver gave up; a GPU reset or reboot is needed.
  154: { meaning: "GPU recovery action changed (reset or reboot needed)", severity: "critical" },
};

export function xidMeaning(code: number): XidMeaning {
  return XID[code] ?? { meaning: `Xid ${code} (see NVIDIA's Xid catalogue)`, severity: "high" };
}
