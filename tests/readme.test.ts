import { expect, test } from "bun:test";
import { join } from "node:path";
import { rulesTable } from "../scripts/rules-table.ts";
import { ConfigFileSchema } from "../src/config/schema.ts";

// The documentation stays true: its rule table is the rule table.
test("docs/rules.md lists exactly the built-in rules", async () => {
  const rules = await Bun.file(join(import.meta.dir, "..", "docs", "rules.md")).text();
  const section = /<!-- rules-table[^>]*-->\n([\s\S]*?)\n<!-- \/rules-table -->/.exec(rules)?.[1];
  expect(section).toBe(rulesTable());
});

test("docs/configuration.md's example config parses, and its values are the defaults", async () => {
  const { parseConfig } = await import("../src/config/load.ts");
  const doc = await Bun.file(join(import.meta.dir, "..", "docs", "configuration.md")).text();
  const toml = /<!-- config-example[^>]*-->\n```toml\n([\s\S]*?)```/.exec(doc)?.[1];
  expect(toml).toBeDefined();
  const ctx = { env: { HOME: "/home/me" }, hostname: "workstation" };
  const fromReadme = parseConfig(toml ?? "", "docs/configuration.md", ctx);
  const defaults = parseConfig("", "none", ctx);
  // everything but the example custom rule is the built-in default
  const withoutCustom: typeof defaults = { ...fromReadme, rules: { ...fromReadme.rules, custom: [] } };
  expect(withoutCustom).toEqual(defaults);
  expect(fromReadme.rules.custom[0]?.name).toBe("disk-full");
});

// A valibot schema's own shape, as far as this walk needs it.
interface SchemaNode {
  type: string;
  wrapped?: SchemaNode;
  entries?: Record<string, SchemaNode>;
  value?: SchemaNode;
  item?: SchemaNode;
}

function unwrap(node: SchemaNode): SchemaNode {
  return node.type === "optional" && node.wrapped ? unwrap(node.wrapped) : node;
}

/** Every key the config file takes, by the heading its table has in docs/configuration.md. */
function configKeys(): Map<string, string[]> {
  const tables = new Map<string, string[]>();
  for (const [table, node] of Object.entries((ConfigFileSchema as unknown as SchemaNode).entries ?? {})) {
    const inner = unwrap(node);
    if (inner.type === "record" && inner.value) {
      tables.set(`[${table}.NAME]`, Object.keys(unwrap(inner.value).entries ?? {}));
      continue;
    }
    const entries = inner.entries ?? {};
    tables.set(`[${table}]`, Object.keys(entries));
    for (const [key, child] of Object.entries(entries)) {
      const list = unwrap(child);
      if (list.type === "array" && list.item && unwrap(list.item).entries) tables.set(`[[${table}.${key}]]`, Object.keys(unwrap(list.item).entries ?? {}));
    }
  }
  return tables;
}

test("docs/configuration.md describes every setting, and only settings that exist", async () => {
  const doc = await Bun.file(join(import.meta.dir, "..", "docs", "configuration.md")).text();
  const reference = doc.slice(doc.indexOf("## Every setting"));
  const documented = new Map<string, string[]>();
  for (const part of reference.split(/^### /m).slice(1)) {
    const heading = part.slice(0, part.indexOf("\n")).trim();
    const keys: string[] = [];
    for (const row of part.matchAll(/^\| ([^|]+) \|/gm)) {
      const cell = row[1] ?? "";
      if (cell === "key" || cell.startsWith("---")) continue;
      for (const key of cell.matchAll(/`([^`]+)`/g)) keys.push(key[1] ?? "");
    }
    documented.set(heading, keys.sort());
  }
  const expected = new Map([...configKeys()].map(([table, keys]) => [table, [...keys].sort()]));
  expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(expected));
});
