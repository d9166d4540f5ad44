import { expect, test } from "bun:test";
import { MAX_KMSG_CONTINUATIONS, newStats, readLogStream } from "../../src/sources/file.ts";

// A kmsg record is a header and a few indented continuation lines; a file that never stops
// indenting must not grow one record without bound.

test("kmsg continuation lines past the bound are counted as oversized, and the next record still parses", async () => {
  const text = [
    "6,1,100,-;first record",
    ...Array.from({ length: 10_000 }, (_, i) => ` KEY${i}=value`),
    "6,2,200,-;second record",
    "",
  ].join("\n");
  const stats = newStats();
  const entries = [];
  for await (const e of readLogStream(new Blob([text]).stream(), { year: 2026 }, stats)) entries.push(e);
  expect(entries.map((e) => e.message)).toEqual(["first record", "second record"]);
  expect(Object.keys(entries[0]?.fields ?? {}).filter((k) => k.startsWith("KEY"))).toHaveLength(MAX_KMSG_CONTINUATIONS);
  expect(stats.bad.oversized).toBe(10_000 - MAX_KMSG_CONTINUATIONS);
});
