import { expect, test } from "bun:test";
import { join } from "node:path";
import { rulesTable } from "../scripts/rules-table.ts";

// The documentation stays true: its rule table is the rule table.
test("docs/rules.md lists exactly the built-in rules", async () => {
  const rules = await Bun.file(join(import.meta.dir, "..", "docs", "rules.md")).text();
  const section = /<!-- rules-table[^>]*-->\n([\s\S]*?)\n<!-- \/rules-table -->/.exec(rules)?.[1];
  expect(section).toBe(rulesTable());
});

test("README's example config parses, and its values are the defaults", async () => {
  const { parseConfig } = await import("../src/config/load.ts");
  const readme = await Bun.file(join(import.meta.dir, "..", "README.md")).text();
  const toml = /<!-- config-example[^>]*-->\n```toml\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(toml).toBeDefined();
  const ctx = { env: { HOME: "/home/me" }, hostname: "workstation" };
  const fromReadme = parseConfig(toml ?? "", "README.md", ctx);
  const defaults = parseConfig("", "none", ctx);
  // everything but the example custom rule is the built-in default
  const withoutCustom: typeof defaults = { ...fromReadme, rules: { ...fromReadme.rules, custom: [] } };
  expect(withoutCustom).toEqual(defaults);
  expect(fromReadme.rules.custom[0]?.name).toBe("disk-full");
});
