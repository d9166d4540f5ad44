import { MASS_RESTART_RULE } from "../classify/rule-spec.ts";
import { crashProgramInScope, type Candidate } from "../event.ts";

// What an incident is about. Events that share a fingerprint while its incident is open are
// one incident, whatever their tier or source: the kernel's OOM report names the victim's
// cgroup, whose leaf is the unit, so it meets the unit's own OOM line and its `oom-kill`
// failure under `unit:<name>`; a unit's exit, failure, restart loop and start-limit meet there
// too. Pure: a candidate in, a fingerprint out.

export const INCIDENT_KINDS = ["unit", "probe", "disk", "program", "cgroup", "gpu", "pressure", "kernel", "sight", "restarts"] as const;
export type IncidentKind = (typeof INCIDENT_KINDS)[number];

export interface Fingerprint {
  kind: IncidentKind;
  subject: string;
  /** `${kind}:${subject}`, the store's lookup key. */
  key: string;
}

function make(kind: IncidentKind, subject: string): Fingerprint {
  return { kind, subject, key: `${kind}:${subject}` };
}

/** Kernel block-layer device names as the kernel logs them ("sda", "nvme0n1") and smartctl's "/dev/sda" meet here. */
export function diskName(device: string): string {
  const base = device.replace(/^\/dev\//, "");
  // A partition's errors are its disk's: sda3 → sda, nvme0n1p2 → nvme0n1 (SMART speaks of the disk).
  const nvme = /^(nvme\d+n\d+)p\d+$/.exec(base);
  if (nvme) return nvme[1] as string;
  const sd = /^((?:sd|vd|hd|xvd)[a-z]+)\d+$/.exec(base);
  if (sd) return sd[1] as string;
  return base;
}

/** Kernel rules about storage: their device is a disk. */
const DISK_RULE = /(?:^|-)(?:io|block|ata|scsi|nvme|blk|disk|ext4|xfs|btrfs|zfs|md|mdadm|raid)(?:-|$)/;
const GPU_RULE = /(?:^|-)(?:gpu|nvidia|amdgpu|i915|xe|nouveau|drm)(?:-|$)/;

export function fingerprintOf(c: Candidate): Fingerprint {
  switch (c.facts.kind) {
    case "probe":
      return make("probe", c.facts.probe.service);
    case "smart":
      return make("disk", diskName(c.facts.disk.device));
    case "memory-pressure":
      return make("pressure", "memory");
    case "blindness":
      // What logtriage cannot see (the journal, the kernel log, its database): "blind" opens
      // the incident and "sees again" resolves it.
      return make("sight", c.facts.blindness.subject);
    default:
      break;
  }
  // Many units restarted at once: one incident of its own, not joined to any one unit's.
  if (c.rule === MASS_RESTART_RULE) return make("restarts", "mass");
  if (c.tier === "T4" && GPU_RULE.test(c.rule)) return make("gpu", c.facts.kind === "kernel" && c.facts.device ? c.facts.device : "gpu");
  if (c.tier === "T4" && c.facts.kind === "kernel" && c.facts.device && DISK_RULE.test(c.rule))
    return make("disk", diskName(c.facts.device));
  const scopedProgram = crashProgramInScope(c);
  if (scopedProgram !== null) return make("program", scopedProgram);
  if (c.unit) return make("unit", c.unit);
  if (c.facts.kind === "oom-kill" && c.facts.oom.taskMemcg) return make("cgroup", c.facts.oom.taskMemcg);
  if (c.facts.kind === "userspace-oom-kill" && c.facts.cgroup) return make("cgroup", c.facts.cgroup);
  if (c.process) return make("program", c.process);
  if (c.facts.kind === "kernel" && c.facts.device) return make("kernel", `${c.rule}:${c.facts.device}`);
  return make("kernel", c.rule);
}

/**
 * Programs that draw the screen: when one crashes within seconds of a GPU hang, the hang is
 * why, and the crash joins the GPU's incident instead of opening its own.
 */
const COMPOSITORS = new Set([
  "gnome-shell",
  "kwin_wayland",
  "kwin_x11",
  "Xorg",
  "Xwayland",
  "sway",
  "mutter",
  "weston",
  "Hyprland",
  "labwc",
  "wayfire",
  "river",
  "cosmic-comp",
  "plasmashell",
]);

/** How long after a GPU hang a compositor's crash is taken to be caused by it. */
export const GPU_CRASH_JOIN_US = 60 * 1_000_000;

/** A T2 crash of a compositor may belong to a recent GPU incident rather than its own. */
export function mayJoinGpuIncident(c: Candidate): boolean {
  if (c.tier !== "T2") return false;
  const name = c.process ?? (c.unit ? c.unit.replace(/(@.*)?\.(service|scope)$/, "") : null);
  return name !== null && COMPOSITORS.has(name);
}

/** The PSI monitor's notice of a memory-pressure episode still rising (monitors/psi.ts); its end is "psi-memory-pressure". */
export const PRESSURE_RISING_RULE = "psi-memory-pressure-rising";

/** A memory-pressure episode's end (or the daemon stopping during one): over, whatever came of it. */
export function isPressureEnd(c: Candidate): boolean {
  return c.facts.kind === "memory-pressure" && c.rule !== PRESSURE_RISING_RULE;
}

/** An OOM kill, by the kernel or a userspace killer: what a memory-pressure incident ends in. */
export function isOomKill(c: Candidate): boolean {
  return c.facts.kind === "oom-kill" || c.facts.kind === "userspace-oom-kill";
}

/** logtriage's own alarm that it cannot see (daemon/blindness.ts): always alerted. */
export const BLIND_RULE = "logtriage-blind";

/** Whether the candidate says its subject is well again (a probe's recovery, logtriage seeing again) rather than that something went wrong. */
export function isRecovery(c: Candidate): boolean {
  if (c.facts.kind === "blindness") return c.facts.blindness.state === "sees-again";
  return c.facts.kind === "probe" && c.facts.probe.state === "healthy";
}
