// Prints the built-in rule table as Markdown for docs/rules.md:
//   bun scripts/rules-table.ts
// tests/readme.test.ts checks that docs/rules.md holds exactly this table.
import { BUILTIN_RULES } from "../src/classify/rules.ts";

export function rulesTable(): string {
  const rows = BUILTIN_RULES.map(
    (r) => `| \`${r.name}\` | ${r.tier ?? "—"} | ${r.tier ? r.severity : "not an event"} | ${r.group} | ${r.doc.replaceAll("|", "\\|")} |`,
  );
  return ["| rule | tier | severity | group | matches |", "|---|---|---|---|---|", ...rows].join("\n");
}

if (import.meta.main) console.log(rulesTable());
