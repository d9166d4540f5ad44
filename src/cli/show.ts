import { defineCommand } from "citty";
import { TIER_NAMES } from "../event.ts";
import { openStore } from "../store/db.ts";
import { getEvent } from "../store/events.ts";
import { commonArgs, loadCommandEnv, UsageError } from "./_context.ts";
import { bold, dim, eventJson, formatLocalTime, tierLabel } from "./_render.ts";

export const showCommand = defineCommand({
  meta: { name: "show", description: "Show one event with its full detail, report lines and raw fields" },
  args: {
    ...commonArgs,
    id: { type: "positional", description: "Event id, or a unique prefix of it (as printed by query)", required: true },
    json: { type: "boolean", description: "As one JSON object" },
  },
  run({ args }) {
    const { dbPath } = loadCommandEnv(args);
    const db = openStore(dbPath, { readonly: true });
    try {
      const found = getEvent(db, args.id);
      if (found.kind === "none") throw new UsageError(`no event with id "${args.id}" in ${dbPath}; list them with 'logtriage query --last 90d'`);
      if (found.kind === "ambiguous") throw new UsageError(`"${args.id}" matches several events (${found.ids.join(", ")}); give more of the id`);
      const e = found.event;
      if (args.json) {
        process.stdout.write(`${JSON.stringify({ ...eventJson(e), cursors: e.cursors, lines: e.lines, raw: e.raw[0] ?? {}, enrichment: e.enrichment })}\n`);
        return;
      }
      const out: string[] = [];
      out.push(`${bold(e.summary)}`);
      out.push(`${tierLabel(e.tier)} ${TIER_NAMES[e.tier]}, ${e.severity}  [${e.instanceId}]  ${dim(e.id)}`);
      out.push(`Time:     ${formatLocalTime(e.timestampUs)}${e.occurrences > 1 ? `  (${e.occurrences} occurrences, last ${formatLocalTime(e.lastSeenUs)})` : ""}`);
      if (e.process) out.push(`Process:  ${e.process}${e.pid === null ? "" : ` (pid ${e.pid})`}`);
      if (e.unit) out.push(`Unit:     ${e.unit}`);
      out.push(`Rule:     ${e.rule}`);
      if (e.detail) out.push("", e.detail);
      // The numbers behind the detail's conclusions (the detail says them in words).
      for (const section of e.enrichment?.sections ?? []) {
        const evidence = Object.entries(section.evidence ?? {});
        if (evidence.length === 0) continue;
        out.push("", bold(`Evidence (${section.enricher}):`));
        for (const [key, value] of evidence) out.push(`  ${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
      }
      if (e.lines.length > 1) {
        out.push("", bold(`Log lines (${e.lines.length}):`));
        for (const line of e.lines) out.push(`  ${line}`);
      }
      const raw = e.raw[0] ?? {};
      const keys = Object.keys(raw).sort();
      if (keys.length) {
        out.push("", bold("Raw fields:"));
        for (const k of keys) out.push(`  ${k}=${(raw[k] ?? "").replace(/\n/g, "\\n")}`);
      }
      console.log(out.join("\n"));
    } finally {
      db.close();
    }
  },
});
