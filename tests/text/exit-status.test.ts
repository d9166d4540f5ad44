import { expect, test } from "bun:test";
import { explainExit, signalName } from "../../src/text/exit-status.ts";
import { describeCandidate } from "../../src/text/describe.ts";
import { triageFixture } from "../_fixtures.ts";

test.each([
  ["exited", "203", "status=203/EXEC — the executable could not be run: missing, not executable, or a bad #! interpreter"],
  ["exited", "217", "status=217/USER — User= does not exist or could not be switched to"],
  ["exited", "3", "status=3/NOTIMPLEMENTED — an unimplemented feature was asked for"],
  ["exited", "137", "status=137 — 128+9: a shell reporting its child died of SIGKILL"],
  ["exited", "42", "status=42"],
  ["killed", "11", "SIGSEGV — a segmentation fault (invalid memory access)"],
  ["dumped", "6", "SIGABRT — aborted (abort(), often a failed assertion), core dumped"],
  ["killed", "9", "SIGKILL — killed with SIGKILL: by the OOM killer, a stop timeout, or a kill -9"],
  ["killed", "SEGV", "SIGSEGV — a segmentation fault (invalid memory access)"],
  ["killed", "64", "signal 64"],
] as const)("%s %s", (code, status, words) => {
  expect(explainExit(code, status)).toBe(words);
});

test("nothing to explain", () => {
  expect(explainExit("exited", null)).toBeNull();
  expect(explainExit("exited", "x")).toBeNull();
});

test("real captures: a unit whose executable is missing, a unit killed by SIGSEGV", async () => {
  const missing = (await triageFixture("real/unit-exec-missing.jsonl")).candidates.find((c) => c.rule === "unit-failed");
  expect(missing && describeCandidate(missing)).toContain("Main process exited: status=203/EXEC — the executable could not be run");
  const segv = (await triageFixture("real/unit-sigsegv.jsonl")).candidates.find(
    (c) => c.rule === "unit-failed" && c.unit === "lt-segv.service",
  );
  expect(segv && describeCandidate(segv)).toContain("Main process killed: SIGSEGV — a segmentation fault");
});

test("signal names from numbers or names; unknown ones are null", () => {
  expect(signalName("11")).toBe("SIGSEGV");
  expect(signalName("SEGV")).toBe("SIGSEGV");
  expect(signalName("SIGABRT")).toBe("SIGABRT");
  expect(signalName("64")).toBeNull();
});
