import { describe, expect, test } from "bun:test";
import { parseDmesgLine } from "../../src/parse/dmesg.ts";
import { parseKmsgRecord } from "../../src/parse/kmsg.ts";

describe("parseKmsgRecord", () => {
  test("a real record: priority, sequence cursor, monotonic time", () => {
    const e = parseKmsgRecord(
      "4,344,4095361485,-;python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0",
      "fbab4f0c",
    );
    expect(e?.priority).toBe(4);
    expect(e?.cursor).toBe("kmsg:fbab4f0c:344");
    expect(e?.monotonicUs).toBe(4095361485);
    expect(e?.transport).toBe("kernel");
    expect(e?.identifier).toBe("kernel");
    expect(e?.message).toStartWith("python3 invoked oom-killer");
  });

  test("continuation lines become fields; \\xNN escapes are decoded", () => {
    const e = parseKmsgRecord("3,812,9000,-;tab\\x09here\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:1f.2", null, 1_000_000);
    expect(e?.message).toBe("tab\there");
    expect(e?.fields["SUBSYSTEM"]).toBe("pci");
    expect(e?.fields["DEVICE"]).toBe("+pci:0000:00:1f.2");
    expect(e?.realtimeUs).toBe(1_009_000);
  });

  test("records written by userspace keep their identifier (facility != 0)", () => {
    const e = parseKmsgRecord("30,5,1000,-;systemd[1]: Started Journal Service.", null);
    expect(e?.identifier).toBe("systemd");
    expect(e?.pid).toBe(1);
    expect(e?.message).toBe("Started Journal Service.");
    expect(e?.priority).toBe(6);
  });

  test.each(["", "hello", "6,x,1,-;msg"])("not a record: %p", (r) => {
    expect(parseKmsgRecord(r, null)).toBeNull();
  });
});

describe("parseDmesgLine", () => {
  const ctx = { year: 2026 };
  test.each([
    ["[ 4095.361485] python3 invoked oom-killer: x", "python3 invoked oom-killer: x", 4095361485, null],
    ["<4>[ 4095.361485] python3 invoked oom-killer: x", "python3 invoked oom-killer: x", 4095361485, 4],
    ["kern  :err   : [ 4095.361485] python3 invoked oom-killer: x", "python3 invoked oom-killer: x", 4095361485, 3],
    ["python3 invoked oom-killer: x", "python3 invoked oom-killer: x", null, null],
  ])("%p", (line, message, mono, prio) => {
    const e = parseDmesgLine(line, ctx);
    expect(e?.message).toBe(message);
    expect(e?.monotonicUs).toBe(mono);
    expect(e?.priority).toBe(prio);
    expect(e?.transport).toBe("kernel");
  });

  test("rsyslog kern.log line: wall-clock time, then the kernel's own stamp", () => {
    const e = parseDmesgLine("2026-11-22T18:00:00.500000+00:00 nas kernel: [  12.000001] EXT4-fs error (device sda1): x", ctx);
    expect(e?.realtimeUs).toBe(Date.parse("2026-11-22T18:00:00.500Z") * 1000);
    expect(e?.identifier).toBe("kernel");
    expect(e?.message).toBe("EXT4-fs error (device sda1): x");
  });

  test("a userspace syslog line keeps its identifier and is not kernel transport", () => {
    const e = parseDmesgLine("Nov 22 18:00:00 nas smbd[812]: PANIC (pid 812): internal error", ctx);
    expect(e?.identifier).toBe("smbd");
    expect(e?.pid).toBe(812);
    expect(e?.transport).toBe("syslog");
  });

  test("blank lines are not entries", () => {
    expect(parseDmesgLine("   ", ctx)).toBeNull();
  });
});
