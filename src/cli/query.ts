import { defineCommand } from "citty";
import { isTier, type Tier } from "../event.ts";
import { parseDuration } from "../config/duration.ts";
import { openStore } from "../store/db.ts";
import { countEvents, queryEvents } from "../store/events.ts";
import { commonArgs, loadCommandEnv, repeatedOption, UsageError } from "./_context.ts";
import { dim, eventJson, eventLine } from "./_render.ts";

export const queryCommand = defineCommand({
  meta: { name: "query", description: "Show recent events (last 24h by default), newest first" },
  args: {
    ...commonArgs,
    last: { type: "string", description: "How far back: 30m, 24h, 7d, 90d", default: "24h", valueHint: "DURATION" },
    tier: { type: "string", description: "Only these tiers (repeatable, or a comma list): T1..T5", valueHint: "TIER" },
    instance: { type: "string", description: "Only this instance id", valueHint: "ID" },
    process: { type: "string", description: "Only events about this process name", valueHint: "NAME" },
    unit: { type: "string", description: "Only events about this systemd unit", valueHint: "UNIT" },
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

    const { dbPath } = loadCommandEnv(args);
    const db = openStore(dbPath, { readonly: true });
    try {
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
