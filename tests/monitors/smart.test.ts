import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import { createConsola } from "consola/core";
import type { Candidate } from "../../src/event.ts";
import type { Log } from "../../src/log.ts";
import { describeCandidate } from "../../src/text/describe.ts";
import { processRunner, type RunResult, type Runner } from "../../src/run.ts";
import { SmartMonitor, smartStateKey, type SavedSmartState } from "../../src/monitors/smart.ts";
import { openStore } from "../../src/store/db.ts";
import { loadMonitorState } from "../../src/store/monitor-state.ts";
import { FIXTURES } from "../_fixtures.ts";
import { missingTool } from "../_builders.ts";

// The SMART monitor on a real SQLite database. smartctl is either a Runner answering from
// captured JSON (tests/fixtures/smartctl/) in sequence, or the real smartctl on this VM.

let dir: string;
let db: Database;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "logtriage-smart-"));
  db = openStore(join(dir, "events.db"));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const capture = (name: string) => readFileSync(join(FIXTURES, "smartctl", name), "utf8");

interface LogLine {
  type: string;
  text: string;
}
function capturingLog(): { log: Log; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = createConsola({ level: 5, reporters: [{ log: (o) => lines.push({ type: o.type, text: o.args.map(String).join(" ") }) }] });
  return { log, lines };
}

/** Answers `--scan-open` with `scan` and each `-a` with the next capture; records every argv. */
function replayRunner(scan: string | null, reports: string[]): Runner & { calls: string[][] } {
  const queue = [...reports];
  const calls: string[][] = [];
  return {
    calls,
    run: async (argv) => {
      calls.push(argv);
      const stdout = argv.includes("--scan-open") ? scan : queue.shift();
      if (stdout === undefined || stdout === null) throw new Error(`no capture left for ${argv.join(" ")}`);
      const exit = (JSON.parse(stdout) as { smartctl: { exit_status: number } }).smartctl.exit_status;
      return { exitCode: exit, stdout, stderr: "", timedOut: false } satisfies RunResult;
    },
  };
}

const never = new AbortController().signal;

function monitor(runner: Runner, log: Log, devices: string[] = ["/dev/sdb"], nowUs = 1_800_000_000_000_000): SmartMonitor {
  return new SmartMonitor({ devices, pollIntervalMs: 3_600_000, db, runner, log, nowUs: () => nowUs, isRoot: true });
}

describe("SmartMonitor with captured smartctl output", () => {
  test("healthy → pending sectors up: one event; unchanged: none; restart with the saved state: none", async () => {
    const { log } = capturingLog();
    const runner = replayRunner(null, [
      capture("public-ata-wd-green-healthy.json"),
      capture("derived-ata-wd-green-pending-8.json"),
      capture("derived-ata-wd-green-pending-8.json"),
    ]);
    const m = monitor(runner, log);

    const first = await m.pollOnce(never);
    expect(first.candidates).toEqual([]);
    expect(first.polled.map((s) => [s.device, s.pending])).toEqual([["/dev/sdb", 0]]);

    const second = await m.pollOnce(never);
    expect(second.candidates).toHaveLength(1);
    const event = second.candidates[0] as Candidate;
    expect([event.tier, event.severity, event.rule]).toEqual(["T4", "high", "smart-health"]);
    expect(event.summary).toBe("SMART: /dev/sdb (WDC WD10EADS-00M2B0, serial WD-WCAV5M851348): pending sectors 0 → 8");
    expect(describeCandidate(event)).toContain("Now: PASSED, reallocated 0, pending 8, offline uncorrectable 0, 31 °C, 48115 h on");

    expect((await m.pollOnce(never)).candidates).toEqual([]);

    const restarted = monitor(replayRunner(null, [capture("derived-ata-wd-green-pending-8.json")]), log);
    expect((await restarted.pollOnce(never)).candidates).toEqual([]);
    expect(loadMonitorState<SavedSmartState>(db, smartStateKey("/dev/sdb"))?.summary.pending).toBe(8);
  });

  test("the configured device is read with -a, -n standby,3 and no -d", async () => {
    const runner = replayRunner(null, [capture("public-ata-wd-green-healthy.json")]);
    await monitor(runner, capturingLog().log).pollOnce(never);
    expect(runner.calls).toEqual([["smartctl", "--json=c", "-a", "-n", "standby,3", "/dev/sdb"]]);
  });

  test("scanned NVMe already failing on first sighting: an event, its -d type passed back", async () => {
    const runner = replayRunner(capture("public-scan-open-nvme.json"), [capture("public-nvme-samsung970-media-errors.json")]);
    const result = await monitor(runner, capturingLog().log, []).pollOnce(never);
    expect(runner.calls[1]).toEqual(["smartctl", "--json=c", "-a", "-n", "standby,3", "-d", "nvme", "/dev/nvme0"]);
    expect(result.candidates.map((c) => c.summary)).toEqual([
      "SMART: /dev/nvme0 (Samsung SSD 970 EVO 500GB, serial S466NX0M776250H): media errors 7",
    ]);
  });

  test("a FAILED disk is critical and its detail decodes smartctl's exit status", async () => {
    const runner = replayRunner(null, [capture("public-ata-hitachi-failed-reallocated-pending.json")]);
    const [event] = (await monitor(runner, capturingLog().log, ["/dev/sdc"]).pollOnce(never)).candidates;
    expect(event?.severity).toBe("critical");
    const detail = describeCandidate(event as Candidate);
    expect(detail).toContain("SMART overall health FAILED");
    expect(detail).toContain("smartctl says: SMART status check returned DISK FAILING; prefail attributes at or below threshold");
  });

  test("smartctl not installed: one warning naming the fix, and run() ends", async () => {
    const { log, lines } = capturingLog();
    const missing = missingTool;
    const m = new SmartMonitor({ devices: [], pollIntervalMs: 1, firstPollDelayMs: 0, db, runner: missing, log, isRoot: true });
    await m.run(never, () => {
      throw new Error("no event expected");
    });
    const warnings = lines.filter((l) => l.type === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.text).toContain("apt install smartmontools");
    expect(warnings[0]?.text).toContain("[smart] enabled = false");
  });

  test("not root and permission denied: one warning per disk with the fix, however many polls", async () => {
    const { log, lines } = capturingLog();
    const denied = capture("real-virtio-vda-permission-denied-nobody.json");
    const m = new SmartMonitor({
      devices: ["/dev/vda"],
      pollIntervalMs: 1,
      db,
      runner: replayRunner(null, [denied, denied]),
      log,
      isRoot: false,
    });
    await m.pollOnce(never);
    const second = await m.pollOnce(never);
    expect(second.skipped).toEqual([{ device: "/dev/vda", why: "Smartctl open device: /dev/vda failed: Permission denied" }]);
    const warnings = lines.filter((l) => l.type === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.text).toContain("run logtriage as root");
  });
});

describe("SmartMonitor with the real smartctl on this VM", () => {
  test("scan: no disk with SMART here; no event, one info line, nothing thrown", async () => {
    const { log, lines } = capturingLog();
    const result = await new SmartMonitor({ devices: [], pollIntervalMs: 1, db, runner: processRunner, log }).pollOnce(never);
    expect(result.smartctlFound).toBe(true);
    expect(result.candidates).toEqual([]);
    expect(lines.filter((l) => l.type === "info").map((l) => l.text)).toEqual([expect.stringContaining("found no disks")]);
  });

  test("the virtio disk named in [smart] devices: skipped as unsupported at debug level, no event", async () => {
    const { log, lines } = capturingLog();
    const result = await new SmartMonitor({ devices: ["/dev/vda"], pollIntervalMs: 1, db, runner: processRunner, log }).pollOnce(never);
    expect(result.candidates).toEqual([]);
    expect(result.polled).toEqual([]);
    expect(result.skipped).toEqual([{ device: "/dev/vda", why: "/dev/vda: Unable to detect device type" }]);
    expect(lines.filter((l) => l.type === "warn")).toEqual([]);
    expect(lines.filter((l) => l.type === "debug").map((l) => l.text)).toEqual([expect.stringContaining("/dev/vda has no SMART to read")]);
  });
});
