import { expect, test } from "bun:test";
import { readFileSync, realpathSync } from "node:fs";
import { mappingsOf, trimStartupMemory } from "../../src/daemon/trim.ts";

// The start-up trim against this very process (bun's own executable is mapped like the
// compiled daemon's): its file-backed resident pages must go down.

function rssFileKb(): number {
  return Number(/^RssFile:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? NaN);
}

test("mappingsOf picks the executable's ranges from /proc/self/maps text", () => {
  const maps = [
    "00400000-00500000 r--p 00000000 fd:01 42                                 /usr/local/bin/logtriage",
    "00500000-05000000 r-xp 00100000 fd:01 42                                 /usr/local/bin/logtriage",
    "05000000-05001000 rw-p 00000000 00:00 0                                  [heap]",
    "7f0000000000-7f0000001000 r--p 00000000 fd:01 7                          /usr/lib/x86_64-linux-gnu/libc.so.6",
    "7f0000002000-7f0000003000 r--p 00000000 fd:01 8                          /usr/local/bin/logtriage (deleted)",
  ].join("\n");
  expect(mappingsOf(maps, "/usr/local/bin/logtriage")).toEqual([
    [0x400000n, 0x500000n],
    [0x500000n, 0x5000000n],
  ]);
});

test("trimStartupMemory drops the executable's resident file pages", () => {
  const exe = realpathSync(process.execPath);
  expect(mappingsOf(readFileSync("/proc/self/maps", "utf8"), exe).length).toBeGreaterThan(0);
  const before = rssFileKb();
  const result = trimStartupMemory();
  expect(result.error).toBeNull();
  expect(result.ranges).toBeGreaterThan(0);
  const after = rssFileKb();
  expect(after).toBeLessThan(before - 1024);
});
