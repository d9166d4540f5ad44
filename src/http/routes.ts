import type { Database } from "bun:sqlite";
import { timingSafeEqual, createHash } from "node:crypto";
import { parseDuration } from "../config/duration.ts";
import { isTier, type Tier } from "../event.ts";
import { getEvent, queryEvents } from "../store/events.ts";
import { getIncident, incidentEventIds, queryIncidents } from "../store/incidents.ts";
import { silencedIncidents } from "../store/alertmanager-sync.ts";
import { incidentJson } from "../incidents/json.ts";
import { verifyDetailsPath } from "../incidents/details.ts";
import { listSnapshots, readLatestSnapshot, timestampToUs } from "../store/snapshots.ts";
import { EXPOSITION_CONTENT_TYPE } from "../metrics/exposition.ts";
import { isoTime } from "../text/format.ts";
import { eventJson } from "../text/event-json.ts";
import type { Redactor } from "../text/redact.ts";

// The local HTTP API: read-only views of what the
// daemon already holds. A request is answered from the daemon's own database handle and the
// snapshot files; nothing here writes. Every answer but /metrics is JSON, errors included,
// with one message a person can act on.

export interface ApiHealth {
  sourceName: string | null;
  sourceRunning: boolean;
  sourceError: string | null;
  /** The last heartbeat write went through. */
  dbWritable: boolean;
  /** What the daemon cannot see now (daemon/blindness.ts); empty when it sees. */
  blind?: { subject: string; cause: string; fix: string | null; sinceUs: number }[];
  /** The outbox paused because ntfy refuses every alert (notify/pause.ts); null or absent when it sends. */
  outboxPaused?: { sinceMs: number; status: number | null; reason: string } | null;
}

export interface ApiDeps {
  db: Database;
  /** `[http] token`; null: no auth (loopback only, enforced by config). */
  token: string | null;
  /** The secret pass over what the API answers ([redact]); none in tests that do not ask for it. */
  redactor?: Redactor;
  /** `[services]` names, for /failure-context. */
  services: readonly string[];
  snapshotsDir: string;
  health: () => ApiHealth;
  metrics: () => Promise<string>;
  nowUs: () => number;
  /**
   * The key "Details" links are made with ([http] public_url set): /details/ID/TOKEN is then
   * served without the bearer token, the link being the permission. Null or absent: no such page.
   */
  detailsKey?: Buffer | null;
}

const DEFAULT_SINCE_MS = 86_400_000;
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const FAILURE_LIST_LENGTH = 10;
// ISO 8601 date, or date and time with an optional zone; Date.parse reads all of these.
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

function error(status: number, message: string, headers: Record<string, string> = {}): Response {
  return json(status, { error: message }, headers);
}

/** What leaves the machine through the API passes the redactor: log lines may hold secrets. */
function redacted<T>(deps: ApiDeps, body: T): T {
  return deps.redactor ? deps.redactor.deep(body) : body;
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/**
 * True when the request carries `Authorization: Bearer TOKEN`. Both sides are hashed first so
 * the comparison is constant-time whatever the lengths: timing tells nothing about the token.
 */
export function authorized(request: Request, token: string): boolean {
  const header = request.headers.get("authorization") ?? "";
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return timingSafeEqual(digest(m?.[1] ?? ""), digest(token)) && m !== null;
}

/** `since`: a duration back from now ("24h", "90m") or an ISO time → µs; a message when it is neither. */
export function parseSince(value: string, nowUs: number): number | string {
  const ms = parseDuration(value);
  if (ms !== null) return nowUs - ms * 1000;
  if (ISO_TIME.test(value)) {
    const at = Date.parse(value);
    if (!Number.isNaN(at)) return at * 1000;
  }
  return `since=${JSON.stringify(value)} is neither a duration like 24h or 90m nor an ISO time like 2026-11-23T08:00:00Z`;
}

export function parseTiers(value: string): Tier[] | string {
  const tiers = value
    .split(",")
    .map((t) => t.trim().toUpperCase())
    .filter(Boolean);
  const bad = tiers.filter((t) => !isTier(t));
  if (bad.length || tiers.length === 0) return `tier=${JSON.stringify(value)}: expected tiers T1 to T5, comma-separated (tier=T1,T2)`;
  return tiers as Tier[];
}

function eventsRoute(url: URL, deps: ApiDeps): Response {
  const known = new Set(["tier", "since", "limit"]);
  for (const key of url.searchParams.keys())
    if (!known.has(key)) return error(400, `unknown parameter ${JSON.stringify(key)}: /events takes tier, since and limit`);
  const nowUs = deps.nowUs();
  const sinceParam = url.searchParams.get("since");
  const sinceUs = sinceParam === null ? nowUs - DEFAULT_SINCE_MS * 1000 : parseSince(sinceParam, nowUs);
  if (typeof sinceUs === "string") return error(400, sinceUs);
  const tierParam = url.searchParams.get("tier");
  const tiers = tierParam === null ? undefined : parseTiers(tierParam);
  if (typeof tiers === "string") return error(400, tiers);
  const limitParam = url.searchParams.get("limit");
  const limit = limitParam === null ? DEFAULT_LIMIT : Number(limitParam);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    return error(400, `limit=${JSON.stringify(limitParam)}: expected a whole number 1 to ${MAX_LIMIT}`);
  const events = queryEvents(deps.db, { sinceUs, tiers, limit });
  return json(200, redacted(deps, { since: isoTime(sinceUs), count: events.length, events: events.map(eventJson) }));
}

function incidentsRoute(url: URL, deps: ApiDeps): Response {
  const known = new Set(["open", "since", "limit"]);
  for (const key of url.searchParams.keys())
    if (!known.has(key)) return error(400, `unknown parameter ${JSON.stringify(key)}: /incidents takes open, since and limit`);
  const nowUs = deps.nowUs();
  const sinceParam = url.searchParams.get("since");
  const sinceUs = sinceParam === null ? nowUs - 7 * DEFAULT_SINCE_MS * 1000 : parseSince(sinceParam, nowUs);
  if (typeof sinceUs === "string") return error(400, sinceUs);
  const limitParam = url.searchParams.get("limit");
  const limit = limitParam === null ? DEFAULT_LIMIT : Number(limitParam);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    return error(400, `limit=${JSON.stringify(limitParam)}: expected a whole number 1 to ${MAX_LIMIT}`);
  const openOnly = url.searchParams.has("open") && url.searchParams.get("open") !== "false";
  const silenced = silencedIncidents(deps.db);
  const incidents = queryIncidents(deps.db, { sinceUs, openOnly, limit });
  return json(200, {
    since: isoTime(sinceUs),
    count: incidents.length,
    incidents: incidents.map((i) => incidentJson(i, nowUs, incidentEventIds(deps.db, i.id), silenced.get(i.id) ?? [])),
  });
}

/** One incident with its events in full (the event JSON shape): where an alert's link leads. */
function incidentRoute(id: string, deps: ApiDeps): Response {
  const found = getIncident(deps.db, id);
  if (found.kind === "none") return error(404, `no incident ${JSON.stringify(id)}`);
  if (found.kind === "ambiguous")
    return error(400, `${JSON.stringify(id)} matches several incidents (${found.ids.join(", ")}); give more of the id`);
  const nowUs = deps.nowUs();
  const ids = incidentEventIds(deps.db, found.incident.id);
  const events = ids.flatMap((eventId) => {
    const e = getEvent(deps.db, eventId);
    return e.kind === "found" ? [eventJson(e.event)] : [];
  });
  return json(200, { ...incidentJson(found.incident, nowUs, ids, silencedIncidents(deps.db).get(found.incident.id) ?? []), events });
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);

// The page a phone opens: no script, nothing loaded from elsewhere, not cached, not indexed,
// and no Referer carrying the link to a page it links to (it links to none).
const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-robots-tag": "noindex",
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
};

/** One incident, read-only, as a small HTML page: the "Details" button's target. */
function detailsPage(id: string, deps: ApiDeps): Response {
  const found = getIncident(deps.db, id);
  // Gone (retention) or never: the same answer as a wrong link.
  if (found.kind !== "found")
    return new Response("Not found\n", { status: 404, headers: { ...PAGE_HEADERS, "content-type": "text/plain" } });
  const inc = found.incident;
  const events = incidentEventIds(deps.db, inc.id).flatMap((eventId) => {
    const e = getEvent(deps.db, eventId);
    return e.kind === "found" ? [e.event] : [];
  });
  const view = redacted(deps, {
    summary: inc.summary,
    facts: [
      ["State", inc.state === "open" ? "open" : `resolved: ${inc.resolution ?? "over"}`],
      ["Host", inc.instanceId],
      ["Subject", `${inc.kind} ${inc.subject}`],
      ["Severity", `${inc.severity} (${inc.tier})${inc.loop ? ", a loop" : ""}`],
      ["Occurrences", String(inc.occurrences)],
      ["First seen", isoTime(inc.firstSeenUs)],
      ["Last seen", isoTime(inc.lastSeenUs)],
      ...(inc.resolvedUs === null ? [] : [["Resolved", isoTime(inc.resolvedUs)]]),
    ] as [string, string][],
    events: events.map((e) => ({ head: `${isoTime(e.timestampUs)} ${e.tier} ${e.severity}: ${e.summary}`, detail: e.detail, id: e.id })),
  });
  const html = [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(view.summary)}</title>`,
    "<style>body{font-family:sans-serif;margin:1em;max-width:60em}pre{white-space:pre-wrap;background:#f4f4f4;padding:.5em}th{text-align:left;padding-right:1em}</style>",
    "</head><body>",
    `<h1>${escapeHtml(view.summary)}</h1>`,
    `<table>${view.facts.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join("")}</table>`,
    `<h2>Events (${view.events.length})</h2>`,
    ...view.events.map((e) => `<h3>${escapeHtml(e.head)}</h3><pre>${escapeHtml(e.detail)}</pre><p>logtriage show ${escapeHtml(e.id)}</p>`),
    `<p>Incident ${escapeHtml(inc.id)}: logtriage incidents --last 7d</p>`,
    "</body></html>",
  ].join("\n");
  return new Response(html, { headers: PAGE_HEADERS });
}

function failureContextRoute(service: string, view: string, deps: ApiDeps): Response {
  if (!deps.services.includes(service)) {
    const names = deps.services.length
      ? `configured services: ${deps.services.join(", ")}`
      : "no services are configured ([services.NAME] in the config)";
    return error(404, `no service ${JSON.stringify(service)}: ${names}`);
  }
  if (view === "list") {
    const timestamps = listSnapshots(deps.snapshotsDir, service, FAILURE_LIST_LENGTH);
    return json(200, {
      service,
      failures: timestamps.map((t) => {
        const us = timestampToUs(t);
        return { timestamp: t, time: us === null ? null : isoTime(us) };
      }),
    });
  }
  const latest = readLatestSnapshot(deps.snapshotsDir, service);
  if (!latest) return error(404, `${service} has no failure snapshot yet`);
  return json(200, redacted(deps, latest.snapshot));
}

/** One request → its answer. Throws only on a bug or an unreadable store; the server turns that into 500. */
export async function route(request: Request, deps: ApiDeps): Promise<Response> {
  // A "Details" link carries its own permission (a phone's ntfy button sends no header): it is
  // answered before the bearer check, and a wrong or unknown link gets the same 404.
  const detailsKey = deps.detailsKey ?? null;
  if (detailsKey !== null && (request.method === "GET" || request.method === "HEAD")) {
    const path = new URL(request.url).pathname;
    if (path.startsWith("/details/")) {
      const id = verifyDetailsPath(detailsKey, path);
      if (id !== null) return detailsPage(id, deps);
      return new Response("Not found\n", { status: 404, headers: { ...PAGE_HEADERS, "content-type": "text/plain" } });
    }
  }
  if (deps.token !== null && !authorized(request, deps.token)) {
    return error(401, 'this API needs "Authorization: Bearer TOKEN" with the [http] token from the config', {
      "www-authenticate": 'Bearer realm="logtriage"',
    });
  }
  if (request.method !== "GET" && request.method !== "HEAD")
    return error(405, `${request.method} is not served: the API is read-only (GET)`, { allow: "GET, HEAD" });
  const url = new URL(request.url);
  const path = url.pathname.replace(/\/+$/, "") || "/";
  if (path === "/healthz") {
    const h = deps.health();
    const blind = h.blind ?? [];
    // Alerts held back because ntfy refuses them: the daemon sees, but the phone hears nothing.
    const paused = h.outboxPaused ?? null;
    const ok = h.sourceRunning && h.dbWritable && blind.length === 0 && paused === null;
    return json(ok ? 200 : 503, {
      status: ok ? "ok" : "degraded",
      daemon: "running",
      source: { name: h.sourceName, running: h.sourceRunning, ...(h.sourceRunning ? {} : { error: h.sourceError }) },
      db: { writable: h.dbWritable },
      blind: blind.map((b) => ({ subject: b.subject, cause: b.cause, fix: b.fix, since: new Date(b.sinceUs / 1000).toISOString() })),
      outbox:
        paused === null
          ? { paused: false }
          : { paused: true, reason: paused.reason, status: paused.status, since: new Date(paused.sinceMs).toISOString() },
    });
  }
  if (path === "/metrics") return new Response(await deps.metrics(), { headers: { "content-type": EXPOSITION_CONTENT_TYPE } });
  if (path === "/events") return eventsRoute(url, deps);
  if (path === "/incidents") return incidentsRoute(url, deps);
  const incident = /^\/incidents\/([0-9a-f]{1,32})$/.exec(path);
  if (incident) return incidentRoute(incident[1] as string, deps);
  const failure = /^\/failure-context\/([^/]+)\/(last|list)$/.exec(path);
  if (failure) {
    let service: string;
    try {
      service = decodeURIComponent(failure[1] as string);
    } catch {
      // A malformed %-escape cannot name a service.
      return error(404, `no service ${JSON.stringify(failure[1])}: the name is not valid URL text`);
    }
    return failureContextRoute(service, failure[2] as string, deps);
  }
  return error(
    404,
    `no such endpoint ${path}: GET /healthz, /metrics, /events?tier=&since=, /incidents?open&since=, /incidents/ID, /failure-context/SERVICE/last or /list`,
  );
}
