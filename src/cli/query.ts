import { printable } from "./_printable.ts";
import { defineCommand } from "citty";
import { isTier, type Tier } from "../event.ts";
import { parseDuration } from "../config/duration.ts";
import { openStore } from "../store/db.ts";
import { countEvents, queryEvents } from "../store/events.ts";
import { commonArgs, loadCommandEnv, repeatedOption, UsageError } from "./_context.ts";
import { dim, eventLine } from "./_render.ts";
import { eventJson } from "../text/event-json.ts";
import type { Database } from "bun:sqlite";
import { isServiceName, listSnapshots, readSnapshot, snapshotsDir } from "../store/snapshots.ts";

// Events stored by probes carry their service only in their facts; a service's events are
// few (two per outage), so they are picked from the period's events here rather than by a
// column of their own.
const SCAN_LIMIT = 100_000;

function queryService(
  db: Database,
  dbPath: string,
  service: string,
  o: { sinceUs: number; last: string; limit: number; json: boolean },
): void {
  const events = queryEvents(db, { sinceUs: o.sinceUs, tiers: ["T3"], limit: SCAN_LIMIT })
    .filter((e) => e.facts.kind === "probe" && e.facts.probe.service === service)
    .slice(0, o.limit);
  const dir = snapshotsDir(dbPath);
  const snapshots = listSnapshots(dir, service, o.limit);
  if (o.json) {
    for (const e of events) process.stdout.write(`${JSON.stringify(eventJson(e))}\n`);
    for (const t of snapshots) process.stdout.write(`${JSON.stringify({ snapshot: t, service, path: `${dir}/${service}/${t}.json` })}\n`);
    return;
  }
  if (events.length === 0) console.log(dim(`No health-probe events for ${service} in the last ${o.last}.`));
  for (const e of events) console.log(eventLine(e));
  if (snapshots.length === 0) {
    console.log(dim(`No failure snapshots for ${service} in ${dir}.`));
    return;
  }
  console.log("", `Failure snapshots of ${service} (newest first, ${dir}/${service}/):`);
  for (const t of snapshots) {
    let line: string;
    try {
      const s = readSnapshot(dir, service, t);
      line = s ? `${s.check.outcome === "status" ? `HTTP ${s.check.status}` : (s.check.error ?? s.check.outcome)} · ${s.summary}` : "gone";
    } catch (error) {
      line = error instanceof Error ? error.message : String(error);
    }
    console.log(`  ${printable(t)}  ${printable(line)}`);
  }
  console.log(dim(`The timeline: logtriage show ID (of a 'Service unhealthy' event)`));
}

export const queryCommand = defineCommand({
  meta: { name: "query", description: "Show recent events (last 24h by default), newest first" },
  args: {
    ...commonArgs,
    last: { type: "string", description: "How far back: 30m, 24h, 7d, 90d", default: "24h", valueHint: "DURATION" },
    tier: { type: "string", description: "Only these tiers (repeatable, or a comma list): T1..T5", valueHint: "TIER" },
    instance: { type: "string", description: "Only this instance id", valueHint: "ID" },
    process: { type: "string", description: "Only events about this process name", valueHint: "NAME" },
    unit: { type: "string", description: "Only events about this systemd unit", valueHint: "UNIT" },
    service: { type: "string", description: "A [services.NAME] health probe: its events and failure snapshots", valueHint: "NAME" },
    limit: { type: "string", description: "At most this many events", default: "50", valueHint: "N" },
    json: { type: "boolean", description: "One JSON object per line" },
  },
  run({ args, rawArgs }) {
    const lastMs = parseDuration(args.last);
    if (lastMs === null) throw new UsageError(`--last: expected a duration like 30m, 24h or 7d, got "${args.last}"`);
    const tiers = repeatedOption(rawArgs, "tier").map((t) => t.toUpperCase());
    const badTier = tiers.find((t) => !isTier(t));
    if (badTier) throw new UsageError(`--tier: expected T1, T2, T3, T4 or T5, got "${badTier}"`);
    const limit = Number(args.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: expected a positive whole number, got "${args.limit}"`);

    if (args.service !== undefined && !isServiceName(args.service))
      throw new UsageError(
        `--service: expected a service name of letters, digits, "_" and "-" as in [services.NAME], got "${args.service}"`,
      );

    const { dbPath } = loadCommandEnv(args);
    const db = openStore(dbPath, { readonly: true });
    try {
      if (args.service !== undefined) {
        queryService(db, dbPath, args.service, { sinceUs: (Date.now() - lastMs) * 1000, last: args.last, limit, json: Boolean(args.json) });
        return;
      }
      const filter = {
        sinceUs: (Date.now() - lastMs) * 1000,
        tiers: tiers as Tier[],
        instance: args.instance,
        process: args.process,
        unit: args.unit,
      };
      const events = queryEvents(db, { ...filter, limit });
      if (args.json) {
        for (const e of events) process.stdout.write(`${JSON.stringify(eventJson(e))}\n`);
        return;
      }
      if (events.length === 0) {
        console.log(dim(`No events in the last ${args.last}${tiers.length ? ` for ${tiers.join(", ")}` : ""}.`));
        return;
      }
      for (const e of events) console.log(eventLine(e));
      if (events.length === limit) {
        const total = countEvents(db, filter);
        if (total > limit) console.log(dim(`… ${total - limit} more; use --limit or narrow with --tier / --last.`));
      }
      console.log(dim(`Details: logtriage show ID`));
    } finally {
      db.close();
    }
  },
});
