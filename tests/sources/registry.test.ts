import { expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isJournaldRunning, selectSource } from "../../src/sources/registry.ts";

const ok = (reason: string) => ({ usable: true, reason });
const no = (reason: string) => ({ usable: false, reason });

test.each([
  ["auto", ok("journald ok"), ok("kmsg ok"), "journal", "journald ok"],
  [
    "auto",
    no("journald is not running"),
    ok("/dev/kmsg is readable"),
    "kmsg",
    "journal unusable (journald is not running); reading the kernel log directly",
  ],
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

// Runners that run journalctl (and id) as another user, on this machine's journal or on a
// machine whose journald has written nothing yet: a private mount namespace with empty tmpfs
// over both journal directories, as on a fresh boot before the first flush (journalctl then
// prints nothing and exits 0, for every user).
function runnerAs(user: "nobody" | "root", journal: "this machine's" | "none written yet") {
  const setpriv = user === "nobody" ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
  const fresh = [
    "unshare",
    "-m",
    "sh",
    "-c",
    'mount -t tmpfs tmpfs /run/log/journal && mount -t tmpfs tmpfs /var/log/journal && exec "$@"',
    "sh",
  ];
  return {
    async run(argv: string[]) {
      const p = Bun.spawnSync([...(journal === "none written yet" ? fresh : []), ...setpriv, ...argv], { stdout: "pipe", stderr: "pipe" });
      return { exitCode: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString(), timedOut: false };
    },
  };
}

const canMount = process.getuid?.() === 0 && existsSync("/run/log/journal") && existsSync("/var/log/journal");

test.skipIf(!canMount).each(["this machine's", "none written yet"] as const)(
  "probeJournal as a user outside systemd-journal names the group to join (journal: %s)",
  async (journal) => {
    const { probeJournal } = await import("../../src/sources/registry.ts");
    const procRoot = fakeProcWithJournald();
    try {
      const probe = await probeJournal({ runner: runnerAs("nobody", journal), procRoot });
      expect(probe.usable).toBe(false);
      expect(probe.reason).toContain("systemd-journal group");
    } finally {
      rmSync(procRoot, { recursive: true, force: true });
    }
  },
);

test.skipIf(!canMount)("probeJournal as root on a machine whose journal is still empty: usable", async () => {
  const { probeJournal } = await import("../../src/sources/registry.ts");
  const procRoot = fakeProcWithJournald();
  try {
    expect(await probeJournal({ runner: runnerAs("root", "none written yet"), procRoot })).toEqual({
      usable: true,
      reason: "journald is running and the system journal is readable",
    });
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
