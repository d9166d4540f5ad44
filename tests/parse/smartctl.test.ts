import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { SmartSummary } from "../../src/event.ts";
import {
  describeExitStatus,
  describeNvmeCriticalWarning,
  describeSmartSummary,
  parseSmartctlReport,
  parseSmartctlScan,
  smartChanges,
} from "../../src/parse/smartctl.ts";
import { FIXTURES } from "../_fixtures.ts";

const smartctlFixture = (name: string) => readFileSync(join(FIXTURES, "smartctl", name), "utf8");

function summaryOf(name: string, device = "/dev/x"): SmartSummary {
  const report = parseSmartctlReport(smartctlFixture(name), device);
  if (report?.kind !== "summary") throw new Error(`${name}: expected a summary, got ${report?.kind}`);
  return report.summary;
}

describe("parseSmartctlScan", () => {
  test("--scan-open of an NVMe machine (smartctl 7.4, Debian 13)", () => {
    expect(parseSmartctlScan(smartctlFixture("public-scan-open-nvme.json"))).toEqual([
      { name: "/dev/nvme0", type: "nvme", openError: null },
    ]);
  });

  test("seven SCSI disks keep their order and -d type", () => {
    const devices = parseSmartctlScan(smartctlFixture("public-scan-seven-scsi.json"));
    expect(devices?.map((d) => d.name)).toEqual(["/dev/sda", "/dev/sdb", "/dev/sdc", "/dev/sdd", "/dev/sde", "/dev/sdf", "/dev/sdg"]);
    expect(devices?.[0]?.type).toBe("scsi");
  });

  test("this VM: the virtio disk is not listed, no devices key at all", () => {
    expect(parseSmartctlScan(smartctlFixture("real-scan-open-virtio-vm-empty.json"))).toEqual([]);
  });

  test.each([["not json"], ["{}"], ['{"devices": "x", "smartctl": {}}'], [""]])("not smartctl's JSON: %p → null", (text) => {
    expect(parseSmartctlScan(text)).toBeNull();
  });
});

describe("parseSmartctlReport", () => {
  test("healthy SATA HDD (WD Caviar Green via SAT, smartctl 7.4)", () => {
    const s = summaryOf("public-ata-wd-green-healthy.json", "/dev/sdb");
    expect(s).toEqual({
      device: "/dev/sdb",
      model: "WDC WD10EADS-00M2B0",
      serial: "WD-WCAV5M851348",
      protocol: "ATA",
      healthPassed: true,
      reallocated: 0,
      pending: 0,
      offlineUncorrectable: 0,
      nvmeCriticalWarning: null,
      mediaErrors: null,
      temperatureC: 31,
      powerOnHours: 48115,
      exitStatus: 4,
    });
  });

  test("FAILED ATA disk with reallocated and pending sectors behind a USB bridge", () => {
    const s = summaryOf("public-ata-hitachi-failed-reallocated-pending.json", "/dev/sdc");
    expect(s.device).toBe("/dev/sdc");
    expect(s.healthPassed).toBe(false);
    expect(s.reallocated).toBe(1975);
    expect(s.pending).toBe(8);
    expect(s.offlineUncorrectable).toBe(0);
    // The Temperature_Celsius raw value packs min/max; smartctl's own temperature.current is used.
    expect(s.temperatureC).toBe(25);
    expect(s.exitStatus).toBe(216);
  });

  test("healthy NVMe (Intel 660p)", () => {
    const s = summaryOf("public-nvme-intel660p-healthy.json");
    expect([s.protocol, s.healthPassed, s.nvmeCriticalWarning, s.mediaErrors, s.reallocated, s.pending]).toEqual([
      "NVMe",
      true,
      0,
      0,
      null,
      null,
    ]);
    expect(s.powerOnHours).toBe(2401);
  });

  test("NVMe with media errors (Samsung 970 EVO)", () => {
    const s = summaryOf("public-nvme-samsung970-media-errors.json", "/dev/nvme0");
    expect(s.device).toBe("/dev/nvme0");
    expect(s.mediaErrors).toBe(7);
    expect(s.healthPassed).toBe(true);
  });

  test("healthy SAS disk: grown defect list as reallocated, uncorrected errors as media errors", () => {
    const s = summaryOf("public-sas-hgst-healthy.json");
    expect([s.protocol, s.model, s.reallocated, s.mediaErrors, s.temperatureC, s.powerOnHours]).toEqual([
      "SCSI",
      "HGST HUS728T8TAL5204",
      0,
      0,
      34,
      48465,
    ]);
  });

  test("this VM's virtio disk, autodetected: unsupported, not an error", () => {
    const r = parseSmartctlReport(smartctlFixture("real-virtio-vda-unknown-type.json"), "/dev/vda", 1);
    expect(r).toEqual({ kind: "unsupported", device: "/dev/vda", message: "/dev/vda: Unable to detect device type" });
  });

  test("this VM's virtio disk with -d scsi as root: EPERM", () => {
    const r = parseSmartctlReport(smartctlFixture("real-virtio-vda-d-scsi-not-permitted.json"), "/dev/vda", 2);
    expect(r?.kind).toBe("denied");
    expect(r?.kind === "denied" && r.notPermitted).toBe(true);
  });

  test("not root: Permission denied", () => {
    const r = parseSmartctlReport(smartctlFixture("real-virtio-vda-permission-denied-nobody.json"), "/dev/vda", 2);
    expect(r).toEqual({
      kind: "denied",
      device: "/dev/vda",
      message: "Smartctl open device: /dev/vda failed: Permission denied",
      notPermitted: false,
    });
  });

  test("a disk in standby answers the -n standby status and is not read", () => {
    // The header smartctl writes before it exits on a sleeping disk, from the real capture with the exit status of -n standby,3.
    const text = smartctlFixture("real-virtio-vda-unknown-type.json").replace(
      '"messages":[{"string":"/dev/vda: Unable to detect device type","severity":"error"}],"exit_status":1',
      '"exit_status":3',
    );
    expect(parseSmartctlReport(text, "/dev/sda", 3)).toEqual({ kind: "standby", device: "/dev/sda" });
  });

  test("not JSON → null", () => {
    expect(parseSmartctlReport("smartctl 6.6 2016-05-31 r4324", "/dev/sda", 1)).toBeNull();
  });
});

describe("describeExitStatus", () => {
  test("216 = bits 3, 4, 6, 7 (the failing Hitachi)", () => {
    expect(describeExitStatus(216)).toEqual([
      "SMART status check returned DISK FAILING",
      "prefail attributes at or below threshold",
      "the device error log contains errors",
      "the self-test log contains errors",
    ]);
  });
  test("0 → nothing; 2 → open failed", () => {
    expect(describeExitStatus(0)).toEqual([]);
    expect(describeExitStatus(2)).toEqual(["device open failed, gave no IDENTIFY data, or is in a low-power mode"]);
  });
});

describe("smartChanges", () => {
  const healthy = summaryOf("public-ata-wd-green-healthy.json");
  const pending = summaryOf("derived-ata-wd-green-pending-8.json");

  test("healthy first sighting: nothing to report", () => {
    expect(smartChanges(null, healthy)).toEqual([]);
  });

  test("pending sectors going up between two polls", () => {
    expect(smartChanges(healthy, pending)).toEqual(["pending sectors 0 → 8"]);
  });

  test("unchanged bad disk: nothing new", () => {
    expect(smartChanges(pending, pending)).toEqual([]);
  });

  test("pending going back down (sectors rewritten) is not an alert", () => {
    expect(smartChanges(pending, healthy)).toEqual([]);
  });

  test("first sighting of an already failing disk says everything that is wrong", () => {
    expect(smartChanges(null, summaryOf("public-ata-hitachi-failed-reallocated-pending.json"))).toEqual([
      "SMART overall health FAILED",
      "reallocated sectors 1975",
      "pending sectors 8",
    ]);
  });

  test("health turning FAILED names what it was", () => {
    const failed = { ...healthy, healthPassed: false };
    expect(smartChanges(healthy, failed)).toEqual(["SMART overall health FAILED (was PASSED)"]);
  });

  test("NVMe media errors 0 → 7 and a new critical warning bit", () => {
    const before = summaryOf("public-nvme-intel660p-healthy.json");
    const after = { ...summaryOf("public-nvme-samsung970-media-errors.json"), nvmeCriticalWarning: 0x04 };
    expect(smartChanges({ ...before, device: after.device }, after)).toEqual([
      "media errors 0 → 7",
      "NVMe critical warning: reliability degraded by media or internal errors",
    ]);
  });
});

test("describeNvmeCriticalWarning and describeSmartSummary", () => {
  expect(describeNvmeCriticalWarning(0x09)).toEqual(["available spare below threshold", "media placed in read-only mode"]);
  expect(describeSmartSummary(summaryOf("public-ata-wd-green-healthy.json"))).toBe(
    "PASSED, reallocated 0, pending 0, offline uncorrectable 0, 31 °C, 48115 h on",
  );
});
