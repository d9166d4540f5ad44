import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Database } from "bun:sqlite";
import { parseSmartctlReport } from "../../src/parse/smartctl.ts";
import { FIXTURES } from "../_fixtures.ts";
import { openStore, SCHEMA_VERSION, StoreError } from "../../src/store/db.ts";
import { commitEvent, countEvents, getEvent, OPEN_INCIDENT_SQL, queryEvents, type CommitPolicy } from "../../src/store/events.ts";
import { unitFailure as candidate } from "../_builders.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "logtriage-store-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const MIN_US = 60_000_000;
const policy: CommitPolicy = { instanceId: "nas", cooldownMs: 5 * 60_000, aggregateThreshold: 3 };

describe("openStore", () => {
  test("creates the file 0600 in WAL mode at the current schema version", () => {
    const path = join(dir, "sub", "events.db");
    const db = openStore(path);
    expect((db.query("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode).toBe("wal");
    expect((db.query("PRAGMA user_version").get() as { user_version: number }).user_version).toBe(SCHEMA_VERSION);
    db.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test("reopening keeps the data (migrations run once)", () => {
    const path = join(dir, "events.db");
    const db = openStore(path);
    commitEvent(db, candidate(), policy);
    db.close();
    const again = openStore(path);
    expect(countEvents(again, { sinceUs: 0 })).toBe(1);
    again.close();
  });

  test("a file that is not a database: a clear error naming the path, and the file is left untouched", () => {
    const path = join(dir, "events.db");
    writeFileSync(path, "this is my diary, not a database\n".repeat(200));
    const before = Bun.file(path).size;
    expect(() => openStore(path)).toThrow(StoreError);
    try {
      openStore(path);
    } catch (e) {
      expect((e as Error).message).toContain(path);
      expect((e as Error).message).toContain("not a readable logtriage database");
    }
    expect(Bun.file(path).size).toBe(before);
  });

  test("a database from a newer logtriage is refused", () => {
    const path = join(dir, "events.db");
    const raw = new Database(path);
    raw.run(`PRAGMA user_version = ${SCHEMA_VERSION + 5}`);
    raw.close();
    expect(() => openStore(path)).toThrow(/newer than this logtriage/);
  });

  test("a directory instead of a file", () => {
    expect(() => openStore(dir)).toThrow(/is a directory/);
  });

  test("an unwritable location names the path and the fix", () => {
    const locked = join(dir, "locked");
    mkdirSync(locked);
    chmodSync(locked, 0o500);
    const asRoot = process.getuid?.() === 0;
    // root ignores directory permissions; a path under a regular file fails for everyone.
    const path = asRoot ? join(dir, "file-not-dir", "events.db") : join(locked, "events.db");
    if (asRoot) writeFileSync(join(dir, "file-not-dir"), "");
    expect(() => openStore(path)).toThrow(/cannot write the event database .*Check that its directory exists and is writable/);
  });

  test("readonly open of a missing database says who creates it", () => {
    expect(() => openStore(join(dir, "none.db"), { readonly: true })).toThrow(/daemon/);
  });
});

test("the lookup of the event a line joins reads recent events through the index, not every stored event", () => {
  const db = openStore(":memory:");
  const plan = db.query(`EXPLAIN QUERY PLAN ${OPEN_INCIDENT_SQL}`).all(...Array(6).fill(null)) as { detail: string }[];
  db.close();
  const details = plan.map((p) => p.detail).join("; ");
  expect(details).toContain("USING INDEX idx_events_seen");
  expect(details).not.toMatch(/SCAN events(?! USING)/);
});

describe("commitEvent: cooldown and aggregation", () => {
  test("same unit inside the window: one event, occurrences counted; third becomes a crash loop", () => {
    const db = openStore(join(dir, "events.db"));
    const t0 = 1_800_000_000_000_000;
    expect(commitEvent(db, candidate({ timestampUs: t0 }), policy).outcome).toBe("new");
    expect(commitEvent(db, candidate({ timestampUs: t0 + MIN_US }), policy).outcome).toBe("occurrence");
    const third = commitEvent(db, candidate({ timestampUs: t0 + 2 * MIN_US }), policy);
    expect(third.outcome).toBe("aggregated");
    expect(commitEvent(db, candidate({ timestampUs: t0 + 3 * MIN_US }), policy).outcome).toBe("occurrence");
    const events = queryEvents(db, { sinceUs: 0, limit: 10 });
    expect(events).toHaveLength(1);
    expect(events[0]?.occurrences).toBe(4);
    expect(events[0]?.summary).toStartWith("Crash loop: smbd.service — 4×");
    db.close();
  });

  test("a unit restarted over and over with clean exits is a 'Restart loop', not a crash loop", () => {
    const db = openStore(":memory:");
    const t0 = 1_800_000_000_000_000;
    const loop = (timestampUs: number) =>
      candidate({
        rule: "restart-loop",
        summary: "Restart loop: smbd.service started 5× within 2 min",
        timestampUs,
        facts: { kind: "unit", unit: "smbd.service", result: "restart-loop", exitCode: null, exitStatus: null, restartCount: 5 },
      });
    for (let i = 0; i < 3; i++) commitEvent(db, loop(t0 + i * MIN_US), policy);
    const events = queryEvents(db, { sinceUs: 0, limit: 10 });
    expect(events).toHaveLength(1);
    expect(events[0]?.summary).toStartWith("Restart loop: smbd.service — 3× restart loop within");
    expect(events[0]?.summary).not.toContain("Crash");
    db.close();
  });

  test("a repeating kernel error is 'Repeated', not a crash loop; repeated OOM kills say so", () => {
    const db = openStore(":memory:");
    const t0 = 1_800_000_000_000_000;
    const xid = candidate({
      tier: "T4",
      severity: "high",
      rule: "nvidia-xid",
      unit: null,
      summary: "GPU error (NVIDIA Xid 13)",
      facts: { kind: "kernel", device: "0000:01:00", lines: [] },
    });
    const oom = candidate({
      tier: "T1",
      severity: "critical",
      rule: "kernel-oom-kill",
      unit: null,
      process: "java",
      summary: "OOM kill: java",
    });
    for (let i = 0; i < 3; i++) {
      commitEvent(db, { ...xid, timestampUs: t0 + i }, policy);
      commitEvent(db, { ...oom, timestampUs: t0 + i }, policy);
    }
    const summaries = queryEvents(db, { sinceUs: 0, limit: 10 })
      .map((e) => e.summary)
      .sort();
    expect(summaries[0]).toStartWith("Repeated OOM kills: java — 3× OOM kill");
    expect(summaries[1]).toStartWith("Repeated: nvidia-xid — 3× kernel/hardware error");
    db.close();
  });

  test("SMART events of two disks are two events, whatever the cooldown", () => {
    const db = openStore(":memory:");
    const disk = (device: string) => {
      const report = parseSmartctlReport(
        readFileSync(join(FIXTURES, "smartctl", "public-ata-hitachi-failed-reallocated-pending.json"), "utf8"),
        device,
      );
      if (report?.kind !== "summary") throw new Error("fixture did not parse");
      return candidate({
        tier: "T4",
        severity: "critical",
        rule: "smart-health",
        unit: null,
        summary: `SMART: ${device} FAILED`,
        facts: { kind: "smart", disk: report.summary, changes: ["health FAILED"] },
      });
    };
    commitEvent(db, disk("/dev/sda"), policy);
    expect(commitEvent(db, disk("/dev/sdb"), policy).outcome).toBe("new");
    expect(commitEvent(db, disk("/dev/sda"), policy).outcome).toBe("occurrence");
    db.close();
  });

  test("the window slides from the last occurrence; a gap longer than it starts a new event", () => {
    const db = openStore(join(dir, "events.db"));
    const t0 = 1_800_000_000_000_000;
    commitEvent(db, candidate({ timestampUs: t0 }), policy);
    commitEvent(db, candidate({ timestampUs: t0 + 4 * MIN_US }), policy);
    expect(commitEvent(db, candidate({ timestampUs: t0 + 8 * MIN_US }), policy).outcome).toBe("aggregated");
    expect(commitEvent(db, candidate({ timestampUs: t0 + 20 * MIN_US }), policy).outcome).toBe("new");
    db.close();
  });

  test("different instance, tier or unit never fold together", () => {
    const db = openStore(join(dir, "events.db"));
    commitEvent(db, candidate(), policy);
    expect(commitEvent(db, candidate(), { ...policy, instanceId: "workstation" }).outcome).toBe("new");
    expect(commitEvent(db, candidate({ tier: "T2" }), policy).outcome).toBe("new");
    expect(commitEvent(db, candidate({ unit: "nfs-server.service" }), policy).outcome).toBe("new");
    db.close();
  });
});

describe("queries", () => {
  test("filters by tier, instance, process, unit and time; newest first; limit", () => {
    const db = openStore(join(dir, "events.db"));
    const t0 = 1_800_000_000_000_000;
    const noCooldown = { ...policy, cooldownMs: 0 };
    commitEvent(db, candidate({ tier: "T1", rule: "kernel-oom-kill", unit: null, process: "firefox", timestampUs: t0 }), noCooldown);
    commitEvent(db, candidate({ tier: "T2", unit: null, process: "vlc", timestampUs: t0 + 1 }), noCooldown);
    commitEvent(db, candidate({ timestampUs: t0 + 2 }), { ...noCooldown, instanceId: "workstation" });
    expect(queryEvents(db, { sinceUs: 0, tiers: ["T1"], limit: 10 }).map((e) => e.process)).toEqual(["firefox"]);
    expect(queryEvents(db, { sinceUs: 0, tiers: ["T1", "T2"], limit: 10 }).map((e) => e.process)).toEqual(["vlc", "firefox"]);
    expect(queryEvents(db, { sinceUs: 0, instance: "workstation", limit: 10 })).toHaveLength(1);
    expect(queryEvents(db, { sinceUs: 0, unit: "smbd.service", limit: 10 })).toHaveLength(1);
    expect(queryEvents(db, { sinceUs: t0 + 1, limit: 10 })).toHaveLength(2);
    expect(queryEvents(db, { sinceUs: 0, limit: 1 })[0]?.instanceId).toBe("workstation");
    expect(countEvents(db, { sinceUs: 0 })).toBe(3);
    db.close();
  });

  test("getEvent by full id or unique prefix", () => {
    const db = openStore(join(dir, "events.db"));
    const { id } = commitEvent(db, candidate(), policy);
    const full = getEvent(db, id);
    expect(full.kind === "found" && full.event.unit).toBe("smbd.service");
    const short = getEvent(db, id.slice(0, 6).toUpperCase());
    expect(short.kind).toBe("found");
    expect(getEvent(db, "zzzz").kind).toBe("none");
    db.close();
  });
});
