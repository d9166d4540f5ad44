import { expect, test } from "bun:test";
import { closeSync, constants, openSync, readSync } from "node:fs";
import { parseKmsgRecord } from "../../src/parse/kmsg.ts";
import { readBootClock } from "../../src/sources/boot-clock.ts";
import { readLogStream } from "../../src/sources/file.ts";
import { streamOf } from "../_fixtures.ts";

// dmesg text replayed on the boot that wrote it gets wall time; text from another boot keeps
// its seconds since boot. Read against this machine's real kernel ring buffer.

/**
 * The newest record the running kernel holds, as `dmesg` prints it (the newest, so that other
 * tests filling the ring cannot push it out before the clock reads it).
 */
function newestRecordAsDmesg(): { line: string; monotonicUs: number } | null {
  let fd: number;
  try {
    fd = openSync("/dev/kmsg", constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const buf = Buffer.alloc(16384);
    let last: string | null = null;
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EPIPE") continue;
        break;
      }
      if (n <= 0) break;
      last = buf.toString("utf8", 0, n).replace(/\n$/, "");
    }
    const e = last === null ? null : parseKmsgRecord(last, null);
    if (!e || e.monotonicUs === null) return null;
    const s = Math.floor(e.monotonicUs / 1_000_000);
    const us = String(e.monotonicUs % 1_000_000).padStart(6, "0");
    return { line: `[${String(s).padStart(5)}.${us}] ${e.message}`, monotonicUs: e.monotonicUs };
  } finally {
    closeSync(fd);
  }
}

const record = newestRecordAsDmesg();

test.skipIf(record === null)("a line the running kernel still holds gets wall time; the same text at another stamp does not", async () => {
  const nowUs = Date.now() * 1000;
  const clock = readBootClock(nowUs);
  expect(clock).not.toBeNull();
  const r = record as { line: string; monotonicUs: number };
  const other = r.line.replace(/^\[\s*\d+\.\d+\]/, "[999999.000001]");
  const entries = [];
  for await (const e of readLogStream(streamOf(`${r.line}\n${other}\n`), { nowUs, bootClock: () => clock }, undefined)) entries.push(e);
  expect(entries.length).toBe(2);
  expect(entries[0]?.realtimeUs).toBe((clock?.bootRealtimeUs ?? 0) + r.monotonicUs);
  // the boot began before now, by the uptime
  expect(clock?.bootRealtimeUs ?? nowUs).toBeLessThan(nowUs);
  expect(entries[1]).toMatchObject({ realtimeUs: null, monotonicUs: 999_999_000_001 });
});

test("no ring buffer to read (a path that is not there): no clock, lines keep their relative stamps", () => {
  expect(readBootClock(Date.now() * 1000, "/nonexistent/kmsg")).toBeNull();
});
