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
      if (list.type === "array" && list.item && unwrap(list.item).entries)
        tables.set(`[[${table}.${key}]]`, Object.keys(unwrap(list.item).entries ?? {}));
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

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/`/g, "")
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .trim()
    .replace(/\s/g, "-");
}

/** The anchors a Markdown file's headings get (outside code blocks), with GitHub's -1, -2 for repeats. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of withoutCode(markdown).split("\n")) {
    const heading = /^#{1,6} (.+)$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

function withoutCode(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "``");
}

test("every relative link in the README and docs/ leads to a file and heading that exist", async () => {
  const { existsSync, readdirSync } = await import("node:fs");
  const { dirname, resolve } = await import("node:path");
  const root = join(import.meta.dir, "..");
  const files = [
    "README.md",
    ...readdirSync(join(root, "docs"))
      .filter((f) => f.endsWith(".md"))
      .map((f) => `docs/${f}`),
  ];
  const broken: string[] = [];
  let checked = 0;
  for (const file of files) {
    const text = await Bun.file(join(root, file)).text();
    for (const link of withoutCode(text).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = link[1] ?? "";
      if (/^[a-z]+:/i.test(target)) continue;
      checked++;
      const [path = "", anchor] = target.split("#");
      const resolved = path === "" ? join(root, file) : resolve(dirname(join(root, file)), path);
      if (!resolved.startsWith(root + "/")) broken.push(`${file}: ${target} leaves the repository`);
      else if (!existsSync(resolved)) broken.push(`${file}: ${target}: no such file`);
      else if (anchor !== undefined && !anchors(await Bun.file(resolved).text()).has(anchor))
        broken.push(`${file}: ${target}: no such heading`);
    }
    if (text.includes("../shared")) broken.push(`${file}: mentions ../shared, which is outside the repository`);
  }
  expect(checked).toBeGreaterThan(20);
  expect(broken).toEqual([]);
});
