import { afterEach, beforeEach, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { collectMetrics } from "../../src/metrics/collect.ts";
import { renderExposition } from "../../src/metrics/exposition.ts";
import { FailedUnitsReader, readFailedUnits } from "../../src/metrics/failed-units.ts";
import { parseFailedUnitList } from "../../src/parse/systemd-show.ts";
import type { RunResult, Runner } from "../../src/run.ts";
import { openStore } from "../../src/store/db.ts";

// The units failed now. The system manager's answer is this VM's real one (systemd is not PID 1:
// `systemctl list-units --state=failed` exits 1, "Failed to connect to bus"); the user manager's
// lines are written by hand in the shape `--plain --no-legend` prints (unit, load, active, sub,
// description).

const USER_FAILED = "lt-fail.service      loaded failed failed Fails on purpose\nlt-backup.timer loaded failed failed Nightly backup\n";

function runner(calls: string[][]): Runner {
  return {
    async run(argv): Promise<RunResult> {
      calls.push(argv);
      if (!argv.includes("--user"))
        return { exitCode: 1, stdout: "", stderr: "Failed to connect to bus: No such file or directory\n", timedOut: false };
      return { exitCode: 0, stdout: USER_FAILED, stderr: "", timedOut: false };
    },
  };
}

let db: Database;
beforeEach(() => {
  db = openStore(":memory:");
});
afterEach(() => db.close());

test("parseFailedUnitList: the unit names, nothing from an empty answer", () => {
  expect(parseFailedUnitList(USER_FAILED)).toEqual(["lt-fail.service", "lt-backup.timer"]);
  expect(parseFailedUnitList("")).toEqual([]);
});

test("an unreachable manager is unknown (null), not 'nothing failed'; /metrics counts the other", async () => {
  const calls: string[][] = [];
  const failed = await readFailedUnits(runner(calls));
  expect(failed).toEqual([
    { manager: "system", units: null },
    { manager: "user", units: ["lt-fail.service", "lt-backup.timer"] },
  ]);
  const out = renderExposition(
    await collectMetrics(
      {
        db,
        version: "t",
        instanceId: "box",
        source: () => ({ name: "journal", running: true, lagUs: null }),
        readPsi: () => null,
        probes: null,
        units: null,
        failedUnits: async () => failed,
      },
      Date.now() * 1000,
    ),
  );
  expect(out).toContain('systemd_units_failed{manager="user"} 2\n');
  expect(out).not.toContain('systemd_units_failed{manager="system"}');
});

test("the reader asks at most once a minute", async () => {
  const calls: string[][] = [];
  const reader = new FailedUnitsReader(runner(calls));
  await reader.read(0);
  await reader.read(30_000);
  expect(calls).toHaveLength(2);
  await reader.read(61_000);
  expect(calls).toHaveLength(4);
});
