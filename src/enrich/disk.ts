import { describeAge } from "../text/format.ts";
import { readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import type { Candidate } from "../event.ts";
import { describeSmartSummary, nameDisk, parseSmartctlReport } from "../parse/smartctl.ts";
import { RunError } from "../run.ts";
import { SMARTCTL_TIMEOUT_MS, smartctlArgv, smartStateKey, type SavedSmartState } from "../monitors/smart.ts";
import { loadMonitorState } from "../store/monitor-state.ts";
import type { EnrichContext, Enricher, Enrichment } from "./enricher.ts";

// A kernel I/O error names a device ("I/O error, dev sda", "ata1.00: failed command",
// "nvme0n1: I/O Cmd … I/O Error"); the first question is whether the disk itself is dying.
// This enricher answers with the disk's latest SMART summary: the one the SMART monitor
// stored (with its age), or, when none is stored, one smartctl run now.

// Kernel names of whole disks and their partitions / ports, as the T4 rules capture them.
const SCSI_DISK = /^((?:sd|vd|hd|xvd)[a-z]+)\d*$/;
const NVME = /^(nvme\d+)(?:(n\d+)(?:p\d+)?)?$/;
const ATA_PORT = /^(ata\d+)(?:\.\d+)?$/;

export function isDiskDevice(device: string): boolean {
  return SCSI_DISK.test(device) || NVME.test(device) || ATA_PORT.test(device);
}

/**
 * The disk whose port is `port` ("ata3"), from /sys: each /sys/block/sdX links to its device
 * path, which passes through the ATA port (…/ata3/host2/target2:0:0/2:0:0:0/block/sda).
 */
export function diskBehindAtaPort(port: string, sysRoot = "/sys"): string | null {
  let names: string[];
  try {
    names = readdirSync(join(sysRoot, "block"));
  } catch {
    // No /sys/block (a container without sysfs): the port cannot be mapped; the caller says so.
    return null;
  }
  for (const name of names) {
    let target: string;
    try {
      target = readlinkSync(join(sysRoot, "block", name));
    } catch {
      // Not a link (an old sysfs layout) or gone since the listing: not this one.
      continue;
    }
    if (target.split("/").includes(port)) return name;
  }
  return null;
}

/** The smartctl device names a kernel device may be stored under, best first; empty when it cannot be mapped. */
export function smartDevicesFor(device: string, sysRoot = "/sys"): string[] {
  const scsi = SCSI_DISK.exec(device);
  if (scsi) return [`/dev/${scsi[1] as string}`];
  const nvme = NVME.exec(device);
  // smartctl --scan names the controller (/dev/nvme0); a configured device may be the namespace.
  if (nvme)
    return nvme[2]
      ? [`/dev/${nvme[1] as string}`, `/dev/${nvme[1] as string}${nvme[2]}`]
      : [`/dev/${nvme[1] as string}`, `/dev/${nvme[1] as string}n1`];
  const ata = ATA_PORT.exec(device);
  if (ata) {
    const disk = diskBehindAtaPort(ata[1] as string, sysRoot);
    return disk ? [`/dev/${disk}`] : [];
  }
  return [];
}

function storedSummary(db: Database, devices: string[]): SavedSmartState | null {
  for (const d of devices) {
    const saved = loadMonitorState<SavedSmartState>(db, smartStateKey(d));
    if (saved) return saved;
  }
  return null;
}

async function smartNow(device: string, ctx: EnrichContext): Promise<Enrichment> {
  let result;
  try {
    result = await ctx.runner.run(smartctlArgv(device, null), {
      timeoutMs: SMARTCTL_TIMEOUT_MS,
      signal: ctx.signal,
      maxOutputBytes: 4 << 20,
    });
  } catch (error) {
    if (error instanceof RunError && error.result === null)
      return { lines: [], missing: [`no SMART state of ${device}: smartctl cannot be run (install smartmontools)`] };
    throw error;
  }
  if (result.timedOut) return { lines: [], missing: [`no SMART state of ${device}: smartctl did not answer in time`] };
  const report = parseSmartctlReport(result.stdout, device, result.exitCode);
  if (report === null) return { lines: [], missing: [`no SMART state of ${device}: smartctl gave no JSON (exit ${result.exitCode})`] };
  switch (report.kind) {
    case "summary":
      return {
        lines: [`SMART now: ${nameDisk(report.summary)}: ${describeSmartSummary(report.summary)}`],
        evidence: { smartDevice: report.summary.device, smartAgeSeconds: 0, smart: report.summary },
      };
    case "standby":
      return { lines: [`SMART: ${device} is spun down; not woken to read it.`], evidence: { smartDevice: device, smartStandby: true } };
    case "unsupported":
    case "denied":
    case "failed":
      return { lines: [], missing: [`no SMART state of ${device}: ${report.message}`] };
  }
}

export interface DiskEnricherOptions {
  sysRoot?: string;
}

export function createDiskEnricher(options: DiskEnricherOptions = {}): Enricher {
  const sysRoot = options.sysRoot ?? "/sys";
  return {
    name: "disk",
    // One smartctl run at most (its own limit is 30 s; a disk with bad sectors can be slow).
    timeoutMs: SMARTCTL_TIMEOUT_MS + 5_000,
    applies: (c: Candidate) => c.tier === "T4" && c.facts.kind === "kernel" && c.facts.device !== null && isDiskDevice(c.facts.device),
    enrich: async (c, ctx) => {
      const kernelDevice = (c.facts.kind === "kernel" ? c.facts.device : null) as string;
      const devices = smartDevicesFor(kernelDevice, sysRoot);
      if (devices.length === 0) {
        return { lines: [], missing: [`no SMART state: no disk found behind ${kernelDevice} in ${join(sysRoot, "block")}`] };
      }
      const saved = storedSummary(ctx.db, devices);
      if (saved) {
        const ageUs = ctx.nowUs - saved.polledUs;
        return {
          lines: [`SMART ${describeAge(ageUs)}: ${nameDisk(saved.summary)}: ${describeSmartSummary(saved.summary)}`],
          evidence: { smartDevice: saved.summary.device, smartAgeSeconds: Math.round(ageUs / 1_000_000), smart: saved.summary },
        };
      }
      return smartNow(devices[0] as string, ctx);
    },
  };
}
