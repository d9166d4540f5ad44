import type { Database } from "bun:sqlite";
import { sleep } from "../sleep.ts";
import type { Candidate, SmartSummary } from "../event.ts";
import { OnceLog, type Log } from "../log.ts";
import {
  nameDisk,
  parseSmartctlReport,
  parseSmartctlScan,
  smartChanges,
  STANDBY_EXIT_STATUS,
  type ScannedDevice,
  type SmartctlReport,
} from "../parse/smartctl.ts";
import { RunError, type Runner } from "../run.ts";
import { loadMonitorState, saveMonitorState } from "../store/monitor-state.ts";
import type { Monitor } from "./monitor.ts";

// SMART: every [smart] poll_interval, `smartctl --scan-open` (or the
// configured devices), then `smartctl --json=c -a` per disk. An event only when a disk got
// worse since the last poll (overall health, reallocated / pending / offline-uncorrectable
// sectors, NVMe critical warning, media errors), or on the first sighting of a disk that is
// already bad. What each disk last showed is kept in monitor_state (`smart:/dev/sda`), so a
// restart does not announce the same bad disk again, and enrich/disk.ts can quote it.

export const SMART_STATE_PREFIX = "smart:";

/** What is kept per disk: the summary and when it was read. */
export interface SavedSmartState {
  summary: SmartSummary;
  polledUs: number;
}

export function smartStateKey(device: string): string {
  return `${SMART_STATE_PREFIX}${device}`;
}

/** A disk with many bad sectors or a USB bridge can take long to answer; smartd's own default is 30 s too. */
export const SMARTCTL_TIMEOUT_MS = 30_000;
/** The first poll waits this long after start, so the daemon's start is not slowed by disks. */
export const FIRST_POLL_DELAY_MS = 10_000;

/** argv for one disk. `-n standby,3`: a spun-down disk is skipped, not woken (a NAS's disks sleep); `-d TYPE` from the scan avoids a second autodetection, which may also wake it (smartctl(8) on -n). */
export function smartctlArgv(device: string, type: string | null): string[] {
  return ["smartctl", "--json=c", "-a", "-n", `standby,${STANDBY_EXIT_STATUS}`, ...(type ? ["-d", type] : []), device];
}

export interface SmartMonitorOptions {
  devices: string[];
  pollIntervalMs: number;
  db: Database;
  runner: Runner;
  log: Log;
  firstPollDelayMs?: number;
  /** µs since the epoch; Date.now by default. */
  nowUs?: () => number;
  /** Whether the daemon runs as root: EPERM from smartctl then means the driver refuses SMART, not that we lack rights. */
  isRoot?: boolean;
}

/** What one poll did, for `status` and the tests. */
export interface SmartPollResult {
  /** false when smartctl is missing: the monitor stops. */
  smartctlFound: boolean;
  polled: SmartSummary[];
  skipped: { device: string; why: string }[];
  candidates: Candidate[];
}

const INSTALL_HINT = "install smartmontools (apt install smartmontools), or set [smart] enabled = false";
const PERMISSION_HINT =
  "run logtriage as root (SMART needs raw disk access: the disk group and CAP_SYS_RAWIO), or set [smart] enabled = false";

export class SmartMonitor implements Monitor {
  readonly name = "smart";
  private readonly options: SmartMonitorOptions;
  private readonly nowUs: () => number;
  private readonly isRoot: boolean;
  /** Problems already logged once, so an hourly poll does not repeat them. */
  private readonly once: OnceLog;

  constructor(options: SmartMonitorOptions) {
    this.options = options;
    this.once = new OnceLog(options.log);
    this.nowUs = options.nowUs ?? (() => Date.now() * 1000);
    this.isRoot = options.isRoot ?? process.getuid?.() === 0;
  }

  async run(signal: AbortSignal, emit: (candidate: Candidate) => void): Promise<void> {
    await sleep(this.options.firstPollDelayMs ?? FIRST_POLL_DELAY_MS, signal);
    while (!signal.aborted) {
      try {
        const result = await this.pollOnce(signal);
        for (const c of result.candidates) emit(c);
        if (!result.smartctlFound) return;
      } catch (error) {
        // A bug or a database error in one poll must not end SMART monitoring; the next poll tries again.
        this.options.log.warn(`SMART poll failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      await sleep(this.options.pollIntervalMs, signal);
    }
  }

  /** Runs smartctl; null when it is not installed (logged once). */
  private async smartctl(argv: string[], signal: AbortSignal) {
    try {
      return await this.options.runner.run(argv, { timeoutMs: SMARTCTL_TIMEOUT_MS, signal, maxOutputBytes: 4 << 20 });
    } catch (error) {
      if (error instanceof RunError && error.result === null) {
        this.once.tell("missing", "warn", `SMART monitoring is off: smartctl cannot be run (${error.message}); ${INSTALL_HINT}`);
        return null;
      }
      throw error;
    }
  }

  private async devices(signal: AbortSignal, skipped: SmartPollResult["skipped"]): Promise<ScannedDevice[] | null> {
    if (this.options.devices.length) return this.options.devices.map((name) => ({ name, type: null, openError: null }));
    const result = await this.smartctl(["smartctl", "--scan-open", "--json=c"], signal);
    if (result === null) return null;
    const scanned = parseSmartctlScan(result.stdout);
    if (scanned === null) {
      this.once.tell(
        "scan-unreadable",
        "warn",
        `smartctl --scan-open gave no JSON (smartmontools 7.0 or newer is needed): ${(result.stderr || result.stdout).trim().slice(0, 200)}`,
      );
      return [];
    }
    const usable: ScannedDevice[] = [];
    for (const d of scanned) {
      if (d.openError === null) {
        usable.push(d);
        continue;
      }
      skipped.push({ device: d.name, why: d.openError });
      if (/Permission denied|Operation not permitted/i.test(d.openError) && !this.isRoot) {
        this.once.tell(`denied:${d.name}`, "warn", `cannot read SMART of ${d.name}: ${d.openError}; ${PERMISSION_HINT}`);
      } else {
        this.once.tell(`open:${d.name}`, "debug", `smartctl cannot open ${d.name}: ${d.openError}; skipped`);
      }
    }
    if (scanned.length === 0) {
      this.once.tell(
        "no-disks",
        "info",
        "smartctl --scan-open found no disks with SMART (virtual disks have none); name them in [smart] devices if it missed some",
      );
    }
    return usable;
  }

  /** One poll of every disk. Never throws for what smartctl or the disks say. */
  async pollOnce(signal: AbortSignal): Promise<SmartPollResult> {
    const out: SmartPollResult = { smartctlFound: true, polled: [], skipped: [], candidates: [] };
    const devices = await this.devices(signal, out.skipped);
    if (devices === null) return { ...out, smartctlFound: false };
    for (const device of devices) {
      if (signal.aborted) break;
      const argv = smartctlArgv(device.name, device.type);
      const result = await this.smartctl(argv, signal);
      if (result === null) return { ...out, smartctlFound: false };
      if (result.timedOut) {
        out.skipped.push({ device: device.name, why: "timed out" });
        this.options.log.warn(`smartctl on ${device.name} gave no answer within ${SMARTCTL_TIMEOUT_MS / 1000} s; skipped this poll`);
        continue;
      }
      const report = parseSmartctlReport(result.stdout, device.name, result.exitCode);
      if (report === null) {
        out.skipped.push({ device: device.name, why: "no JSON" });
        this.once.tell(
          `nojson:${device.name}`,
          "warn",
          `smartctl on ${device.name} gave no JSON (exit ${result.exitCode}): ${(result.stderr || result.stdout).trim().slice(0, 200)}`,
        );
        continue;
      }
      const summary = this.handle(report, out);
      if (summary) this.record(summary, out);
    }
    return out;
  }

  private handle(report: SmartctlReport, out: SmartPollResult): SmartSummary | null {
    switch (report.kind) {
      case "summary":
        return report.summary;
      case "standby":
        out.skipped.push({ device: report.device, why: "standby" });
        this.options.log.debug(`${report.device} is spun down; not woken for SMART, next poll will try again`);
        return null;
      case "unsupported":
        out.skipped.push({ device: report.device, why: report.message });
        this.once.tell(`unsupported:${report.device}`, "debug", `${report.device} has no SMART to read (${report.message}); skipped`);
        return null;
      case "denied":
        out.skipped.push({ device: report.device, why: report.message });
        if (report.notPermitted && this.isRoot) {
          // Root was refused: the driver does not pass SMART commands (virtio answers SG_IO with EPERM).
          this.once.tell(`unsupported:${report.device}`, "debug", `${report.device} has no SMART to read (${report.message}); skipped`);
        } else {
          this.once.tell(`denied:${report.device}`, "warn", `cannot read SMART of ${report.device}: ${report.message}; ${PERMISSION_HINT}`);
        }
        return null;
      case "failed":
        out.skipped.push({ device: report.device, why: report.message });
        this.once.tell(`failed:${report.device}`, "warn", `smartctl could not read ${report.device}: ${report.message}`);
        return null;
    }
  }

  private record(summary: SmartSummary, out: SmartPollResult): void {
    const key = smartStateKey(summary.device);
    const previous = loadMonitorState<SavedSmartState>(this.options.db, key);
    const nowUs = this.nowUs();
    const changes = smartChanges(previous?.summary ?? null, summary);
    saveMonitorState(this.options.db, key, { summary, polledUs: nowUs } satisfies SavedSmartState, nowUs);
    out.polled.push(summary);
    if (changes.length) out.candidates.push(smartCandidate(summary, changes, nowUs));
  }
}

export function smartCandidate(disk: SmartSummary, changes: string[], nowUs: number): Candidate {
  return {
    tier: "T4",
    severity: disk.healthPassed === false ? "critical" : "high",
    rule: "smart-health",
    summary: `SMART: ${nameDisk(disk)}: ${changes.join("; ")}`,
    process: null,
    pid: null,
    unit: null,
    timestampUs: nowUs,
    facts: { kind: "smart", disk, changes },
    entries: [],
  };
}
