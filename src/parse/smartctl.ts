import * as v from "valibot";
import type { SmartSummary } from "../event.ts";

// smartctl's JSON (smartmontools 7.0+, `--json` / `--json=c`): `--scan-open` lists the disks,
// `-a DEV` reports one. Pure: the text and, where JSON is missing, the process exit code in;
// typed values out. Fixtures: tests/fixtures/smartctl/ (public captures and this VM's own).
// Only the fields logtriage reads are checked (valibot, loose objects: smartctl adds fields
// between versions); everything else in the output is ignored.

const num = v.optional(v.nullable(v.number()));
const str = v.optional(v.nullable(v.string()));

const SmartctlHeader = v.looseObject({
  exit_status: v.optional(v.number()),
  messages: v.optional(v.array(v.looseObject({ string: v.optional(v.string()), severity: v.optional(v.string()) }))),
});

const ScanSchema = v.looseObject({
  smartctl: v.optional(SmartctlHeader),
  devices: v.optional(
    v.array(
      v.looseObject({
        name: v.string(),
        type: str,
        protocol: str,
        // --scan-open: set when the device could not be opened ("Permission denied", a RAID hint).
        open_error: str,
      }),
    ),
  ),
});

const AtaAttribute = v.looseObject({ id: v.number(), raw: v.optional(v.looseObject({ value: num })) });
const ScsiErrorCounters = v.optional(v.looseObject({ total_uncorrected_errors: num }));

const DeviceReportSchema = v.looseObject({
  smartctl: v.optional(SmartctlHeader),
  device: v.optional(v.looseObject({ name: v.optional(v.string()), type: str, protocol: str })),
  model_name: str,
  scsi_model_name: str,
  serial_number: str,
  smart_support: v.optional(v.looseObject({ available: v.optional(v.boolean()), enabled: v.optional(v.boolean()) })),
  smart_status: v.optional(v.looseObject({ passed: v.optional(v.boolean()) })),
  ata_smart_attributes: v.optional(v.looseObject({ table: v.optional(v.array(AtaAttribute)) })),
  nvme_smart_health_information_log: v.optional(
    v.looseObject({ critical_warning: num, media_errors: num, temperature: num, power_on_hours: num }),
  ),
  scsi_grown_defect_list: num,
  scsi_error_counter_log: v.optional(v.looseObject({ read: ScsiErrorCounters, write: ScsiErrorCounters, verify: ScsiErrorCounters })),
  temperature: v.optional(v.looseObject({ current: num })),
  power_on_time: v.optional(v.looseObject({ hours: num })),
});

export interface ScannedDevice {
  /** "/dev/sda", "/dev/nvme0", "/dev/bus/0". */
  name: string;
  /** smartctl's -d type ("sat", "nvme", "scsi", "megaraid,0"); pass it back so the disk is not probed again. */
  type: string | null;
  /** Why --scan-open could not open it; such a device is not queried. */
  openError: string | null;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON at all: an old smartctl without --json, or output cut off by the size cap.
    return undefined;
  }
}

/** `smartctl --scan-open --json` → the disks; null when the text is not smartctl's JSON. A VM's virtio disk is not listed at all. */
export function parseSmartctlScan(text: string): ScannedDevice[] | null {
  const parsed = v.safeParse(ScanSchema, parseJson(text));
  if (!parsed.success || parsed.output.smartctl === undefined) return null;
  return (parsed.output.devices ?? []).map((d) => ({ name: d.name, type: d.type ?? null, openError: d.open_error ?? null }));
}

// smartctl(8) EXIT STATUS: "The exit statuses of smartctl are defined by a bitmask."
const EXIT_BITS: readonly string[] = [
  "command line did not parse",
  "device open failed, gave no IDENTIFY data, or is in a low-power mode",
  "a SMART or other command to the disk failed, or a SMART data checksum was wrong",
  "SMART status check returned DISK FAILING",
  "prefail attributes at or below threshold",
  "some attributes were at or below threshold in the past",
  "the device error log contains errors",
  "the self-test log contains errors",
];

/** The meaning of each bit set in smartctl's exit status, lowest bit first. */
export function describeExitStatus(status: number): string[] {
  return EXIT_BITS.filter((_, bit) => (status & (1 << bit)) !== 0);
}

/** `-n standby,STATUS` makes smartctl exit with STATUS, instead of 2, when the disk sleeps. 3 is the value smartctl(8) suggests ("a unique exit status"): bits 0 and 1 together do not occur otherwise. */
export const STANDBY_EXIT_STATUS = 3;

export type SmartctlReport =
  | { kind: "summary"; summary: SmartSummary }
  /** The disk is spun down; smartctl did not wake it (`-n standby`). */
  | { kind: "standby"; device: string }
  /** The device has no SMART to read: a virtio or other virtual disk, a USB bridge smartctl cannot pass through, SMART unavailable. */
  | { kind: "unsupported"; device: string; message: string }
  /** Opening the device was refused (EACCES); with EPERM ("Operation not permitted") it is `notPermitted`, which for root means the driver refuses SMART commands. */
  | { kind: "denied"; device: string; message: string; notPermitted: boolean }
  /** smartctl ran but said something else went wrong before it could read the disk. */
  | { kind: "failed"; device: string; message: string };

function protocolOf(
  protocol: string | null | undefined,
  report: v.InferOutput<typeof DeviceReportSchema>,
): SmartSummary["protocol"] | null {
  if (protocol === "ATA" || protocol === "NVMe" || protocol === "SCSI") return protocol;
  if (report.nvme_smart_health_information_log) return "NVMe";
  if (report.ata_smart_attributes) return "ATA";
  return null;
}

function ataRaw(report: v.InferOutput<typeof DeviceReportSchema>, id: number): number | null {
  const attribute = report.ata_smart_attributes?.table?.find((a) => a.id === id);
  return attribute?.raw?.value ?? null;
}

function scsiUncorrected(report: v.InferOutput<typeof DeviceReportSchema>): number | null {
  const log = report.scsi_error_counter_log;
  if (!log) return null;
  const counts = [log.read, log.write, log.verify]
    .map((c) => c?.total_uncorrected_errors)
    .filter((n): n is number => typeof n === "number");
  return counts.length ? counts.reduce((a, b) => a + b, 0) : null;
}

/**
 * `smartctl --json -a DEV` → what it says about the disk. `exitCode` is the process's, used
 * when the JSON lacks smartctl.exit_status; null when the text is not smartctl's JSON.
 * Messages as smartctl 7.3 writes them here (tests/fixtures/smartctl/real-*.json):
 *   "/dev/vda: Unable to detect device type"                               (virtio, autodetect)
 *   "Smartctl open device: /dev/vda failed: Operation not permitted"       (virtio, -d scsi, root)
 *   "Smartctl open device: /dev/vda failed: Permission denied"             (not root)
 */
export function parseSmartctlReport(text: string, deviceArg: string, exitCode: number | null = null): SmartctlReport | null {
  const parsed = v.safeParse(DeviceReportSchema, parseJson(text));
  if (!parsed.success || parsed.output.smartctl === undefined) return null;
  const report = parsed.output;
  const exitStatus = report.smartctl?.exit_status ?? exitCode ?? 0;
  // The name we asked for, not report.device.name: it is the key the state is kept under, and
  // smartctl may print another spelling (a renamed capture, "/dev/sdc [USB JMicron]" in info_name).
  const device = deviceArg;
  const errors = (report.smartctl?.messages ?? []).filter((m) => m.severity === "error").map((m) => m.string ?? "");
  const message = errors.join("; ") || (report.smartctl?.messages?.[0]?.string ?? "");

  if (exitStatus === STANDBY_EXIT_STATUS && !report.smart_status) return { kind: "standby", device };
  const protocol = protocolOf(report.device?.protocol, report);
  const hasSmartData =
    report.smart_status !== undefined ||
    report.ata_smart_attributes !== undefined ||
    report.nvme_smart_health_information_log !== undefined;
  if (!hasSmartData) {
    if (/Permission denied/i.test(message)) return { kind: "denied", device, message, notPermitted: false };
    if (/Operation not permitted/i.test(message)) return { kind: "denied", device, message, notPermitted: true };
    if (
      /Unable to detect device type|Unknown USB bridge|lacks SMART capability|SMART support is:\s*Unavailable/i.test(message) ||
      report.smart_support?.available === false
    ) {
      return { kind: "unsupported", device, message: message || "SMART support is unavailable" };
    }
    return {
      kind: "failed",
      device,
      message: message || `smartctl exit status ${exitStatus}: ${describeExitStatus(exitStatus).join(", ")}`,
    };
  }
  if (protocol === null) return { kind: "unsupported", device, message: "smartctl named no protocol (ATA, NVMe, SCSI) for it" };

  const nvme = report.nvme_smart_health_information_log;
  return {
    kind: "summary",
    summary: {
      device,
      model: report.model_name ?? report.scsi_model_name ?? null,
      serial: report.serial_number ?? null,
      protocol,
      healthPassed: report.smart_status?.passed ?? null,
      reallocated: protocol === "ATA" ? ataRaw(report, 5) : protocol === "SCSI" ? (report.scsi_grown_defect_list ?? null) : null,
      pending: protocol === "ATA" ? ataRaw(report, 197) : null,
      offlineUncorrectable: protocol === "ATA" ? ataRaw(report, 198) : null,
      nvmeCriticalWarning: nvme?.critical_warning ?? null,
      mediaErrors: protocol === "NVMe" ? (nvme?.media_errors ?? null) : protocol === "SCSI" ? scsiUncorrected(report) : null,
      temperatureC: report.temperature?.current ?? nvme?.temperature ?? null,
      powerOnHours: report.power_on_time?.hours ?? nvme?.power_on_hours ?? null,
      exitStatus,
    },
  };
}

// NVMe base specification, SMART / Health Information log, byte 0 "Critical Warning".
const NVME_CRITICAL_WARNING_BITS: readonly string[] = [
  "available spare below threshold",
  "temperature outside its thresholds",
  "reliability degraded by media or internal errors",
  "media placed in read-only mode",
  "volatile memory backup failed",
  "persistent memory region read-only",
];

/** The meaning of each bit set in an NVMe critical_warning byte. */
export function describeNvmeCriticalWarning(value: number): string[] {
  const words = NVME_CRITICAL_WARNING_BITS.filter((_, bit) => (value & (1 << bit)) !== 0);
  const unknown = value & ~((1 << NVME_CRITICAL_WARNING_BITS.length) - 1);
  if (unknown) words.push(`bits 0x${unknown.toString(16)}`);
  return words;
}

function health(s: SmartSummary): string {
  return s.healthPassed === null ? "no verdict" : s.healthPassed ? "PASSED" : "FAILED";
}

const COUNTERS: readonly { key: "reallocated" | "pending" | "offlineUncorrectable" | "mediaErrors"; words: string }[] = [
  { key: "reallocated", words: "reallocated sectors" },
  { key: "pending", words: "pending sectors" },
  { key: "offlineUncorrectable", words: "offline uncorrectable sectors" },
  { key: "mediaErrors", words: "media errors" },
];

/**
 * What got worse between two polls of one disk, in words ("pending sectors 0 → 8"). With no
 * previous poll (first sighting, or a disk the daemon never saw before) a disk that is already
 * bad is reported as it is ("pending sectors 8"). Counters going down (a pending sector
 * rewritten) and a healthy first sighting are not changes worth an alert.
 */
export function smartChanges(previous: SmartSummary | null, current: SmartSummary): string[] {
  const changes: string[] = [];
  if (current.healthPassed === false && previous?.healthPassed !== false) {
    changes.push(
      previous === null || previous.healthPassed === null
        ? "SMART overall health FAILED"
        : `SMART overall health FAILED (was ${health(previous)})`,
    );
  }
  for (const { key, words } of COUNTERS) {
    const now = current[key];
    if (now === null || now <= 0) continue;
    const before = previous?.[key] ?? null;
    if (previous === null) changes.push(`${words} ${now}`);
    else if (before === null || now > before) changes.push(`${words} ${before ?? "?"} → ${now}`);
  }
  const warning = current.nvmeCriticalWarning ?? 0;
  const newBits = warning & ~(previous?.nvmeCriticalWarning ?? 0);
  if (newBits) changes.push(`NVMe critical warning: ${describeNvmeCriticalWarning(newBits).join(", ")}`);
  return changes;
}

/** One line for a disk: "PASSED, reallocated 0, pending 0, offline uncorrectable 0, 31 °C, 48115 h on". */
export function describeSmartSummary(s: SmartSummary): string {
  const parts = [health(s)];
  if (s.reallocated !== null) parts.push(`reallocated ${s.reallocated}`);
  if (s.pending !== null) parts.push(`pending ${s.pending}`);
  if (s.offlineUncorrectable !== null) parts.push(`offline uncorrectable ${s.offlineUncorrectable}`);
  if (s.mediaErrors !== null) parts.push(`media errors ${s.mediaErrors}`);
  if (s.nvmeCriticalWarning) parts.push(`critical warning: ${describeNvmeCriticalWarning(s.nvmeCriticalWarning).join(", ")}`);
  if (s.temperatureC !== null) parts.push(`${s.temperatureC} °C`);
  if (s.powerOnHours !== null) parts.push(`${s.powerOnHours} h on`);
  return parts.join(", ");
}

/** "/dev/sdc (Hitachi HDS721050DLE630, serial MSK423Y20S3HBC)". */
export function nameDisk(s: SmartSummary): string {
  const about = [s.model, s.serial ? `serial ${s.serial}` : null].filter((x): x is string => x !== null);
  return about.length ? `${s.device} (${about.join(", ")})` : s.device;
}
