import { existsSync, statSync } from "node:fs";
import { defineCommand } from "citty";
import { TIERS, TIER_NAMES, type Tier } from "../event.ts";
import { readMemoryPsi } from "../sources/proc-files.ts";
import { openStore } from "../store/db.ts";
import { countEvents, queryEvents } from "../store/events.ts";
import { formatKb } from "../size.ts";
import { commonArgs, loadCommandEnv } from "./_context.ts";
import { formatLocalTime, isoTime } from "./_render.ts";

const DAY_US = 86_400_000_000;

function ago(us: number, nowUs: number): string {
  const s = Math.max(0, Math.round((nowUs - us) / 1_000_000));
  if (s < 90) return `${s}s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)}m ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

export const statusCommand = defineCommand({
  meta: { name: "status", description: "Instance, configuration, event database, last event, 24h counts per tier, PSI memory" },
  args: {
    ...commonArgs,
    json: { type: "boolean", description: "As one JSON object" },
  },
  run({ args }) {
    const env = loadCommandEnv(args);
    const { config } = env;
    const nowUs = Date.now() * 1000;
    const psi = readMemoryPsi();
    const counts: Record<Tier, number> = { T1: 0, T2: 0, T3: 0, T4: 0, T5: 0 };
    let last: ReturnType<typeof queryEvents>[number] | null = null;
    const dbExists = existsSync(env.dbPath);
    if (dbExists) {
      const db = openStore(env.dbPath, { readonly: true });
      try {
        for (const tier of TIERS) counts[tier] = countEvents(db, { sinceUs: nowUs - DAY_US, tiers: [tier] });
        last = queryEvents(db, { sinceUs: 0, limit: 1 })[0] ?? null;
      } finally {
        db.close();
      }
    }
    const dbSizeKb = dbExists ? Math.round(statSync(env.dbPath).size / 1024) : null;
    if (args.json) {
      const out = {
        instance: config.instance.id,
        role: config.instance.role,
        config: env.configPath,
        db: { path: env.dbPath, exists: dbExists, size_kb: dbSizeKb },
        last_event: last && { id: last.id, tier: last.tier, summary: last.summary, timestamp: isoTime(last.timestampUs) },
        events_24h: counts,
        psi_memory: psi && { some_avg10: psi.some.avg10, full_avg10: psi.full?.avg10 ?? null },
        notifications: config.ntfy.url ? "ntfy" : "off",
      };
      process.stdout.write(`${JSON.stringify(out)}\n`);
      return;
    }
    const psiText = psi
      ? `some=${psi.some.avg10.toFixed(1)}% full=${(psi.full?.avg10 ?? 0).toFixed(1)}% (${psi.some.avg10 >= config.psi.warnSomeAvg10 || (psi.full?.avg10 ?? 0) >= config.psi.warnFullAvg10 ? "under pressure" : "healthy"})`
      : "unavailable (kernel without PSI: needs Linux 4.20+ with CONFIG_PSI)";
    const lines = [
      `Instance:     ${config.instance.id}`,
      `Role:         ${config.instance.role}`,
      `Config:       ${env.configPath ?? "built-in defaults (no config file)"}`,
      `Database:     ${env.dbPath}${dbExists ? ` (${formatKb(dbSizeKb)})` : " (not created yet)"}`,
      `Last event:   ${last ? `[${last.tier}] ${last.summary} — ${ago(last.timestampUs, nowUs)} (${formatLocalTime(last.timestampUs)})` : "none"}`,
      `Events (24h): ${TIERS.map((t) => `${counts[t]} ${TIER_NAMES[t]}`).join(", ")}`,
      `PSI memory:   ${psiText}`,
      `Alerts:       ${config.ntfy.url ? `ntfy (${config.ntfy.alertTiers.join(", ")})` : "off (set [ntfy] url)"}`,
    ];
    console.log(lines.join("\n"));
  },
});
