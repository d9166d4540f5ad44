import { describe, expect, test } from "bun:test";
import { Triage } from "../../src/classify/triage.ts";
import { parseJournalLine } from "../../src/parse/journal-json.ts";
import { parseKmsgRecord } from "../../src/parse/kmsg.ts";
import type { Candidate } from "../../src/event.ts";
import { ALL_GROUPS } from "../_fixtures.ts";

// The backstop: an err-or-worse kernel message from a storage, filesystem, memory, PCI or GPU
// subsystem that no rule names is still an event. Real lines: the DRM_ERROR below is from
// github.com/pop-os/cosmic-comp/issues/2626, the i915 one from a `dmesg -x` excerpt at err.

const DRM_LINE = "[drm:amdgpu_cs_ioctl [amdgpu]] *ERROR* Failed to initialize parser -125!";

function kmsg(prio: number, message: string): Candidate[] {
  const triage = new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS });
  const e = parseKmsgRecord(`${prio},1,1000,-;${message}`, null);
  if (!e) throw new Error("bad record");
  return [...triage.push(e, 0), ...triage.flush(0)];
}

function journal(priority: string, message: string, transport = "kernel"): { wanted: boolean; events: Candidate[] } {
  const triage = new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS });
  const line = JSON.stringify({
    __CURSOR: "s=1",
    __REALTIME_TIMESTAMP: "1700000000000000",
    _TRANSPORT: transport,
    SYSLOG_IDENTIFIER: "kernel",
    PRIORITY: priority,
    MESSAGE: message,
  });
  const wanted = triage.wantsRawLine(line);
  const e = parseJournalLine(line);
  if (!e) throw new Error("bad line");
  return { wanted, events: [...triage.push(e, 0), ...triage.flush(0)] };
}

describe("kernel-error-unrecognized", () => {
  test("an err-level GPU driver error no rule names is a T4 warning naming the subsystem", () => {
    const [c, ...rest] = kmsg(3, DRM_LINE);
    expect(rest).toEqual([]);
    expect(c).toMatchObject({
      tier: "T4",
      rule: "kernel-error-unrecognized",
      severity: "warning",
      summary: `Unrecognized kernel error (GPU): ${DRM_LINE}`,
    });
  });

  test.each([
    ["storage", "sd 2:0:0:0: [sdb] Synchronize Cache(10) failed: Result: hostbyte=DID_ERROR driverbyte=DRIVER_OK", "scsi-error"],
    ["PCI", "pci 0000:e1:00.0: DOE: [2c8] failed to create mailbox: -5", null],
  ])("%s: a line a rule names, or knows, is not unrecognized", (_, line, rule) => {
    expect(kmsg(3, line).map((c) => c.rule)).toEqual(rule ? [rule] : []);
  });

  test("below err, or from no watched subsystem, nothing", () => {
    expect(kmsg(4, DRM_LINE)).toEqual([]);
    expect(kmsg(6, DRM_LINE)).toEqual([]);
    expect(kmsg(3, "ldm_validate_partition_table(): Disk read failed.")).toEqual([]);
  });

  test("as journal JSON, the raw prefilter keeps err-level kernel lines for it and drops the rest unparsed", () => {
    expect(journal("3", DRM_LINE)).toMatchObject({ wanted: true, events: [{ rule: "kernel-error-unrecognized" }] });
    expect(journal("6", DRM_LINE).events).toEqual([]);
    // A line only the backstop's literals ("pci") could want: parsed at err, skipped at info.
    // (A healthy boot's line, from github.com/gammaman88/proxmox-amd-5700u-gpu-passthrough dmesg.txt.)
    const pciLine = "pci 0000:00:01.1: enabling Extended Tags";
    expect(journal("6", pciLine)).toEqual({ wanted: false, events: [] });
    expect(journal("3", pciLine).wanted).toBe(true);
    // not a kernel line: a program's own "[drm" text is not the kernel's
    expect(journal("3", DRM_LINE, "syslog").events).toEqual([]);
  });
});
