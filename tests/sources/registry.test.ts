import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isJournaldRunning, selectSource } from "../../src/sources/registry.ts";

const ok = (reason: string) => ({ usable: true, reason });
const no = (reason: string) => ({ usable: false, reason });

test.each([
  ["auto", ok("journald ok"), ok("kmsg ok"), "journal", "journald ok"],
  ["auto", no("journald is not running"), ok("/dev/kmsg is readable"), "kmsg", "journal unusable (journald is not running); reading the kernel log directly"],
  ["auto", no("journald is not running"), no("EPERM"), null, "no usable source: journal: journald is not running; /dev/kmsg: EPERM"],
  ["journal", ok("journald ok"), ok("kmsg ok"), "journal", "forced by [sources] use; journald ok"],
  ["journal", no("journald is not running"), ok("kmsg ok"), null, '[sources] use = "journal" but journald is not running'],
  ["kmsg", ok("journald ok"), ok("/dev/kmsg is readable"), "kmsg", "forced by [sources] use; /dev/kmsg is readable"],
  ["kmsg", ok("journald ok"), no("EPERM"), null, '[sources] use = "kmsg" but EPERM'],
] as const)("use = %s", (use, journal, kmsg, name, reason) => {
  expect(selectSource(use, journal, kmsg)).toEqual({ name, reason });
});

test("isJournaldRunning looks for a live systemd-journal process, not a zombie", () => {
  const root = mkdtempSync(join(tmpdir(), "logtriage-proc-"));
  try {
    const proc = (pid: number, comm: string, state: string) => {
      mkdirSync(join(root, String(pid)));
      writeFileSync(join(root, String(pid), "comm"), `${comm}\n`);
      writeFileSync(join(root, String(pid), "stat"), `${pid} (${comm}) ${state} 1 ${pid} ${pid} 0 -1\n`);
    };
    proc(1, "init", "S");
    expect(isJournaldRunning(root)).toBe(false);
    proc(200, "systemd-journal", "Z");
    expect(isJournaldRunning(root)).toBe(false);
    proc(300, "systemd-journal", "S");
    expect(isJournaldRunning(root)).toBe(true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
