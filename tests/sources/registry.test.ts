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

test.skipIf(process.getuid?.() !== 0)("probeJournal as a user outside systemd-journal names the group to join", async () => {
  const { probeJournal } = await import("../../src/sources/registry.ts");
  // A Runner that runs journalctl as nobody (root reads everything).
  const asNobody = {
    async run(argv: string[]) {
      const p = Bun.spawnSync(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...argv], { stdout: "pipe", stderr: "pipe" });
      return { exitCode: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString(), timedOut: false };
    },
  };
  const procRoot = fakeProcWithJournald();
  try {
    const probe = await probeJournal({ runner: asNobody, procRoot });
    expect(probe.usable).toBe(false);
    expect(probe.reason).toContain("systemd-journal group");
  } finally {
    rmSync(procRoot, { recursive: true, force: true });
  }
});

function fakeProcWithJournald(): string {
  const root = mkdtempSync(join(tmpdir(), "logtriage-proc-"));
  mkdirSync(join(root, "77"));
  writeFileSync(join(root, "77", "comm"), "systemd-journal\n");
  writeFileSync(join(root, "77", "stat"), "77 (systemd-journal) S 1 77 77 0 -1\n");
  return root;
}
