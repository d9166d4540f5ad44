import { describe, expect, test } from "bun:test";
import { BUILTIN_RULES } from "../../src/classify/rules.ts";
import { describeResult, figures, formatFigures, loadCorpus, recordKey, runCorpus } from "../_corpus.ts";

// Every record of the sourced corpus gets the tier and rule it names (benign records: no
// event), unless known-misses.jsonl lists it with a reason. The figures are printed so a run
// shows recall per tier and kind and the precision (docs/corpus.md quotes them).

const { records, knownMisses } = await loadCorpus();
const results = runCorpus(records, knownMisses);

describe("sourced corpus", () => {
  test("every record names a rule the table has", () => {
    const names = new Set(BUILTIN_RULES.map((r) => r.name));
    expect(records.filter((r) => r.rule !== null && !names.has(r.rule)).map((r) => `${r.at}: ${r.rule}`)).toEqual([]);
  });

  // Memory pressure is mostly the PSI monitor's (no log line), but the rules that read log lines
  // are held to real lines like every other tier.
  test("every memory-pressure (T5) rule that reads log lines has sourced records", () => {
    const covered = new Set(records.map((r) => r.rule));
    const t5 = BUILTIN_RULES.filter((r) => r.tier === "T5" && r.pattern !== undefined).map((r) => r.name);
    expect(t5.length).toBeGreaterThan(0);
    expect(t5.filter((name) => !covered.has(name))).toEqual([]);
    expect(figures(results).perTier.find((t) => t.tier === "T5")?.count).toBeGreaterThan(0);
  });

  test("every record is classified as it says, known misses aside", () => {
    console.log(formatFigures(figures(results)));
    expect(results.filter((x) => !x.pass && x.knownMiss === null).map(describeResult)).toEqual([]);
  });

  test("every known miss is still a miss and still in the corpus", () => {
    const keys = new Set(records.map(recordKey));
    expect([...knownMisses.keys()].filter((k) => !keys.has(k))).toEqual([]);
    expect(results.filter((x) => x.pass && x.knownMiss !== null).map(describeResult)).toEqual([]);
  });
});
