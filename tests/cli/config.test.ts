import { afterAll, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fixturePath } from "../_fixtures.ts";
import { cli, jsonLines, sandbox } from "./_run.ts";

const box = sandbox();
afterAll(() => rmSync(box.home, { recursive: true, force: true }));

test("the default config file is read: instance id, a custom rule, a disabled rule and a typo warning", () => {
  writeFileSync(
    join(box.configDir, "config.toml"),
    `[instance]
id = "nas-01"
role = "nas"

[rules]
disable = ["kernel-segfault", "kernel-segfualt"]

[[rules.custom]]
name = "python-crash-note"
tier = "T3"
pattern = 'segfault at (?<address>\\S+) ip'
transport = "kernel"
summary = "segfault at address {address}"
`,
  );
  const r = cli(box, ["replay", fixturePath("real/segfault-python.jsonl"), "--json"]);
  expect(r.code).toBe(0);
  const events = jsonLines(r.stdout).filter((e) => e["tier"] !== "T1");
  expect(events.map((e) => [e["rule"], e["summary"]])).toEqual([["python-crash-note", "segfault at address 0"]]);
  expect(r.stderr).toContain('rules.disable: no rule named "kernel-segfualt"');
  const status = JSON.parse(cli(box, ["status", "--json"]).stdout) as { instance: string; role: string; config: string };
  expect([status.instance, status.role, status.config]).toEqual(["nas-01", "nas", join(box.configDir, "config.toml")]);
});

test("a broken config file: file:line:col, exit 2, one line, no stack trace", () => {
  const path = join(box.home, "broken.toml");
  writeFileSync(path, '[ntfy]\nurl = "https://ntfy.sh/x"\nalert_tiers = ["T1",\n');
  const r = cli(box, ["query", "--config", path]);
  expect(r.code).toBe(2);
  expect(r.stderr).toStartWith(`logtriage: ${path}:4:1: invalid TOML`);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
});

test("--config naming a missing file is an error, not zero config", () => {
  const r = cli(box, ["status", "--config", join(box.home, "nope.toml")]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("config file not found");
});
