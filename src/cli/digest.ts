import { resolve } from "node:path";
import { Redactor } from "../text/redact.ts";
import { defineCommand } from "citty";
import { parseDuration } from "../config/duration.ts";
import { defaultConfigPath } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { buildDigest, digestText, orderInstances, splitDigest, type DigestEvent } from "../notify/digest.ts";
import { NotifyError } from "../notify/notifier.ts";
import { NtfyNotifier } from "../notify/ntfy.ts";
import { NTFY_TOPIC, parseNtfyUrl } from "../parse/ntfy-url.ts";
import { openStore } from "../store/db.ts";
import { eventsBetween, instancesIn } from "../store/digest-read.ts";
import { fingerprintsBefore, incidentsOverlapping } from "../store/incidents.ts";
import type { Incident } from "../incidents/lifecycle.ts";
import { countIncidents, digestPeriod, type IncidentCounts } from "../incidents/period.ts";
import { commonArgs, loadCommandEnv, repeatedOption, UsageError } from "./_context.ts";

// `logtriage digest [--since 7d] [--until DATE] [--db PATH ...] [--send]`: the weekly summary,
// printed, and with --send posted to ntfy at low priority. Several --db merge the databases
// of several instances (copied or on a network mount) into one digest: several machines in one
// report without a federation protocol, since reading SQLite files is all it takes.

type NtfyConfig = Config["ntfy"];

/** ntfy's "low" (docs.ntfy.sh/publish/#message-priority): a digest should not buzz. */
const DIGEST_PRIORITY = 2;
const DIGEST_TAGS = ["chart"];

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * A --since / --until value in milliseconds since the epoch, or null when it is not one:
 * a duration ("7d": that long before now), a date ("2026-02-10": local midnight — for
 * --until the midnight after, so the day named is included), or a date and time
 * ("2026-02-10T09:00" local, or with Z / an offset).
 */
export function parseTimeBound(text: string, nowMs: number, bound: "since" | "until"): number | null {
  const input = text.trim();
  const durationMs = parseDuration(input);
  if (durationMs !== null) return nowMs - durationMs;
  const date = DATE_ONLY.exec(input);
  if (date) {
    const [year, month, day] = [Number(date[1]), Number(date[2]), Number(date[3])];
    const local = new Date(year, month - 1, day);
    // Date rolls 2026-02-30 over into March; a date that does not round-trip does not exist.
    if (local.getFullYear() !== year || local.getMonth() !== month - 1 || local.getDate() !== day) return null;
    return bound === "until" ? new Date(year, month - 1, day + 1).getTime() : local.getTime();
  }
  if (DATE_TIME.test(input)) {
    // Without an offset, ECMAScript reads a date-time form as local time.
    const ms = Date.parse(input.replace(" ", "T"));
    return Number.isNaN(ms) ? null : ms;
  }
  return null;
}

/**
 * Where the digest goes, as an [ntfy] table for NtfyNotifier, or a message saying what to
 * fix. [digest] topic "" is [ntfy] url itself; a bare topic name replaces the topic of
 * [ntfy] url on the same server; a full URL is used as it is. The [ntfy] credentials go
 * only to [ntfy] url's own server: a token for one server is not sent to another.
 */
export function digestNtfyConfig(ntfy: NtfyConfig, digestTopic: string, configFile: string): NtfyConfig | { error: string } {
  const topic = digestTopic.trim();
  const alerts = ntfy.url === "" ? null : parseNtfyUrl(ntfy.url);
  if (topic !== "" && !NTFY_TOPIC.test(topic)) {
    const own = parseNtfyUrl(topic);
    if (own === null) {
      return {
        error: `[digest] topic ${JSON.stringify(topic)} in ${configFile} is neither a topic name (1 to 64 letters, digits, "_" or "-") nor an ntfy topic URL like "https://ntfy.sh/my-topic"`,
      };
    }
    if (alerts !== null && alerts.serverUrl === own.serverUrl) return { ...ntfy, url: `${own.serverUrl}/${own.topic}` };
    return { ...ntfy, url: `${own.serverUrl}/${own.topic}`, token: null, tokenFile: null, user: null, password: null };
  }
  if (alerts === null) {
    const what = topic === "" ? "" : ` ([digest] topic ${JSON.stringify(topic)} is a topic name on [ntfy] url's server)`;
    return { error: `no ntfy topic configured: set [ntfy] url in ${configFile}, e.g. url = "https://ntfy.sh/my-topic"${what}` };
  }
  return { ...ntfy, url: `${alerts.serverUrl}/${topic === "" ? alerts.topic : topic}` };
}

interface Gathered {
  events: DigestEvent[];
  previousEvents: DigestEvent[];
  /** Instance → its oldest stored event's time (null: none stored), over all databases. */
  instances: Map<string, number | null>;
  /** Databases that name no instance at all: no events ever, no daemon row. */
  silent: string[];
}

function gather(paths: readonly string[], sinceUs: number, untilUs: number, previousSinceUs: number): Gathered {
  const seen = new Set<string>();
  const out: Gathered = { events: [], previousEvents: [], instances: new Map(), silent: [] };
  // A database given twice, or a copy beside its original, must not count its events twice.
  const fresh = (e: DigestEvent) => {
    const key = `${e.instanceId}\n${e.id}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
  for (const path of paths) {
    const db = openStore(path, { readonly: true });
    try {
      out.events.push(...eventsBetween(db, sinceUs, untilUs).filter(fresh));
      out.previousEvents.push(...eventsBetween(db, previousSinceUs, sinceUs).filter(fresh));
      const records = instancesIn(db);
      if (records.length === 0) out.silent.push(path);
      for (const r of records) {
        const known = out.instances.get(r.instanceId);
        const first =
          known === undefined || known === null ? r.firstEventUs : r.firstEventUs === null ? known : Math.min(known, r.firstEventUs);
        out.instances.set(r.instanceId, first);
      }
    } finally {
      db.close();
    }
  }
  return out;
}

/** Each instance's incidents this period and (where it was watched all through it) the one before. */
function incidentCountsOf(
  paths: readonly string[],
  sinceUs: number,
  untilUs: number,
  previousSinceUs: number,
  watched: ReadonlySet<string>,
): Map<string, { now: IncidentCounts; before: IncidentCounts | null }> {
  const rows: Incident[] = [];
  const earlierNow = new Set<string>();
  const earlierBefore = new Set<string>();
  for (const path of paths) {
    const db = openStore(path, { readonly: true });
    try {
      rows.push(...incidentsOverlapping(db, previousSinceUs, untilUs));
      for (const f of fingerprintsBefore(db, sinceUs)) earlierNow.add(f);
      for (const f of fingerprintsBefore(db, previousSinceUs)) earlierBefore.add(f);
    } finally {
      db.close();
    }
  }
  const out = new Map<string, { now: IncidentCounts; before: IncidentCounts | null }>();
  const instances = new Set(rows.map((r) => r.instanceId));
  for (const id of instances) {
    const mine = rows.filter((r) => r.instanceId === id);
    const strip = (set: Set<string>) => new Set([...set].filter((f) => f.startsWith(`${id}\t`)).map((f) => f.slice(id.length + 1)));
    out.set(id, {
      now: countIncidents(mine, strip(earlierNow), sinceUs, untilUs),
      before: watched.has(id) ? countIncidents(mine, strip(earlierBefore), previousSinceUs, sinceUs) : null,
    });
  }
  return out;
}

export const digestCommand = defineCommand({
  meta: { name: "digest", description: "Print the weekly digest (events per instance and tier); --send posts it to ntfy" },
  args: {
    ...commonArgs,
    db: {
      type: "string",
      description: "Event database; repeat (or a comma list) to merge several instances' databases (default: [db] path)",
      valueHint: "PATH",
    },
    since: {
      type: "string",
      description:
        "Start: a duration back from now (7d) or a date (2026-02-10, local); default one period of [digest] schedule (7d weekly, 1d daily)",
      valueHint: "DURATION|DATE",
    },
    until: {
      type: "string",
      description: "End (exclusive): a date (2026-02-16 includes that day), a date and time, or a duration back from now; default now",
      valueHint: "DATE",
    },
    send: { type: "boolean", description: "Also send it to ntfy ([digest] topic, else [ntfy] url), low priority" },
    json: { type: "boolean", description: "As one JSON object: the period, the text, and each instance's incident counts" },
  },
  async run({ args, rawArgs }) {
    const nowMs = Date.now();
    const env = loadCommandEnv(args);
    const period = digestPeriod(env.config.digest.schedule);
    const since = args.since ?? `${period.days}d`;
    const sinceMs = parseTimeBound(since, nowMs, "since");
    if (sinceMs === null) throw new UsageError(`--since: expected a duration like 7d or a date like 2026-02-10, got "${since}"`);
    const untilMs = args.until === undefined ? nowMs : parseTimeBound(args.until, nowMs, "until");
    if (untilMs === null)
      throw new UsageError(`--until: expected a date like 2026-02-16, a date and time, or a duration like 1d, got "${args.until}"`);
    if (sinceMs >= untilMs)
      throw new UsageError(`--since (${new Date(sinceMs).toISOString()}) must be before --until (${new Date(untilMs).toISOString()})`);

    let target: NtfyConfig | null = null;
    if (args.send) {
      const resolved = digestNtfyConfig(env.config.ntfy, env.config.digest.topic, env.configPath ?? defaultConfigPath(process.env));
      if ("error" in resolved) throw new UsageError(resolved.error);
      target = resolved;
    }

    const dbPaths = [...new Set(repeatedOption(rawArgs, "db").map((p) => resolve(p)))];
    const paths = dbPaths.length > 0 ? dbPaths : [env.dbPath];
    const [sinceUs, untilUs] = [sinceMs * 1000, untilMs * 1000];
    const previousSinceUs = sinceUs - (untilUs - sinceUs);
    const gathered = gather(paths, sinceUs, untilUs, previousSinceUs);
    if (gathered.silent.length > 0) {
      if (paths.length === 1) gathered.instances.set(env.config.instance.id, null);
      else
        for (const path of gathered.silent)
          console.error(`logtriage: ${path} holds no events and no daemon record, so no instance to show for it`);
    }
    // Only instances with an event stored from before the previous period began were
    // watched all through it; for the others a "0 last week" would mean "not yet installed".
    const watched = new Set(
      [...gathered.instances].filter(([, firstUs]) => firstUs !== null && firstUs < previousSinceUs).map(([id]) => id),
    );
    const incidents = incidentCountsOf(paths, sinceUs, untilUs, previousSinceUs, watched);
    const digest = buildDigest({
      sinceUs,
      untilUs,
      instances: orderInstances(gathered.instances.keys(), env.config.instance.id),
      events: gathered.events,
      previous: { events: gathered.previousEvents, instances: watched },
      incidents,
      periodWord: args.since === undefined ? period.word : "weekly",
    });
    if (args.json) {
      const perInstance = Object.fromEntries([...incidents].map(([id, c]) => [id, { ...c.now, previous: c.before }]));
      process.stdout.write(
        `${JSON.stringify({ title: digest.title, since: new Date(sinceMs).toISOString(), until: new Date(untilMs).toISOString(), text: digestText(digest), incidents: perInstance })}\n`,
      );
    } else process.stdout.write(`${digest.title}\n\n${digestText(digest)}\n`);
    if (target === null) return;

    const notifier = new NtfyNotifier(target, new Redactor(env.config.redact));
    const parts = splitDigest(digest);
    const signal = new AbortController().signal;
    for (const [i, part] of parts.entries()) {
      try {
        await notifier.send(
          { title: part.title, message: part.message, priority: DIGEST_PRIORITY, tags: DIGEST_TAGS, click: target.click },
          signal,
        );
      } catch (error) {
        if (!(error instanceof NotifyError) || i === 0) throw error;
        throw new NotifyError(`${error.message} (${i} of the digest's ${parts.length} messages were sent before)`, {
          status: error.status,
          retryable: error.retryable,
          cause: error,
        });
      }
    }
    const messages = parts.length > 1 ? ` in ${parts.length} messages` : "";
    console.error(`digest sent to ${notifier.target.serverUrl}/${notifier.target.topic}${messages}`);
  },
});
