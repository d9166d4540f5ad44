import { defineCommand } from "citty";
import { parseDuration } from "../config/duration.ts";
import { muteHolds, formatLasted, type Incident } from "../incidents/lifecycle.ts";
import { incidentJson } from "../incidents/json.ts";
import { openStore } from "../store/db.ts";
import { getIncident, incidentEventIds, queryIncidents, setMute } from "../store/incidents.ts";
import { recordSilences, silencedIncidents } from "../store/alertmanager-sync.ts";
import { alertmanagerClient } from "../notify/alertmanager.ts";
import { NotifyError } from "../notify/notifier.ts";
import { commonArgs, loadCommandEnv, UsageError } from "./_context.ts";
import { bold, dim, tierLabel } from "./_render.ts";
import { formatLocalTime } from "../text/format.ts";

// `logtriage incidents`, `mute ID [--for 24h]`, `unmute ID`. A mute silences an incident's
// notifications until its severity rises or it becomes a loop, or its time runs out; the
// incident is still stored, updated and counted in the digest. With [alertmanager] set, mute
// also creates a silence there, and an incident Alertmanager reports silenced (by anyone) is
// shown muted.

/** How long an Alertmanager silence made by `mute` without --for lasts: silences must end. */
const ALERTMANAGER_SILENCE_DEFAULT_MS = 30 * 86_400_000;

function line(i: Incident, nowUs: number, silenced: boolean): string {
  const state = i.state === "open" ? bold("open") : dim(`resolved after ${formatLasted((i.resolvedUs ?? i.lastSeenUs) - i.firstSeenUs)}`);
  const muted = muteHolds(i, nowUs) ? ` ${dim("[muted]")}` : silenced ? ` ${dim("[silenced in Alertmanager]")}` : "";
  const count = i.occurrences > 1 ? ` ×${i.occurrences}` : "";
  return `${dim(i.id)}  ${formatLocalTime(i.firstSeenUs)}  ${tierLabel(i.tier)} ${state}${muted}  ${i.summary}${count}`;
}

export const incidentsCommand = defineCommand({
  meta: {
    name: "incidents",
    description: "List incidents: each one thing going wrong (a unit, a probe, a disk, a program), with its events",
  },
  args: {
    ...commonArgs,
    open: { type: "boolean", description: "Only incidents still open" },
    last: {
      type: "string",
      description: "Active within: 30m, 24h, 7d, 90d (open ones are always listed)",
      default: "7d",
      valueHint: "DURATION",
    },
    json: { type: "boolean", description: "One JSON object per line" },
    limit: { type: "string", description: "At most this many", default: "100", valueHint: "N" },
  },
  run({ args }) {
    const lastMs = parseDuration(args.last);
    if (lastMs === null) throw new UsageError(`--last: expected a duration like 30m, 24h or 7d, got "${args.last}"`);
    const limit = Number(args.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: expected a whole number of at least 1, got "${args.limit}"`);
    const { dbPath } = loadCommandEnv(args);
    const db = openStore(dbPath, { readonly: true });
    try {
      const nowUs = Date.now() * 1000;
      const list = queryIncidents(db, { sinceUs: nowUs - lastMs * 1000, openOnly: Boolean(args.open), limit });
      const silenced = silencedIncidents(db);
      if (args.json) {
        for (const i of list)
          process.stdout.write(`${JSON.stringify(incidentJson(i, nowUs, incidentEventIds(db, i.id), silenced.get(i.id) ?? []))}\n`);
        return;
      }
      if (list.length === 0) {
        console.log(args.open ? "No open incidents." : `No incidents in the last ${args.last}.`);
        return;
      }
      for (const i of list) console.log(line(i, nowUs, silenced.has(i.id)));
    } finally {
      db.close();
    }
  },
});

function findOrFail(db: ReturnType<typeof openStore>, id: string, dbPath: string): Incident {
  const found = getIncident(db, id);
  if (found.kind === "none") throw new UsageError(`no incident with id "${id}" in ${dbPath}; list them with 'logtriage incidents'`);
  if (found.kind === "ambiguous") throw new UsageError(`"${id}" matches several incidents (${found.ids.join(", ")}); give more of the id`);
  return found.incident;
}

export const muteCommand = defineCommand({
  meta: { name: "mute", description: "Silence an incident's notifications until it changes (severity, becoming a loop) or --for runs out" },
  args: {
    ...commonArgs,
    id: { type: "positional", description: "Incident id, or a unique prefix of it (as printed by 'logtriage incidents')", required: true },
    for: {
      type: "string",
      description: "Also end the mute after this long: 1h, 24h, 7d (default: only when the incident changes)",
      valueHint: "DURATION",
    },
  },
  async run({ args }) {
    const forMs = args.for === undefined ? null : parseDuration(args.for);
    if (args.for !== undefined && (forMs === null || forMs <= 0))
      throw new UsageError(`--for: expected a duration like 1h, 24h or 7d, got "${args.for}"`);
    const { dbPath, config } = loadCommandEnv(args);
    const db = openStore(dbPath);
    try {
      const inc = findOrFail(db, args.id, dbPath);
      const nowUs = Date.now() * 1000;
      setMute(db, inc.id, { untilUs: forMs === null ? null : nowUs + forMs * 1000, severity: inc.severity, loop: inc.loop });
      const until =
        forMs === null
          ? "until its severity rises or it becomes a loop"
          : `for ${args.for} (until ${formatLocalTime(nowUs + forMs * 1000)}), or until it changes`;
      console.log(`Muted ${inc.id} (${inc.summary}) ${until}. It is still stored and counted in the digest.`);
      const client = alertmanagerClient(config.alertmanager);
      if (client) {
        // The silence matches the incident's alert at its current severity: a higher severity
        // is another label set, which the silence no longer covers, as the local mute ends.
        const endsMs = Date.now() + (forMs ?? ALERTMANAGER_SILENCE_DEFAULT_MS);
        const matchers = [
          { name: "instance", value: inc.instanceId, isRegex: false, isEqual: true },
          { name: "incident", value: inc.id, isRegex: false, isEqual: true },
          { name: "severity", value: inc.severity, isRegex: false, isEqual: true },
        ];
        const id = await client
          .createSilence(
            {
              matchers,
              startsAt: new Date(),
              endsAt: new Date(endsMs),
              createdBy: `logtriage mute (${inc.instanceId})`,
              comment: inc.summary,
            },
            AbortSignal.timeout(config.alertmanager.timeoutMs),
          )
          .catch((error: unknown) => {
            const reason = error instanceof Error ? error.message : String(error);
            throw new NotifyError(
              `muted here, but Alertmanager has no silence for it (${reason}); run 'logtriage mute ${inc.id}' again when it answers`,
              { status: null, retryable: true, cause: error },
            );
          });
        recordSilences(db, inc.id, [id]);
        console.log(
          `Silenced in Alertmanager (${client.urls[0]}): silence ${id}, until ${formatLocalTime(endsMs * 1000)} or a higher severity.`,
        );
      }
    } finally {
      db.close();
    }
  },
});

export const unmuteCommand = defineCommand({
  meta: { name: "unmute", description: "Let a muted incident notify again" },
  args: {
    ...commonArgs,
    id: { type: "positional", description: "Incident id, or a unique prefix of it", required: true },
  },
  run({ args }) {
    const { dbPath } = loadCommandEnv(args);
    const db = openStore(dbPath);
    try {
      const inc = findOrFail(db, args.id, dbPath);
      setMute(db, inc.id, null);
      console.log(inc.mute === null ? `${inc.id} was not muted.` : `Unmuted ${inc.id} (${inc.summary}).`);
    } finally {
      db.close();
    }
  },
});
