import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLog } from "../../src/log.ts";
import { PreviousBootMonitor } from "../../src/monitors/previous-boot.ts";
import { judgeBootEnd, parsePstoreDmesg } from "../../src/parse/previous-boot.ts";
import { parseJournalLine } from "../../src/parse/journal-json.ts";
import { processRunner } from "../../src/run.ts";
import { openStore } from "../../src/store/db.ts";
import { commitEvent } from "../../src/store/events.ts";

// How the previous boot ended, from real journal files: the entries below are written in
// journal export format and turned into a journal file with two boots by systemd's own
// systemd-journal-remote (package systemd-journal-remote), then read back by the real
// journalctl with `-b -1`. pstore records are laid out as systemd-pstore archives them
// (src/pstore/pstore.c: dmesg-efi-<id> moved to <archive>/<id minus 5 digits>/<count>/, the
// chunks joined in dmesg.txt).

const JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote";
const MACHINE_ID = existsSync("/etc/machine-id") ? readFileSync("/etc/machine-id", "utf8").trim() : "0123456789abcdef0123456789abcdef";
const PREVIOUS = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1";
const CURRENT = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2";
const HOUR_US = 3_600_000_000;

interface Line {
  boot: string;
  atUs: number;
  identifier: string;
  message: string;
  transport?: string;
  priority?: number;
  messageId?: string;
}

function exportFormat(lines: readonly Line[]): string {
  const bootStart = new Map<string, number>();
  return lines
    .map((l) => {
      const start = bootStart.get(l.boot) ?? l.atUs;
      bootStart.set(l.boot, start);
      const fields = [
        `__REALTIME_TIMESTAMP=${l.atUs}`,
        `__MONOTONIC_TIMESTAMP=${l.atUs - start + 5_000_000}`,
        `_BOOT_ID=${l.boot}`,
        `_MACHINE_ID=${MACHINE_ID}`,
        `_TRANSPORT=${l.transport ?? "journal"}`,
        `PRIORITY=${l.priority ?? 6}`,
        `SYSLOG_IDENTIFIER=${l.identifier}`,
        ...(l.messageId ? [`MESSAGE_ID=${l.messageId}`] : []),
        `MESSAGE=${l.message}`,
      ];
      return `${fields.join("\n")}\n`;
    })
    .join("\n");
}

let dir: string;
let db: Database;
const quiet = createLog("error");

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "lt-prevboot-"));
  db = openStore(join(dir, "events.db"));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function writeJournal(lines: readonly Line[]): string {
  const journalDir = join(dir, "journal");
  mkdirSync(journalDir, { recursive: true });
  const exportFile = join(dir, "boots.export");
  writeFileSync(exportFile, exportFormat(lines));
  const r = Bun.spawnSync([JOURNAL_REMOTE, `--output=${join(journalDir, "boots.journal")}`, exportFile], {
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`systemd-journal-remote: ${r.stderr.toString()}`);
  return journalDir;
}

function twoBoots(previousEnd: Line[]): Line[] {
  const t0 = Date.now() * 1000 - 3 * HOUR_US;
  const previous: Line[] = [
    { boot: PREVIOUS, atUs: t0, identifier: "kernel", transport: "kernel", message: "Linux version 6.1.0-28-amd64" },
    { boot: PREVIOUS, atUs: t0 + 60_000_000, identifier: "backup.sh", message: "nightly backup started" },
    ...previousEnd.map((l, i) => ({ ...l, boot: PREVIOUS, atUs: t0 + HOUR_US + i * 1_000_000 })),
  ];
  const current: Line[] = [
    { boot: CURRENT, atUs: t0 + 2 * HOUR_US, identifier: "kernel", transport: "kernel", message: "Linux version 6.1.0-28-amd64" },
    { boot: CURRENT, atUs: t0 + 2 * HOUR_US + 1_000_000, identifier: "systemd", message: "Startup finished in 4.2s." },
  ];
  return [...previous, ...current];
}

function monitor(journalDir: string, pstoreDirs: string[] = []): PreviousBootMonitor {
  return new PreviousBootMonitor({
    db,
    runner: processRunner,
    log: quiet,
    instanceId: "box",
    bootId: () => CURRENT,
    journalctlArgs: [`--directory=${journalDir}`],
    pstoreDirs,
  });
}

describe("judgeBootEnd and parsePstoreDmesg (pure)", () => {
  test("a shutdown's own line makes it clean; a journal that stops does not", () => {
    const entry = (message: string, messageId: string | null = null) =>
      parseJournalLine(
        JSON.stringify({
          MESSAGE: message,
          SYSLOG_IDENTIFIER: "systemd",
          __REALTIME_TIMESTAMP: "1000",
          ...(messageId ? { MESSAGE_ID: messageId } : {}),
        }),
      );
    const clean = judgeBootEnd(
      [entry("Stopping user@1000.service…"), entry("System is rebooting.", "98268866d1d54a499c4e98921d93bc40")].filter((e) => e !== null),
    );
    expect(clean?.clean).toBe(true);
    expect(judgeBootEnd([entry("Reached target reboot.target - System Reboot.")].filter((e) => e !== null))?.clean).toBe(true);
    expect(judgeBootEnd([entry("nightly backup started")].filter((e) => e !== null))?.clean).toBe(false);
    expect(judgeBootEnd([])).toBeNull();
  });

  test.each([
    [
      "<0>[ 8123.401122] Kernel panic - not syncing: Fatal exception in interrupt",
      "panic",
      "Kernel panic - not syncing: Fatal exception in interrupt",
    ],
    [
      "<0>[  912.220314] Kernel panic - not syncing: Watchdog detected hard LOCKUP on cpu 3",
      "lockup",
      "Kernel panic - not syncing: Watchdog detected hard LOCKUP on cpu 3",
    ],
    [
      "<4>[  77.1] BUG: kernel NULL pointer dereference, address: 0000000000000008",
      "oops",
      "BUG: kernel NULL pointer dereference, address: 0000000000000008",
    ],
    ["<6>[ 1.0] just a console line", "other", null],
  ] as const)("%s", (text, kind, headline) => {
    const r = parsePstoreDmesg("/x", `Panic#1 Part1\n${text}\n`);
    expect(r.kind).toBe(kind);
    expect(r.headline).toBe(headline);
  });
});

describe.skipIf(!existsSync(JOURNAL_REMOTE))("previous boot from real journal files (systemd-journal-remote)", () => {
  test("a clean reboot gives nothing", async () => {
    const journalDir = writeJournal(
      twoBoots([
        { boot: "", atUs: 0, identifier: "systemd", message: "Reached target reboot.target - System Reboot." },
        { boot: "", atUs: 0, identifier: "systemd-shutdown", message: "Syncing filesystems and block devices." },
        { boot: "", atUs: 0, identifier: "systemd", message: "System is rebooting.", messageId: "98268866d1d54a499c4e98921d93bc40" },
      ]),
    );
    // The file really holds two boots, the older one at -1.
    const boots = Bun.spawnSync(["journalctl", `--directory=${journalDir}`, "--list-boots", "--no-pager"]).stdout.toString();
    expect(boots).toContain(PREVIOUS);
    expect(boots).toContain(CURRENT);
    expect(await monitor(journalDir).check(Date.now() * 1000)).toBeNull();
  });

  test("a journal that stops, a panic kept by systemd-pstore, an event before: one T4 event with the last signs; once per boot", async () => {
    const journalDir = writeJournal(
      twoBoots([
        {
          boot: "",
          atUs: 0,
          identifier: "kernel",
          transport: "kernel",
          priority: 4,
          message: "nvme nvme0: I/O 12 QID 3 timeout, aborting",
        },
        { boot: "", atUs: 0, identifier: "backup.sh", message: "copying /home" },
      ]),
    );
    const t0 = Date.now() * 1000 - 3 * HOUR_US;
    commitEvent(
      db,
      {
        tier: "T4",
        severity: "high",
        rule: "nvme-timeout",
        summary: "NVMe timeout on nvme0",
        process: null,
        pid: null,
        unit: null,
        timestampUs: t0 + HOUR_US,
        facts: { kind: "kernel", device: "nvme0", lines: [] },
        entries: [],
      },
      { instanceId: "box", cooldownMs: 600_000, aggregateThreshold: 3 },
    );
    // systemd-pstore's archive of an EFI record: id 179650000001001 → 1796500000/001/.
    const archive = join(dir, "pstore");
    const recordDir = join(archive, "1796500000", "001");
    mkdirSync(recordDir, { recursive: true });
    const dmesg =
      "Panic#1 Part1\n<4>[ 8120.1] nvme nvme0: I/O 12 QID 3 timeout, aborting\n<0>[ 8123.401122] Kernel panic - not syncing: Fatal exception in interrupt\n";
    writeFileSync(join(recordDir, "dmesg-efi-179650000001001"), dmesg);
    writeFileSync(join(recordDir, "dmesg.txt"), dmesg);
    mkdirSync(join(dir, "sys-pstore"));

    const m = monitor(journalDir, [join(dir, "sys-pstore"), archive]);
    const c = await m.check(Date.now() * 1000);
    expect(c?.tier).toBe("T4");
    expect(c?.rule).toBe("unclean-shutdown");
    expect(c?.summary).toMatch(
      /^Unclean shutdown at \d\d:\d\d:\d\d — last signs: Kernel panic - not syncing: Fatal exception in interrupt$/,
    );
    if (c?.facts.kind !== "previous-boot") throw new Error("no previous-boot facts");
    expect(c.facts.boot.bootId).toBe(PREVIOUS);
    expect(c.facts.boot.lastEvents).toEqual(["[T4] NVMe timeout on nvme0"]);
    expect(c.facts.boot.lastLines.at(-1)).toBe("backup.sh: copying /home");
    expect(c.facts.boot.pstore.map((p) => p.kind)).toEqual(["panic", "panic"]);
    // The same boot again (a daemon restart): nothing more.
    expect(await m.check(Date.now() * 1000)).toBeNull();
  });
});
