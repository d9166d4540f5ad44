import { printable, printableLines } from "./_printable.ts";
import { readFileSync } from "node:fs";
import { defineCommand } from "citty";
import { TIER_NAMES } from "../event.ts";
import { openStore } from "../store/db.ts";
import { getEvent } from "../store/events.ts";
import { commonArgs, loadCommandEnv, UsageError } from "./_context.ts";
import { parseSnapshot, type FailureSnapshot } from "../store/snapshots.ts";
import { bold, dim, snapshotLines, tierLabel } from "./_render.ts";
import { eventJson } from "../text/event-json.ts";
import { formatLocalTime } from "../text/format.ts";

/** A probe event's failure snapshot, or why it cannot be shown. */
function loadSnapshot(path: string): { snapshot: FailureSnapshot } | { problem: string } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { problem: `the failure snapshot ${path} is gone (only the newest 50 per service are kept)` };
    return { problem: `the failure snapshot ${path} cannot be read: ${code ?? String(error)}` };
  }
  try {
    return { snapshot: parseSnapshot(text, path) };
  } catch (error) {
    return { problem: error instanceof Error ? error.message : String(error) };
  }
}

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
      if (found.kind === "none")
        throw new UsageError(`no event with id "${args.id}" in ${dbPath}; list them with 'logtriage query --last 90d'`);
      if (found.kind === "ambiguous")
        throw new UsageError(`"${args.id}" matches several events (${found.ids.join(", ")}); give more of the id`);
      const e = found.event;
      // A probe's outage links its failure snapshot: shown in full, as a timeline.
      const snapshotPath = e.facts.kind === "probe" && e.facts.probe.state === "unhealthy" ? e.facts.probe.snapshotPath : null;
      const snapshot = snapshotPath ? loadSnapshot(snapshotPath) : null;
      if (args.json) {
        const snapshotJson =
          snapshot === null ? {} : "snapshot" in snapshot ? { snapshot: snapshot.snapshot } : { snapshotProblem: snapshot.problem };
        process.stdout.write(
          `${JSON.stringify({ ...eventJson(e), cursors: e.cursors, lines: e.lines, raw: e.raw[0] ?? {}, enrichment: e.enrichment, ...snapshotJson })}\n`,
        );
        return;
      }
      const out: string[] = [];
      out.push(`${bold(printable(e.summary))}`);
      out.push(`${tierLabel(e.tier)} ${TIER_NAMES[e.tier]}, ${e.severity}  [${printable(e.instanceId)}]  ${dim(e.id)}`);
      out.push(
        `Time:     ${formatLocalTime(e.timestampUs)}${e.occurrences > 1 ? `  (${e.occurrences} occurrences, last ${formatLocalTime(e.lastSeenUs)})` : ""}`,
      );
      if (e.process) out.push(`Process:  ${printable(e.process)}${e.pid === null ? "" : ` (pid ${e.pid})`}`);
      if (e.unit) out.push(`Unit:     ${printable(e.unit)}`);
      out.push(`Rule:     ${e.rule}`);
      if (e.detail) out.push("", printableLines(e.detail));
      // The numbers behind the detail's conclusions (the detail says them in words).
      for (const section of e.enrichment?.sections ?? []) {
        const evidence = Object.entries(section.evidence ?? {});
        if (evidence.length === 0) continue;
        out.push("", bold(`Evidence (${section.enricher}):`));
        for (const [key, value] of evidence)
          out.push(`  ${printable(key)}: ${printable(typeof value === "string" ? value : JSON.stringify(value))}`);
      }
      if (snapshot) out.push("", ...("snapshot" in snapshot ? snapshotLines(snapshot.snapshot) : [dim(printable(snapshot.problem))]));
      if (e.lines.length > 1) {
        out.push("", bold(`Log lines (${e.lines.length}):`));
        for (const line of e.lines) out.push(`  ${printable(line)}`);
      }
      const raw = e.raw[0] ?? {};
      const keys = Object.keys(raw).sort();
      if (keys.length) {
        out.push("", bold("Raw fields:"));
        for (const k of keys) out.push(`  ${printable(k)}=${printable(raw[k] ?? "")}`);
      }
      console.log(out.join("\n"));
    } finally {
      db.close();
    }
  },
});
