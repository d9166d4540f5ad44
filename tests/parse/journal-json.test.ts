import { describe, expect, test } from "bun:test";
import { journalRecordToEntry, parseJournalLine } from "../../src/parse/journal-json.ts";
import { fixtureEntries } from "../_fixtures.ts";

describe("parseJournalLine", () => {
  test("a real kernel entry: transport, identifier, priority, times, cursor", async () => {
    const entries = await fixtureEntries("real/oom-memcg-v1-kernel6.jsonl");
    const kill = entries.find((e) => e.message.startsWith("Memory cgroup out of memory: Killed process"));
    expect(kill).toBeDefined();
    expect(kill?.transport).toBe("kernel");
    expect(kill?.identifier).toBe("kernel");
    expect(kill?.priority).toBe(3);
    expect(kill?.cursor).toMatch(/^s=[0-9a-f]+;i=[0-9a-f]+;b=[0-9a-f]+;/);
    expect(kill?.realtimeUs).toBeGreaterThan(1_700_000_000_000_000);
    expect(kill?.origin).toBe("journal");
  });

  test("byte-array values are decoded; invalid UTF-8 becomes U+FFFD", () => {
    // printf 'bad \xff\xfe bytes' | systemd-cat: journalctl prints the MESSAGE as bytes
    const e = parseJournalLine(JSON.stringify({ MESSAGE: [98, 97, 100, 32, 255, 254, 32, 98, 121, 116, 101, 115], PRIORITY: "6" }));
    expect(e?.message).toBe("bad \uFFFD\uFFFD bytes");
    expect(e?.priority).toBe(6);
  });

  test("repeated fields: all values kept, first one used", () => {
    const e = parseJournalLine(JSON.stringify({ MESSAGE: "x", FOO: ["a", "b"], SYSLOG_IDENTIFIER: ["app", "other"] }));
    expect(e?.fields["FOO"]).toBe("a\nb");
    expect(e?.identifier).toBe("app");
  });

  test("null (too large to show) and missing fields do not break the entry", () => {
    const e = parseJournalLine(JSON.stringify({ MESSAGE: null, __REALTIME_TIMESTAMP: "1795373192144829" }));
    expect(e?.message).toBe("[value too large to show]");
    expect(e?.realtimeUs).toBe(1795373192144829);
    expect(e?.priority).toBeNull();
    expect(e?.transport).toBeNull();
    expect(e?.cursor).toBeNull();
    const empty = parseJournalLine("{}");
    expect(empty?.message).toBe("");
  });

  test("the subject unit: USER_UNIT of a user manager wins over the sender's own unit", () => {
    const e = parseJournalLine(
      JSON.stringify({
        MESSAGE: "lt-fail.service: Failed with result 'exit-code'.",
        USER_UNIT: "lt-fail.service",
        _SYSTEMD_UNIT: "user@0.service",
      }),
    );
    expect(e?.unit).toBe("lt-fail.service");
  });

  test.each(["", "not json", "[1,2]", "42", '{"MESSAGE": "trunc'])("not an entry: %p", (line) => {
    expect(parseJournalLine(line)).toBeNull();
  });
});

describe("values journalctl never writes are coerced, never thrown on", () => {
  const base = { __REALTIME_TIMESTAMP: "1700000000000000", __CURSOR: "s=1", _TRANSPORT: "kernel" };
  test.each([
    ["a number", 5, "5"],
    ["a boolean", true, "true"],
    ["an object", { a: 1 }, '{"a":1}'],
    ["nested arrays", [["a", ["b"]], "c"], '["a",["b"]]'],
    ["a huge number", 1e300, "1e+300"],
    ["bytes out of range", [300, -1], "300"],
  ])("MESSAGE holding %s", (_what, value, message) => {
    const entry = journalRecordToEntry({ ...base, MESSAGE: value });
    expect(entry?.message).toBe(message);
  });

  test("an array nested 100,000 deep is written as a placeholder, not a stack overflow", () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const line = JSON.stringify({ ...base, MESSAGE: "x", EXTRA: "y" }).replace('"y"', "[".repeat(100_000) + "]".repeat(100_000));
    const entry = parseJournalLine(line);
    expect(entry?.message).toBe("x");
    expect(entry?.fields["EXTRA"]).toBe("[value nested deeper than 32 levels]");
    expect(journalRecordToEntry({ ...base, MESSAGE: deep })?.message).toBe("[value nested deeper than 32 levels]");
  });

  test("numbers where timestamps and PRIORITY belong give nulls or their value, not a crash", () => {
    const entry = journalRecordToEntry({ ...base, __REALTIME_TIMESTAMP: 1700000000000000, PRIORITY: 3, _PID: { x: 1 }, MESSAGE: "m" });
    expect(entry?.realtimeUs).toBe(1700000000000000);
    expect(entry?.priority).toBe(3);
    expect(entry?.pid).toBeNull();
  });
});
