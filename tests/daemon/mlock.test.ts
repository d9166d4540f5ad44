import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { memoryLibc } from "../../src/daemon/libc.ts";
import { fileMappings, lockMemory, readSwaps, swapActive } from "../../src/daemon/mlock.ts";

test("/proc/swaps: a header alone is no swap; any area after it is", () => {
  const header = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
  expect(swapActive(header)).toBe(false);
  expect(swapActive("")).toBe(false);
  expect(swapActive(`${header}/dev/zram0                              partition\t4194300\t\t0\t\t100\n`)).toBe(true);
});

test("fileMappings keeps the binary and libraries, not anonymous, device, memfd or deleted mappings", () => {
  const maps = [
    "00400000-00500000 r--p 00000000 fd:01 42                                 /usr/local/bin/logtriage",
    "00500000-05000000 r-xp 00100000 fd:01 42                                 /usr/local/bin/logtriage",
    "05000000-05001000 rw-p 00000000 00:00 0                                  [heap]",
    "7e0000000000-7e0100000000 rw-p 00000000 00:00 0 ",
    "7f0000000000-7f0000001000 r--p 00000000 fd:01 7                          /usr/lib/x86_64-linux-gnu/libc.so.6",
    "7f0000001000-7f0000002000 rw-s 00000000 00:01 9                          /memfd:jsc (deleted)",
    "7f0000002000-7f0000003000 r--p 00000000 fd:01 8                          /usr/local/bin/old (deleted)",
    "7f0000003000-7f0000004000 rw-s 00000000 00:05 3                          /dev/zero",
    "7ffc00000000-7ffc00001000 r-xp 00000000 00:00 0                          [vdso]",
  ].join("\n");
  expect(fileMappings(maps)).toEqual([
    [0x400000n, 0x500000n],
    [0x500000n, 0x5000000n],
    [0x7f0000000000n, 0x7f0000001000n],
  ]);
});

function statusKb(field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? NaN);
}

// Real mlock2 on this process: only as root (CAP_IPC_LOCK) and without swap, the case where
// only file-backed mappings are locked.
const canLockFiles = process.getuid?.() === 0 && !swapActive(readSwaps());

test.if(canLockFiles)("without swap the file mappings are locked and the heap is not: freed memory can go back", () => {
  const result = lockMemory();
  try {
    expect(result).toEqual({ locked: true, what: "files" });
    const lockedKb = statusKb("VmLck");
    expect(lockedKb).toBeGreaterThan(0);
    // 32 MB of anonymous memory touched after the lock: resident, and none of it locked.
    const buffer = new Uint8Array(32 * 1024 * 1024);
    for (let i = 0; i < buffer.length; i += 4096) buffer[i] = 1;
    expect(statusKb("VmLck") - lockedKb).toBeLessThan(1024);
    expect(buffer[4096]).toBe(1);
  } finally {
    memoryLibc().munlockall();
  }
});
