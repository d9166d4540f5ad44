import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BLIND_RULE } from "../../src/incidents/fingerprint.ts";
import { BlindnessTracker, BlindnessWatch, blindLine, blindnessFix, findJournald } from "../../src/daemon/blindness.ts";
import { statusLine } from "../../src/daemon/daemon.ts";
import { EventWriter } from "../../src/daemon/writer.ts";
import type { Candidate } from "../../src/event.ts";
import { describeCandidate } from "../../src/text/describe.ts";
import { newSourceStats, type Source } from "../../src/sources/source.ts";
import { openStore } from "../../src/store/db.ts";
import { queryEvents } from "../../src/store/events.ts";
import { outboxCounts } from "../../src/store/outbox.ts";

const silent = { warn: () => {}, info: () => {} };

function blindnessOf(c: Candidate | null) {
  if (c?.facts.kind !== "blindness") throw new Error(`not a blindness event: ${JSON.stringify(c)}`);
  return c.facts.blindness;
}

describe("BlindnessTracker", () => {
  test("one blind event, then one sees-again with how long and what was read since", () => {
    const t = new BlindnessTracker();
    const blind = t.update("journald", { cause: "journald (pid 312) stopped", fix: null }, 1_000_000_000, 40);
    expect(blind?.rule).toBe(BLIND_RULE);
    expect(blind?.tier).toBe("T4");
    expect(blind?.severity).toBe("high");
    expect(blindnessOf(blind).state).toBe("blind");
    expect(blind?.summary).toBe("logtriage is blind: journald (pid 312) stopped");
    // Still blind: no second event.
    expect(t.update("journald", { cause: "journald (pid 312) stopped", fix: null }, 1_002_000_000, 40)).toBeNull();
    expect(t.current().map((b) => b.subject)).toEqual(["journald"]);
    const back = t.update("journald", null, 1_012_000_000, 47);
    const facts = blindnessOf(back);
    expect(facts.state).toBe("sees-again");
    expect(facts.subject).toBe("journald");
    expect(facts.blindSinceUs).toBe(1_000_000_000);
    expect(facts.blindForMs).toBe(12_000);
    expect(facts.reread).toContain("7 record(s)");
    expect(back?.summary).toBe("logtriage sees again: journald is back after 12 s blind");
    expect(describeCandidate(back as Candidate)).toContain("Blind for 12 s.");
    expect(t.current()).toEqual([]);
    expect(t.update("journald", null, 1_013_000_000, 47)).toBeNull();
  });

  test("lost kernel records are one event naming how many", () => {
    const c = new BlindnessTracker().lost(17, 5);
    expect(blindnessOf(c).state).toBe("lost-records");
    expect(c.summary).toContain("lost 17 kernel record(s)");
  });
});

describe("blindnessFix", () => {
  test.each([
    [
      "this user sees only its own journal, not the system's: add it to the systemd-journal group (sudo usermod -aG systemd-journal $USER, then log in again)",
      /usermod -aG systemd-journal/,
    ],
    ["/dev/kmsg is not readable by this user (kernel.dmesg_restrict=1): run as root or use the journal", /kernel\.dmesg_restrict=0/],
    ["journald is not running", /start systemd-journald/],
  ])("%s", (reason, fix) => {
    expect(blindnessFix(reason) ?? "").toMatch(fix);
  });

  test("both fixes when neither source can be read", () => {
    const reason =
      "no usable source: journal: this user sees only its own journal, not the system's: add it to the systemd-journal group (sudo usermod -aG systemd-journal $USER, then log in again); /dev/kmsg: /dev/kmsg is not readable by this user (kernel.dmesg_restrict=1): run as root or use the journal";
    const fix = blindnessFix(reason) ?? "";
    expect(fix).toContain("systemd-journal");
    expect(fix).toContain("dmesg_restrict");
  });
});

// A /proc tree written by hand: one process whose comm and stat are journald's, in the shapes
// the kernel writes them (comm cut to 15 characters; stat's start time is field 22).
let procRoot: string;
function writeProc(pid: number, comm: string, startTicks: number, state = "S"): void {
  mkdirSync(join(procRoot, String(pid)), { recursive: true });
  writeFileSync(join(procRoot, String(pid), "comm"), `${comm}\n`);
  const after = [
    state,
    "1",
    String(pid),
    "0",
    "0",
    "-1",
    "4194560",
    "1000",
    "0",
    "0",
    "0",
    "10",
    "5",
    "0",
    "0",
    "20",
    "0",
    "1",
    "0",
    String(startTicks),
    "123",
  ];
  writeFileSync(join(procRoot, String(pid), "stat"), `${pid} (${comm}) ${after.join(" ")}\n`);
}

describe("findJournald", () => {
  beforeEach(() => {
    procRoot = mkdtempSync(join(tmpdir(), "lt-proc-"));
  });
  afterEach(() => rmSync(procRoot, { recursive: true, force: true }));

  test("finds it by comm, tells a new process by its start time, ignores zombies", () => {
    writeProc(7, "bash", 50);
    expect(findJournald(procRoot)).toBeNull();
    writeProc(312, "systemd-journal", 900);
    const first = findJournald(procRoot);
    expect(first).toEqual({ pid: 312, startTicks: "900" });
    rmSync(join(procRoot, "312"), { recursive: true });
    writeProc(312, "systemd-journal", 1500);
    expect(findJournald(procRoot, first)?.startTicks).toBe("1500");
    writeProc(312, "systemd-journal", 1500, "Z");
    expect(findJournald(procRoot)).toBeNull();
  });

  test("on this machine: finds the real journald when one runs", () => {
    const real = findJournald();
    if (real === null) return expect(Bun.spawnSync(["pgrep", "-x", "systemd-journal"]).exitCode).not.toBe(0);
    expect(Bun.spawnSync(["pgrep", "-x", "systemd-journal"]).stdout.toString().split("\n")).toContain(String(real.pid));
  });
});

function fakeSource(): Source {
  return { name: "journal", stats: newSourceStats(), batches: async function* () {} };
}

describe("BlindnessWatch", () => {
  beforeEach(() => {
    procRoot = mkdtempSync(join(tmpdir(), "lt-proc-"));
  });
  afterEach(() => rmSync(procRoot, { recursive: true, force: true }));

  test("journald gone → blind; back under a new pid → sees again; a restart between looks → one restarted", () => {
    writeProc(312, "systemd-journal", 900);
    const source = fakeSource();
    source.stats.running = true;
    const events: Candidate[] = [];
    const w = new BlindnessWatch({
      source,
      startReason: "",
      watchJournald: true,
      dbWritable: () => true,
      emit: (c) => events.push(c),
      log: silent,
      procRoot,
    });
    w.sample(1_000);
    expect(events).toEqual([]);
    rmSync(join(procRoot, "312"), { recursive: true });
    w.sample(3_000);
    expect(events.map((e) => blindnessOf(e).state)).toEqual(["blind"]);
    expect(events[0]?.summary).toContain("journald (pid 312) stopped");
    expect(blindLine(w.current())).toContain("BLIND: journald (pid 312) stopped");
    w.sample(5_000);
    expect(events).toHaveLength(1);
    writeProc(400, "systemd-journal", 2000);
    source.stats.recordsRead = 3;
    w.sample(7_000);
    expect(events.map((e) => blindnessOf(e).state)).toEqual(["blind", "sees-again"]);
    expect(blindnessOf(events[1] ?? null).blindForMs).toBe(4_000);
    rmSync(join(procRoot, "400"), { recursive: true });
    writeProc(401, "systemd-journal", 2100);
    w.sample(9_000);
    expect(blindnessOf(events[2] ?? null).state).toBe("restarted");
    expect(events[2]?.summary).toContain("pid 400 → 401");
  });

  test("a replaced active journal file restarts the reader (once per replacement)", () => {
    writeProc(312, "systemd-journal", 900);
    const file = join(procRoot, "system.journal");
    writeFileSync(file, "first");
    const restarts: string[] = [];
    const source = fakeSource();
    source.stats.running = true;
    const w = new BlindnessWatch({
      source,
      startReason: "",
      watchJournald: true,
      dbWritable: () => true,
      emit: () => {},
      onJournaldBack: (why) => restarts.push(why),
      log: silent,
      procRoot,
      journalFiles: [file, join(procRoot, "absent.journal")],
    });
    w.sample(1_000);
    w.sample(3_000);
    expect(restarts).toEqual([]);
    // journald's way: the old file renamed aside, a new one in its place (a new inode).
    renameSync(file, `${file}~`);
    writeFileSync(file, "second");
    w.sample(5_000);
    w.sample(7_000);
    expect(restarts).toEqual(["the active journal file was replaced"]);
  });

  test("no source at start: blind at the first look, with the fix", () => {
    const events: Candidate[] = [];
    const reason =
      "no usable source: journal: journald is not running; /dev/kmsg: /dev/kmsg is not readable by this user (kernel.dmesg_restrict=1): run as root or use the journal";
    const w = new BlindnessWatch({
      source: null,
      startReason: reason,
      watchJournald: false,
      dbWritable: () => true,
      emit: (c) => events.push(c),
      log: silent,
      procRoot,
    });
    w.sample(1_000);
    w.sample(3_000);
    expect(events).toHaveLength(1);
    expect(blindnessOf(events[0] ?? null).fix).toContain("dmesg_restrict=0");
    expect(events[0]?.summary).toContain("no log source can be read");
  });

  test("a source reader down past the grace period, a stall, lost kernel records, the database", () => {
    const source = fakeSource();
    const events: Candidate[] = [];
    let writable = true;
    const w = new BlindnessWatch({
      source,
      startReason: "",
      watchJournald: false,
      dbWritable: () => writable,
      emit: (c) => events.push(c),
      log: silent,
      procRoot,
      sourceDownMs: 30_000,
    });
    source.stats.lastError = "journalctl exited with code 1";
    w.sample(0);
    w.sample(29_000);
    expect(events).toEqual([]);
    w.sample(30_000);
    expect(events[0]?.summary).toContain("the journal reader has been down for 30 s (journalctl exited with code 1)");
    source.stats.running = true;
    w.sample(31_000);
    expect(blindnessOf(events[1] ?? null).state).toBe("sees-again");
    source.stats.restarts = 1;
    source.stats.lastError = "journalctl stopped delivering entries the journal holds (stalled)";
    source.stats.lost = 5;
    writable = false;
    w.sample(33_000);
    expect(events.slice(2).map((e) => `${blindnessOf(e).subject}:${blindnessOf(e).state}`)).toEqual([
      "source:restarted",
      "kernel-ring-buffer:lost-records",
      "database:blind",
    ]);
    writable = true;
    w.sample(35_000);
    expect(blindnessOf(events[5] ?? null).state).toBe("sees-again");
  });
});

describe("alerting and status", () => {
  let dir: string;
  let db: Database;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "lt-blind-"));
    db = openStore(join(dir, "events.db"));
  });
  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("blindness alerts with the default alert tiers (T1, T2); blind and sees-again are two events", () => {
    const writer = new EventWriter({
      db,
      policy: { instanceId: "box", cooldownMs: 600_000, aggregateThreshold: 3 },
      alerts: {
        tiers: new Set(["T1", "T2"]),
        toNotification: (e) => ({ title: e.summary, message: e.detail, priority: 4, tags: [], click: null }),
      },
    });
    const t = new BlindnessTracker();
    const nowUs = Date.now() * 1000;
    const blind = t.update("journald", { cause: "journald (pid 9) stopped", fix: null }, nowUs, 0) as Candidate;
    const back = t.update("journald", null, nowUs + 5_000_000, 2) as Candidate;
    expect(writer.commit([blind], null).queued).toBe(1);
    expect(writer.commit([back], null).queued).toBe(1);
    expect(outboxCounts(db).pending).toBe(2);
    expect(queryEvents(db, { sinceUs: 0, limit: 10 }).map((e) => e.rule)).toEqual([BLIND_RULE, BLIND_RULE]);
  });

  test("systemd's STATUS= leads with BLIND and the fix", () => {
    const line = statusLine(
      {
        version: "x",
        instance: "box",
        source: { name: null, reason: "r", stats: newSourceStats(), lastEntryUs: null, lagUs: null, committed: null },
        psi: null,
        notifications: "off",
        heldCandidates: 0,
        blind: [{ subject: "source", cause: "no log source can be read", fix: "add the user to group systemd-journal", sinceUs: 1 }],
      },
      0,
    );
    expect(line).toStartWith("BLIND: no log source can be read — fix: add the user to group systemd-journal | no source");
  });
});
