import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import { parseConfig } from "../../src/config/load.ts";
import { createDiskEnricher, diskBehindAtaPort, smartDevicesFor } from "../../src/enrich/disk.ts";
import { describeAge } from "../../src/text/format.ts";
import { createEnrichers } from "../../src/enrich/registry.ts";
import { EnrichmentStage } from "../../src/enrich/stage.ts";
import type { Candidate } from "../../src/event.ts";
import { parseSmartctlReport } from "../../src/parse/smartctl.ts";
import { processRunner, type Runner } from "../../src/run.ts";
import { smartStateKey } from "../../src/monitors/smart.ts";
import { openStore } from "../../src/store/db.ts";
import { commitEvent, getEvent } from "../../src/store/events.ts";
import { saveMonitorState } from "../../src/store/monitor-state.ts";
import { FIXTURES, triageText } from "../_fixtures.ts";
import { missingTool } from "../_builders.ts";

// The disk enricher through the real enrichment stage on a real SQLite database. The kernel
// lines are public captures (tests/fixtures/public/hardware-errors.txt: longhorn#4382,
// crucible#1844, bbf#29); the SMART summaries are parsed from tests/fixtures/smartctl/.

const policy = { instanceId: "box", cooldownMs: 300_000, aggregateThreshold: 3 };
const quiet = { warn() {}, debug() {} };
const MINUTE_US = 60_000_000;

let db: Database;
let dir: string;
beforeEach(() => {
  db = openStore(":memory:");
  dir = mkdtempSync(join(tmpdir(), "logtriage-disk-"));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const hardwareLines = readFileSync(join(FIXTURES, "public", "hardware-errors.txt"), "utf8").split("\n");
async function kernelEvent(lineStart: string, rule: string): Promise<Candidate> {
  const line = hardwareLines.find((l) => l.startsWith(lineStart));
  if (!line) throw new Error(`no line starting ${lineStart}`);
  const found = (await triageText(`${line}\n`)).candidates.find((c) => c.rule === rule);
  if (!found) throw new Error(`${rule} did not match ${line}`);
  return found;
}

function storeSummary(capture: string, device: string, polledUs: number): void {
  const report = parseSmartctlReport(readFileSync(join(FIXTURES, "smartctl", capture), "utf8"), device);
  if (report?.kind !== "summary") throw new Error("expected a summary");
  saveMonitorState(db, smartStateKey(device), { summary: report.summary, polledUs }, polledUs);
}

const noSmartctl = missingTool;

async function enrichThroughStage(event: Candidate, runner: Runner, sysRoot = "/sys") {
  const stage = new EnrichmentStage({
    db,
    enrichers: [createDiskEnricher({ sysRoot })],
    runner,
    memory: null,
    instanceId: "box",
    log: quiet,
    toNotification: null,
  });
  const { id } = commitEvent(db, event, policy);
  const wanted = stage.wants(event);
  stage.enqueue(id, event);
  await stage.idle();
  await stage.close();
  const found = getEvent(db, id);
  if (found.kind !== "found") throw new Error("event missing");
  return { wanted, event: found.event };
}

describe("a kernel I/O error on a disk carries its SMART summary", () => {
  test("block I/O error on sda of a failing disk, SMART stored 40 min before", async () => {
    const io = await kernelEvent("blk_update_request: I/O error, dev sda, sector 263176", "block-io-error");
    storeSummary("public-ata-hitachi-failed-reallocated-pending.json", "/dev/sda", Date.now() * 1000 - 40 * MINUTE_US);
    const { wanted, event } = await enrichThroughStage(io, noSmartctl);
    expect(wanted).toBe(true);
    expect(event.detail).toContain(
      "SMART 40 min ago: /dev/sda (Hitachi HDS721050DLE630, serial MSK423Y20S3HBC): FAILED, reallocated 1975, pending 8, offline uncorrectable 0, 25 °C, 65592 h on",
    );
    expect(event.enrichment?.sections[0]?.evidence).toMatchObject({ smartDevice: "/dev/sda" });
  });

  test("the age is the stage's now minus the poll", async () => {
    const io = await kernelEvent("blk_update_request: I/O error, dev sda, sector 263176", "block-io-error");
    storeSummary("public-ata-wd-green-healthy.json", "/dev/sda", Date.now() * 1000 - 12 * MINUTE_US);
    const { event } = await enrichThroughStage(io, noSmartctl);
    expect(event.detail).toContain(
      "SMART 12 min ago: /dev/sda (WDC WD10EADS-00M2B0, serial WD-WCAV5M851348): PASSED, reallocated 0, pending 0",
    );
    expect(event.enrichment?.sections[0]?.evidence).toMatchObject({ smartDevice: "/dev/sda", smartAgeSeconds: 720 });
  });

  test("NVMe namespace error finds the controller's summary (smartctl --scan names /dev/nvme0)", async () => {
    const io = await kernelEvent("I/O error, dev nvme0n1, sector 131209936", "block-io-error");
    storeSummary("public-nvme-samsung970-media-errors.json", "/dev/nvme0", Date.now() * 1000 - 3 * 60 * MINUTE_US);
    const { event } = await enrichThroughStage(io, noSmartctl);
    expect(event.detail).toContain(
      "SMART 3 h ago: /dev/nvme0 (Samsung SSD 970 EVO 500GB, serial S466NX0M776250H): PASSED, media errors 7, 35 °C, 12798 h on",
    );
  });

  test("nothing stored and no smartctl: the event goes through, saying what is missing", async () => {
    const io = await kernelEvent("blk_update_request: I/O error, dev sda, sector 263176", "block-io-error");
    const { event } = await enrichThroughStage(io, noSmartctl);
    expect(event.enrichment?.sections[0]?.missing).toEqual(["no SMART state of /dev/sda: smartctl cannot be run (install smartmontools)"]);
  });

  test("nothing stored, real smartctl on this VM's virtio disk: no SMART, said so", async () => {
    const io = await kernelEvent("blk_update_request: I/O error, dev sda, sector 263176", "block-io-error");
    const { event } = await enrichThroughStage({ ...io, facts: { kind: "kernel", device: "vda", lines: [] } }, processRunner);
    expect(event.enrichment?.sections[0]?.missing).toEqual(["no SMART state of /dev/vda: /dev/vda: Unable to detect device type"]);
  });

  test("ata port on this VM (no libata): cannot be mapped, said so", async () => {
    const ata = await kernelEvent("ata1.00: failed command: READ FPDMA QUEUED", "ata-error");
    expect(ata.facts.kind === "kernel" && ata.facts.device).toBe("ata1.00");
    const { event } = await enrichThroughStage(ata, noSmartctl);
    expect(event.enrichment?.sections[0]?.missing).toEqual(["no SMART state: no disk found behind ata1.00 in /sys/block"]);
  });

  test("ata port mapped to its disk through /sys/block links", async () => {
    // The link shape libata gives a SATA disk: …/ataN/hostM/targetM:0:0/M:0:0:0/block/sdX.
    mkdirSync(join(dir, "block"));
    symlinkSync("../devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda", join(dir, "block", "sda"));
    symlinkSync("../devices/pci0000:00/0000:00:17.0/ata2/host1/target1:0:0/1:0:0:0/block/sdb", join(dir, "block", "sdb"));
    symlinkSync("../devices/pci0000:00/0000:00:02.0/virtio1/block/vda", join(dir, "block", "vda"));
    expect(diskBehindAtaPort("ata2", dir)).toBe("sdb");
    expect(diskBehindAtaPort("ata11", dir)).toBeNull();
    const ata = await kernelEvent("ata1.00: failed command: READ FPDMA QUEUED", "ata-error");
    storeSummary("public-ata-wd-green-healthy.json", "/dev/sda", Date.now() * 1000 - 2 * MINUTE_US);
    const { event } = await enrichThroughStage(ata, noSmartctl, dir);
    expect(event.detail).toContain("SMART 2 min ago: /dev/sda (WDC WD10EADS-00M2B0");
  });
});

test("only disk devices: a RAID array or a thermal event is left alone", async () => {
  const enricher = createDiskEnricher();
  const io = await kernelEvent("blk_update_request: I/O error, dev sda, sector 263176", "block-io-error");
  expect(enricher.applies(io)).toBe(true);
  expect(enricher.applies({ ...io, facts: { kind: "kernel", device: "md0", lines: [] } })).toBe(false);
  expect(enricher.applies({ ...io, facts: { kind: "kernel", device: null, lines: [] } })).toBe(false);
});

test("kernel device → smartctl names", () => {
  expect(smartDevicesFor("sdb1")).toEqual(["/dev/sdb"]);
  expect(smartDevicesFor("nvme0n1p1")).toEqual(["/dev/nvme0", "/dev/nvme0n1"]);
  expect(smartDevicesFor("nvme1")).toEqual(["/dev/nvme1", "/dev/nvme1n1"]);
  expect(describeAge(59 * 1_000_000)).toBe("just now");
  expect(describeAge(3 * 24 * 60 * MINUTE_US)).toBe("3 d ago");
});

test("registered only with [smart] enabled", () => {
  const names = (toml: string) =>
    createEnrichers(parseConfig(toml, "config.toml", { env: { HOME: "/home/me" }, hostname: "nas" })).map((e) => e.name);
  expect(names("[smart]\nenabled = true\n")).toContain("disk");
  expect(names("[smart]\nenabled = false\n")).not.toContain("disk");
});
