import { expect, test } from "bun:test";
import { join } from "node:path";
import { rulesTable } from "../scripts/rules-table.ts";

// The README stays true: its rule table is the rule table.
test("README lists exactly the built-in rules", async () => {
  const readme = await Bun.file(join(import.meta.dir, "..", "README.md")).text();
  const section = /<!-- rules-table[^>]*-->\n([\s\S]*?)\n<!-- \/rules-table -->/.exec(readme)?.[1];
  expect(section).toBe(rulesTable());
});
