import { expect, test } from "bun:test";
import { fuzzParsers, loadCorpus } from "../../scripts/fuzz-parsers.ts";

// Every parser of outside text under the seeded fuzzer (scripts/fuzz-parsers.ts): journal JSON
// with any JSON value in any field, kmsg, dmesg/syslog, OOM report assembly, coredumpctl,
// smartctl, systemctl show and the config file. A finding prints the parser, the round and the
// input; `FUZZ_SEED=<seed> FUZZ_ITERATIONS=<n> bun scripts/fuzz-parsers.ts` reproduces it. The
// long run is in `bun run bench`.

test("1,500 fuzzed rounds over every parser, fixed seed: nothing throws but the config's ConfigError", async () => {
  const corpus = loadCorpus();
  // Each part of the corpus must be there, or the round would fuzz nothing for that parser.
  for (const [name, texts] of Object.entries(corpus)) expect({ name, n: texts.length > 0 }).toEqual({ name, n: true });
  const result = await fuzzParsers(0x5eed, 1500, corpus);
  expect(result.calls).toBeGreaterThan(100_000);
  expect(result.findings.slice(0, 5)).toEqual([]);
});
