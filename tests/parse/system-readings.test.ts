import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { fixturePath } from "../_fixtures.ts";
import { cpuPercentBetween, parseCpuTimes } from "../../src/parse/proc-stat.ts";
import { parseLoadavg } from "../../src/parse/loadavg.ts";
import { parseMeminfo } from "../../src/parse/meminfo.ts";
import { diskUsedPercent, parseRealMounts } from "../../src/parse/mounts.ts";

const real = (name: string) => readFileSync(fixturePath(`real/proc/${name}`), "utf8");

describe("/proc/stat", () => {
  test("the aggregate line of a real capture: all ticks, idle + iowait", () => {
    const t = parseCpuTimes(real("stat-before.txt"));
    // cpu  117375 0 78183 4064489 5703 0 683 1835 0 0
    expect(t).toEqual({ totalTicks: 117375 + 78183 + 4064489 + 5703 + 683 + 1835, idleTicks: 4064489 + 5703 });
  });

  test("one of two CPUs busy for a second between two real readings is 50%", () => {
    const before = parseCpuTimes(real("stat-before.txt"));
    const after = parseCpuTimes(real("stat-after-1s-busy.txt"));
    if (!before || !after) throw new Error("fixture did not parse");
    // user +100, system +1, idle +100 ticks: 101 busy of 201.
    expect(cpuPercentBetween(before, after)).toBeCloseTo((101 / 201) * 100, 6);
  });

  test("no time between readings, or counters going back, has no answer", () => {
    const t = parseCpuTimes(real("stat-before.txt"));
    if (!t) throw new Error("fixture did not parse");
    expect(cpuPercentBetween(t, t)).toBeNull();
    expect(cpuPercentBetween(t, { totalTicks: t.totalTicks - 5, idleTicks: t.idleTicks })).toBeNull();
  });

  test.each(["", "intr 1 2 3", "cpu  a b c d"])("%p is not a /proc/stat", (text) => {
    expect(parseCpuTimes(text)).toBeNull();
  });
});

describe("/proc/loadavg", () => {
  test("a real capture", () => {
    expect(parseLoadavg(real("loadavg-idle.txt"))).toEqual({ load1: 0, load5: 0.01, load15: 0 });
  });
  test("node_exporter's test line", () => {
    expect(parseLoadavg("0.21 0.37 0.39 1/719 19737")).toEqual({ load1: 0.21, load5: 0.37, load15: 0.39 });
  });
  test.each(["", "0.1 0.2", "x y z 1/2 3"])("%p is not a loadavg", (text) => {
    expect(parseLoadavg(text)).toBeNull();
  });
});

describe("/proc/self/mounts", () => {
  test("a real VM's mounts: only the ext4 root is a disk (proc, sysfs, tmpfs, cgroup and devpts are not)", () => {
    expect(parseRealMounts(real("mounts-vm-cgroup-v1.txt"))).toEqual([{ device: "/dev/vda", mountPoint: "/", fsType: "ext4" }]);
  });

  test("a device mounted twice is listed once, at its first mount point; escaped spaces are unescaped; zfs without a block device counts", () => {
    const text = [
      "/dev/sda1 / ext4 rw 0 0",
      "/dev/sda2 /srv/my\\040data xfs rw 0 0",
      "/dev/sda1 /var/lib/docker/x ext4 rw 0 0",
      "tank/home /home zfs rw 0 0",
      "overlay /var/lib/docker/overlay2/m overlay rw 0 0",
    ].join("\n");
    expect(parseRealMounts(text).map((m) => m.mountPoint)).toEqual(["/", "/srv/my data", "/home"]);
  });

  test("disk use as df computes it: reserved blocks are not available to users", () => {
    // statfs("/") on the VM: blocks 66053021, bfree 58530238, bavail 19074945 (resuid reserve).
    const used = 66053021 - 58530238;
    expect(diskUsedPercent({ blocks: 66053021, bfree: 58530238, bavail: 19074945 })).toBeCloseTo((used / (used + 19074945)) * 100, 6);
    expect(diskUsedPercent({ blocks: 0, bfree: 0, bavail: 0 })).toBeNull();
  });
});

describe("/proc/meminfo", () => {
  test("a real capture: total, available, swap", () => {
    expect(parseMeminfo(real("meminfo-vm.txt"))).toEqual({ memTotalKb: 24684096, memAvailableKb: 24214500, swapTotalKb: 0, swapFreeKb: 0 });
  });
  test("without MemAvailable (kernels before 3.14) there is no answer", () => {
    expect(parseMeminfo("MemTotal: 100 kB\nMemFree: 50 kB\n")).toBeNull();
  });
});
