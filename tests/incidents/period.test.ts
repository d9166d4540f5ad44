import { describe, expect, test } from "bun:test";
import { countIncidents, digestPeriod, type IncidentRow } from "../../src/incidents/period.ts";

const H = 3_600_000_000;
const since = 100 * H;
const until = since + 24 * H;

function row(over: Partial<IncidentRow>): IncidentRow {
  return {
    id: "i",
    instanceId: "box",
    fingerprint: "unit:a.service",
    state: "open",
    firstSeenUs: since + H,
    lastSeenUs: since + H,
    resolvedUs: null,
    summary: "a failed",
    mute: null,
    severity: "medium",
    loop: false,
    ...over,
  };
}

describe("incidents over a period", () => {
  test("new, recurring, still open, resolved, muted; what ended before the period is not counted", () => {
    const counts = countIncidents(
      [
        row({
          id: "old",
          fingerprint: "unit:b.service",
          state: "resolved",
          firstSeenUs: since - 10 * H,
          lastSeenUs: since - 9 * H,
          resolvedUs: since - 9 * H,
        }),
        row({ id: "again", fingerprint: "unit:b.service", summary: "b failed again", state: "resolved", resolvedUs: since + 2 * H }),
        row({ id: "new", summary: "a failed", mute: { untilUs: null, severity: "medium", loop: false } }),
        row({ id: "carried", fingerprint: "disk:sda", firstSeenUs: since - 30 * H, lastSeenUs: since - 20 * H }),
        row({ id: "later", fingerprint: "unit:c.service", firstSeenUs: until + H }),
      ],
      new Set(),
      since,
      until,
    );
    expect(counts).toEqual({
      active: 3,
      new: 1,
      recurring: 1,
      stillOpen: 2,
      resolved: 1,
      muted: 1,
      opened: ["b failed again", "a failed"],
    });
  });

  test("the period follows [digest] schedule", () => {
    expect(digestPeriod("Sun 09:00")).toEqual({ days: 7, word: "weekly" });
    expect(digestPeriod("09:00")).toEqual({ days: 1, word: "daily" });
    expect(digestPeriod("daily 08:30")).toEqual({ days: 1, word: "daily" });
  });
});
