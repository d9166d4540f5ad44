import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  listSnapshots,
  listSnapshotServices,
  readLatestSnapshot,
  readSnapshot,
  snapshotsDir,
  snapshotTimestamp,
  timestampToUs,
  trimSnapshots,
  writeSnapshot,
} from "../../src/store/snapshots.ts";
import { failureSnapshot as snapshot } from "../_builders.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "logtriage-snapshots-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const T0_US = Date.UTC(2026, 1, 18, 3, 12, 45, 123) * 1000;

describe("failure snapshots on disk", () => {
  test("live beside the database", () => {
    expect(snapshotsDir("/home/u/.local/share/logtriage/events.db")).toBe("/home/u/.local/share/logtriage/snapshots");
  });

  test("a written snapshot reads back whole under its timestamp, private to the user, and no temp file stays", () => {
    const path = writeSnapshot(dir, "nextcloud", snapshot(T0_US));
    expect(path).toBe(join(dir, "nextcloud", "2026-02-18T03-12-45.123Z.json"));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, "nextcloud"))).toEqual(["2026-02-18T03-12-45.123Z.json"]);
    expect(listSnapshots(dir, "nextcloud", 10)).toEqual(["2026-02-18T03-12-45.123Z"]);
    expect(readSnapshot(dir, "nextcloud", "2026-02-18T03-12-45.123Z")?.check.status).toBe(503);
    expect(timestampToUs("2026-02-18T03-12-45.123Z")).toBe(T0_US);
    expect(listSnapshotServices(dir)).toEqual(["nextcloud"]);
  });

  test("two failures in the same millisecond are two files", () => {
    writeSnapshot(dir, "nextcloud", snapshot(T0_US));
    writeSnapshot(dir, "nextcloud", snapshot(T0_US, { summary: "second" }));
    expect(listSnapshots(dir, "nextcloud", 10)).toEqual(["2026-02-18T03-12-45.124Z", "2026-02-18T03-12-45.123Z"]);
    expect(readLatestSnapshot(dir, "nextcloud")?.snapshot.summary).toBe("second");
  });

  test("the 51st snapshot removes the oldest: 50 kept, newest first", () => {
    for (let i = 0; i < 51; i++) writeSnapshot(dir, "nextcloud", snapshot(T0_US + i * 60_000_000));
    const kept = listSnapshots(dir, "nextcloud", 100);
    expect(kept).toHaveLength(50);
    expect(kept[0]).toBe(snapshotTimestamp(T0_US + 50 * 60_000_000));
    expect(kept.at(-1)).toBe(snapshotTimestamp(T0_US + 60_000_000));
    expect(existsSync(join(dir, "nextcloud", `${snapshotTimestamp(T0_US)}.json`))).toBe(false);
    expect(listSnapshots(dir, "nextcloud", 3)).toHaveLength(3);
  });

  test("a temp file left by a crash mid-write is never listed, and trimming leaves other files alone", () => {
    writeSnapshot(dir, "nextcloud", snapshot(T0_US));
    writeFileSync(join(dir, "nextcloud", ".123.999.json.tmp"), "{ half");
    writeFileSync(join(dir, "nextcloud", "notes.txt"), "mine");
    expect(listSnapshots(dir, "nextcloud")).toEqual(["2026-02-18T03-12-45.123Z"]);
    expect(trimSnapshots(dir, "nextcloud", 0)).toBe(1);
    expect(readdirSync(join(dir, "nextcloud")).sort()).toEqual([".123.999.json.tmp", "notes.txt"]);
  });

  test("names from a URL cannot leave the snapshots directory", () => {
    writeFileSync(join(dir, "secret.json"), JSON.stringify(snapshot(T0_US)));
    expect(readSnapshot(dir, "..", "secret")).toBeNull();
    expect(readSnapshot(dir, "nextcloud", "../../secret")).toBeNull();
    expect(listSnapshots(dir, "../x")).toEqual([]);
    expect(() => writeSnapshot(dir, "../x", snapshot(T0_US))).toThrow("not a service name");
  });

  test("no snapshot yet is empty, not an error; a file that is not a snapshot is named", () => {
    expect(listSnapshots(dir, "nextcloud")).toEqual([]);
    expect(readLatestSnapshot(dir, "nextcloud")).toBeNull();
    expect(readSnapshot(dir, "nextcloud", "2026-02-18T03-12-45.123Z")).toBeNull();
    writeSnapshot(dir, "nextcloud", snapshot(T0_US));
    writeFileSync(join(dir, "nextcloud", "2026-02-18T03-12-45.123Z.json"), "{}");
    expect(() => readSnapshot(dir, "nextcloud", "2026-02-18T03-12-45.123Z")).toThrow("is not a logtriage failure snapshot");
  });
});
