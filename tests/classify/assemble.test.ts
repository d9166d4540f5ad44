import { describe, expect, test } from "bun:test";
import type { Entry } from "../../src/event.ts";
import { KernelReportAssembler, type Assembled } from "../../src/classify/assemble.ts";
import { parseDmesgLine } from "../../src/parse/dmesg.ts";
import { fixtureEntries } from "../_fixtures.ts";

function run(entries: Entry[]): Assembled[] {
  const a = new KernelReportAssembler({ pageSizeKb: 4 });
  return [...entries.flatMap((e) => a.push(e)), ...a.flush()];
}

function kernel(line: string): Entry {
  return parseDmesgLine(line, { year: 2026 }) as Entry;
}

const reports = (out: Assembled[]) => out.filter((o): o is Extract<Assembled, { kind: "oom-report" }> => o.kind === "oom-report");

describe("KernelReportAssembler", () => {
  test("a real OOM report becomes one group holding every report line", async () => {
    const entries = await fixtureEntries("real/oom-memcg-v1-kernel6.dmesg.txt");
    const out = run(entries);
    expect(out).toHaveLength(1);
    const [r] = reports(out);
    expect(r?.entries).toHaveLength(entries.length);
    expect(r?.report.victim?.pid).toBe(3546);
  });

  test("two kills in a row: two reports, in order", async () => {
    const out = reports(run(await fixtureEntries("real/oom-memcg-two-kills.jsonl")));
    expect(out.map((r) => r.report.victim?.pid)).toEqual([3739, 3741]);
    expect(out.every((r) => r.report.complete)).toBe(true);
  });

  test("an unrelated kernel line inside a report stands on its own; the report still parses", async () => {
    // The real capture with a real-shaped EXT4 error spliced into the Mem section.
    const entries = await fixtureEntries("real/oom-memcg-v1-kernel6.dmesg.txt");
    const at = entries.findIndex((e) => e.message.startsWith("Memory cgroup stats"));
    const intruder = kernel(
      "[ 4095.367002] EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0",
    );
    const out = run([...entries.slice(0, at), intruder, ...entries.slice(at)]);
    expect(out.map((o) => o.kind)).toEqual(["entry", "oom-report"]);
    expect(out[0]?.kind === "entry" && out[0].entry.message).toStartWith("EXT4-fs error");
    expect(reports(out)[0]?.report.victim?.pid).toBe(3546);
  });

  test("non-kernel entries pass straight through, even mid-report", async () => {
    const entries = await fixtureEntries("real/oom-memcg-v1-kernel6.jsonl");
    const out = run(entries);
    expect(reports(out)).toHaveLength(1);
    const passed = out.filter((o) => o.kind === "entry").length;
    expect(passed).toBe(entries.filter((e) => e.transport !== "kernel").length);
  });

  test("a report cut off midway is closed by the next opener, marked incomplete", async () => {
    const entries = await fixtureEntries("real/oom-memcg-v1-kernel6.dmesg.txt");
    const half = entries.slice(0, 30);
    const out = reports(run([...half, ...entries]));
    expect(out).toHaveLength(2);
    expect(out[0]?.report.complete).toBe(false);
    expect(out[0]?.report.victim).toBeNull();
    expect(out[0]?.report.trigger?.name).toBe("python3");
    expect(out[1]?.report.complete).toBe(true);
  });

  test("a report cut off at the end of input is flushed, not lost", async () => {
    const entries = await fixtureEntries("real/oom-memcg-v1-kernel6.dmesg.txt");
    const out = reports(run(entries.slice(0, 40)));
    expect(out).toHaveLength(1);
    expect(out[0]?.report.complete).toBe(false);
  });

  test("a stale report (no line for 30 s by the entries' clock) is closed", async () => {
    const entries = await fixtureEntries("real/oom-memcg-v1-kernel6.dmesg.txt");
    const late = kernel("[ 4200.000000] e1000e: eth0 NIC Link is Up 1000 Mbps Full Duplex");
    const out = run([...entries.slice(0, 20), late]);
    expect(out.map((o) => o.kind)).toEqual(["oom-report", "entry"]);
  });

  test("heldSince names the first entry of the open report (the commit point)", async () => {
    const entries = await fixtureEntries("real/oom-memcg-v1-kernel6.jsonl");
    const a = new KernelReportAssembler({ pageSizeKb: 4 });
    const opener = entries.find((e) => e.message.includes("invoked oom-killer"));
    for (const e of entries) {
      a.push(e);
      if (e === opener) break;
    }
    expect(a.heldSince()).toBe(opener ?? null);
    expect(a.isOpen).toBe(true);
  });

  test("segfault + Code line: one crash group with the code bytes", async () => {
    const out = run(await fixtureEntries("real/segfault-python.dmesg.txt"));
    expect(out).toHaveLength(1);
    expect(out[0]?.kind).toBe("crash");
    if (out[0]?.kind === "crash") {
      expect(out[0].entries).toHaveLength(2);
      expect(out[0].crash.code).toContain("<62>");
    }
  });

  test("a WARNING block with its trace is one group whose headline is the WARNING line", () => {
    const lines = [
      "[  10.000000] ------------[ cut here ]------------",
      "[  10.000001] WARNING: CPU: 3 PID: 1 at drivers/gpu/drm/drm_vblank.c:1123 drm_wait_one_vblank+0x1a6/0x1b0 [drm]",
      "[  10.000002] Modules linked in: i915 drm",
      "[  10.000003] CPU: 3 PID: 1 Comm: systemd Not tainted 6.1.0 #1",
      "[  10.000004] RIP: 0010:drm_wait_one_vblank+0x1a6/0x1b0 [drm]",
      "[  10.000005] Call Trace:",
      "[  10.000006]  <TASK>",
      "[  10.000007]  drm_crtc_wait_one_vblank+0x17/0x20 [drm]",
      "[  10.000008]  </TASK>",
      "[  10.000009] ---[ end trace 0000000000000000 ]---",
      "[  10.000010] usb 1-1: new high-speed USB device number 2 using xhci_hcd",
    ].map(kernel);
    const out = run(lines);
    expect(out.map((o) => o.kind)).toEqual(["kernel-trace", "entry"]);
    if (out[0]?.kind === "kernel-trace") {
      expect(out[0].headline.message).toStartWith("WARNING: CPU: 3");
      expect(out[0].entries).toHaveLength(10);
    }
  });
});
