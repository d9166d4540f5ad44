import { describe, expect, test } from "bun:test";
import { Classifier, type CustomRule } from "../../src/classify/classifier.ts";
import { Triage } from "../../src/classify/triage.ts";
import { parseJournalLine } from "../../src/parse/journal-json.ts";
import { ALL_GROUPS, fixturePath, triageStream } from "../_fixtures.ts";
import { readLogStream } from "../../src/sources/file.ts";

async function run(file: string, options: { disabled?: string[]; custom?: CustomRule[] }) {
  const triage = new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS, ...options });
  const out = [];
  for await (const e of readLogStream(Bun.file(fixturePath(file)).stream(), { year: 2026, wantsRawLine: (l) => triage.wantsRawLine(l) }))
    out.push(...triage.push(e, 0));
  return [...out, ...triage.flush(0)];
}

describe("rules from config", () => {
  test("a disabled built-in rule produces nothing, and no other rule takes its lines", async () => {
    const before = await run("real/segfault-python.jsonl", {});
    expect(before.some((c) => c.rule === "kernel-segfault")).toBe(true);
    const after = await run("real/segfault-python.jsonl", { disabled: ["kernel-segfault"] });
    expect(after.filter((c) => c.tier === "T2")).toEqual([]);
  });

  test("unknown names in rules.disable are reported (likely typos)", () => {
    const c = new Classifier({ enabledGroups: ALL_GROUPS, disabled: ["kernel-segfualt", "coredump"] });
    expect(c.info.unknownDisabled).toEqual(["kernel-segfualt"]);
  });

  const diskFull: CustomRule = {
    name: "disk-full",
    tier: "T4",
    severity: "high",
    pattern: "No space left on device: (?<path>\\S+)",
    identifier: "postgres",
    summary: "Disk full at {path} ({identifier}[{pid}])",
  };
  const line = (identifier: string) =>
    JSON.stringify({
      __CURSOR: "c1",
      __REALTIME_TIMESTAMP: "1795373192144829",
      _TRANSPORT: "journal",
      PRIORITY: "3",
      SYSLOG_IDENTIFIER: identifier,
      _PID: "812",
      MESSAGE: "could not write: No space left on device: /var/lib/postgresql/15/main",
    });

  test("a custom rule: its name, tier, severity and summary template with named groups", async () => {
    const { candidates } = await triageStream(new Blob([`${line("postgres")}\n${line("other")}\n`]).stream(), ALL_GROUPS);
    expect(candidates).toEqual([]); // without the rule: not an event
    const triage = new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS, custom: [diskFull] });
    const events = [line("postgres"), line("other")]
      .filter((l) => triage.wantsRawLine(l))
      .flatMap((l) => triage.push(parseJournalLine(l)!, 0));
    expect(events.map((c) => [c.rule, c.tier, c.severity, c.summary])).toEqual([
      ["disk-full", "T4", "high", "Disk full at /var/lib/postgresql/15/main (postgres[812])"],
    ]);
  });

  test("custom rules are checked before built-in ones", () => {
    const mine: CustomRule = { name: "my-segv", tier: "T2", severity: "medium", pattern: "segfault at", transport: "kernel" };
    const triage = new Triage({ pageSizeKb: 4, enabledGroups: ALL_GROUPS, custom: [mine] });
    const entry = parseJournalLine(
      JSON.stringify({ _TRANSPORT: "kernel", SYSLOG_IDENTIFIER: "kernel", MESSAGE: "EXT4-fs error (device sda1): segfault at nothing" }),
    )!;
    expect(triage.push(entry, 0).map((c) => c.rule)).toEqual(["my-segv"]);
  });

  test("a custom rule with a regex pattern and no identifier turns the raw prefilter off (every line is parsed)", () => {
    const loose = new Triage({
      pageSizeKb: 4,
      enabledGroups: ALL_GROUPS,
      custom: [{ name: "any-fail", tier: "T3", severity: "medium", pattern: "fail(ed|ure)" }],
    });
    expect(loose.classifier.rawPrefilter).toBeNull();
    expect(loose.wantsRawLine('{"MESSAGE":"unrelated"}')).toBe(true);
    const literal = new Triage({
      pageSizeKb: 4,
      enabledGroups: ALL_GROUPS,
      custom: [{ name: "literal", tier: "T3", severity: "medium", pattern: "disk quota exceeded" }],
    });
    expect(literal.wantsRawLine('{"MESSAGE":"unrelated"}')).toBe(false);
    expect(literal.wantsRawLine('{"MESSAGE":"user alice: disk quota exceeded"}')).toBe(true);
  });
});
