import { expect, test } from "bun:test";
import { Classifier } from "../../src/classify/classifier.ts";
import type { RuleGroup } from "../../src/classify/rule-spec.ts";
import { journalMatches } from "../../src/sources/journal.ts";

// The journal is read filtered on journald's side (kernel lines, errors, the MESSAGE_IDs and
// identifiers the rules name). One built-in rule that could match any line of any program
// turns that filter off and the daemon reads the whole journal: every rule must say where
// its lines come from.

const ALL_GROUPS: RuleGroup[] = ["core", "gpu", "raid", "file_sharing", "containers", "coredumps", "memory_pressure"];

test("with every rule group on, the built-in rules keep the journal filtered on journald's side", () => {
  const classifier = new Classifier({ enabledGroups: new Set(ALL_GROUPS) });
  expect(classifier.rawPrefilter?.anyLiterals ?? ["(no prefilter at all)"]).toEqual([]);
  const matches = journalMatches(classifier.rawPrefilter);
  expect(matches?.slice(0, 2)).toEqual(["_TRANSPORT=kernel", "+"]);
  expect(matches).toContain("SYSLOG_IDENTIFIER=audit");
});
