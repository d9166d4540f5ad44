import type { Config } from "../config/schema.ts";
import { VERSION } from "../version.ts";
import { describeFetchFailure } from "../fetch-failure.ts";
import { NotifyError } from "./notifier.ts";

// Prometheus Alertmanager's API v2, as its own clients use it (Prometheus's notifier, amtool):
// POST /api/v2/alerts takes an array of postable alerts; an alert is identified by its label
// set, so posting the same labels again refreshes it instead of adding one. Alertmanager
// marks an alert resolved once its endsAt has passed, and when no endsAt is given it sets one
// `resolve_timeout` (default 5 m) after the last post: a firing alert has to be posted again
// before then. GET /api/v2/alerts shows each alert with status.silencedBy; silences are made
// with POST /api/v2/silences. Field names follow api/v2/openapi.yaml of Alertmanager 0.25.

/** What the alert says about one incident; built by the caller from the incident store. */
export interface AlertSubject {
  /** The rule or kind, e.g. "kernel-oom-kill": Alertmanager's `alertname`. */
  name: string;
  tier: string;
  severity: string;
  summary: string;
  /** The enrichment's why, in words; "" when there is none. */
  description: string;
  unit: string | null;
  process: string | null;
  disk: string | null;
  /** Stable per incident, so a refresh hits the same alert and two incidents never merge. */
  incidentId: string;
  openedUs: number;
  /** Null while the incident is open. */
  resolvedUs: number | null;
}

export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

/** Label values are free text in Alertmanager, but a phone and a route read better without control characters. */
function labelValue(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
}

export function postableAlert(subject: AlertSubject, instanceId: string, detailsBaseUrl: string | null): PostableAlert {
  const labels: Record<string, string> = {
    alertname: labelValue(subject.name),
    instance: instanceId,
    tier: subject.tier,
    severity: subject.severity,
    incident: subject.incidentId,
  };
  if (subject.unit) labels["unit"] = labelValue(subject.unit);
  if (subject.process) labels["process"] = labelValue(subject.process);
  if (subject.disk) labels["disk"] = labelValue(subject.disk);
  const annotations: Record<string, string> = { summary: subject.summary };
  if (subject.description !== "") annotations["description"] = subject.description;
  const alert: PostableAlert = { labels, annotations, startsAt: new Date(subject.openedUs / 1000).toISOString() };
  if (subject.resolvedUs !== null) alert.endsAt = new Date(subject.resolvedUs / 1000).toISOString();
  if (detailsBaseUrl !== null)
    alert.generatorURL = `${detailsBaseUrl.replace(/\/+$/, "")}/incidents/${encodeURIComponent(subject.incidentId)}`;
  return alert;
}

export interface AlertmanagerAuth {
  bearerToken: string | null;
  /** Read at each request, so a rotated token applies at once. */
  bearerTokenFile: string | null;
  basic: { user: string; password: string } | null;
}

export interface AlertmanagerTls {
  /** PEM file of the CA that signed the server's certificate; null: the system's CAs. */
  caFile: string | null;
  insecureSkipVerify: boolean;
}

export interface AlertmanagerClientOptions {
  /** Base URLs, e.g. "http://am1:9093"; every one gets every alert (a cluster's peers). */
  urls: readonly string[];
  auth: AlertmanagerAuth;
  tls: AlertmanagerTls;
  timeoutMs: number;
}

/** A silence as Alertmanager lists it (the fields we read). */
export interface Silence {
  id: string;
  state: "active" | "pending" | "expired";
  matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[];
  endsAt: string;
  createdBy: string;
  comment: string;
}

export interface AlertState {
  labels: Record<string, string>;
  state: string;
  silencedBy: string[];
}

const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Talks to one Alertmanager or the peers of a cluster. Posting succeeds only when every URL
 * took the alerts: Alertmanager peers gossip silences and notification state, not alerts, so
 * a client of a cluster posts to each peer (as Prometheus does).
 */
export class AlertmanagerClient {
  readonly #options: AlertmanagerClientOptions;

  constructor(options: AlertmanagerClientOptions) {
    this.#options = options;
  }

  get urls(): readonly string[] {
    return this.#options.urls;
  }

  /** Posts to every URL; rejects with the failures of those that did not take them. */
  async postAlerts(alerts: readonly PostableAlert[], signal: AbortSignal): Promise<void> {
    const results = await Promise.allSettled(this.#options.urls.map((url) => this.postAlertsTo(url, alerts, signal)));
    const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
    if (failures.length === 0) return;
    const first = failures[0];
    const reasons = failures.map((f) => (f instanceof Error ? f.message : String(f))).join("; ");
    const retryable = failures.every((f) => !(f instanceof NotifyError) || f.retryable);
    throw new NotifyError(reasons, { status: first instanceof NotifyError ? first.status : null, retryable, cause: first });
  }

  async postAlertsTo(url: string, alerts: readonly PostableAlert[], signal: AbortSignal): Promise<void> {
    await this.#request(url, "POST", "/api/v2/alerts", alerts, signal);
  }

  /** The alerts one Alertmanager holds whose labels include all of `labels`. */
  async alerts(url: string, labels: Record<string, string>, signal: AbortSignal): Promise<AlertState[]> {
    const filter = Object.entries(labels).map(([k, v]) => `filter=${encodeURIComponent(`${k}=${JSON.stringify(v)}`)}`);
    const body = await this.#request(url, "GET", `/api/v2/alerts?${filter.join("&")}`, undefined, signal);
    if (!Array.isArray(body)) throw new NotifyError(`${url}: /api/v2/alerts did not answer with a list`, { status: null, retryable: true });
    return body.flatMap((a: unknown) => {
      if (typeof a !== "object" || a === null) return [];
      const record = a as { labels?: unknown; status?: { state?: unknown; silencedBy?: unknown } };
      const labelsOut = typeof record.labels === "object" && record.labels !== null ? (record.labels as Record<string, string>) : {};
      const silencedBy = Array.isArray(record.status?.silencedBy)
        ? record.status.silencedBy.filter((s): s is string => typeof s === "string")
        : [];
      return [{ labels: labelsOut, state: typeof record.status?.state === "string" ? record.status.state : "unknown", silencedBy }];
    });
  }

  /** Creates a silence on the first URL that takes it (peers share silences by gossip); returns its id. */
  async createSilence(
    silence: { matchers: Silence["matchers"]; startsAt: Date; endsAt: Date; createdBy: string; comment: string },
    signal: AbortSignal,
  ): Promise<string> {
    let lastError: unknown = null;
    for (const url of this.#options.urls) {
      try {
        const body = (await this.#request(
          url,
          "POST",
          "/api/v2/silences",
          { ...silence, startsAt: silence.startsAt.toISOString(), endsAt: silence.endsAt.toISOString() },
          signal,
        )) as { silenceID?: unknown };
        if (typeof body?.silenceID === "string") return body.silenceID;
        lastError = new NotifyError(`${url}: the silence was taken but no silenceID came back`, { status: null, retryable: false });
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError ?? new NotifyError("[alertmanager] urls is empty", { status: null, retryable: false });
  }

  async #request(baseUrl: string, method: "GET" | "POST", path: string, body: unknown, signal: AbortSignal): Promise<unknown> {
    const base = baseUrl.replace(/\/+$/, "");
    const headers: Record<string, string> = { "User-Agent": `logtriage/${VERSION}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const { bearerToken, bearerTokenFile, basic } = this.#options.auth;
    if (bearerToken !== null) headers["Authorization"] = `Bearer ${bearerToken}`;
    else if (bearerTokenFile !== null) headers["Authorization"] = `Bearer ${await readToken(bearerTokenFile)}`;
    else if (basic !== null)
      headers["Authorization"] = `Basic ${Buffer.from(`${basic.user}:${basic.password}`, "utf8").toString("base64")}`;
    const timeout = AbortSignal.timeout(this.#options.timeoutMs);
    const tls: { rejectUnauthorized?: boolean; ca?: ReturnType<typeof Bun.file> } = {};
    if (this.#options.tls.insecureSkipVerify) tls.rejectUnauthorized = false;
    if (this.#options.tls.caFile !== null) tls.ca = Bun.file(this.#options.tls.caFile);
    let response: Response;
    let text: string;
    try {
      const init: RequestInit & { tls?: typeof tls } = {
        method,
        headers,
        signal: AbortSignal.any([signal, timeout]),
        redirect: "manual",
        tls,
      };
      if (body !== undefined) init.body = JSON.stringify(body);
      response = await fetch(`${base}${path}`, init);
      text = (await response.text()).slice(0, MAX_RESPONSE_BYTES);
    } catch (error) {
      throw unreachable(error, base, this.#options.timeoutMs, signal.aborted, timeout.aborted);
    }
    if (!response.ok) {
      // 4xx other than 429 is a request Alertmanager will never take (bad auth, bad alert);
      // 5xx and 429 pass with time.
      const retryable = response.status >= 500 || response.status === 429;
      throw new NotifyError(`${base}${path} answered ${response.status}: ${text.trim().slice(0, 300) || response.statusText}`, {
        status: response.status,
        retryable,
      });
    }
    if (text.trim() === "") return null;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      // Only the answers we read (lists, silence ids) need to be JSON; the caller says so.
      return null;
    }
  }
}

/** The client for `[alertmanager]`; null when no URL is set. */
export function alertmanagerClient(config: Config["alertmanager"]): AlertmanagerClient | null {
  if (config.urls.length === 0) return null;
  return new AlertmanagerClient({
    urls: config.urls,
    auth: { bearerToken: config.bearerToken, bearerTokenFile: config.bearerTokenFile, basic: config.basicAuth },
    tls: { caFile: config.caFile, insecureSkipVerify: config.insecureSkipVerify },
    timeoutMs: config.timeoutMs,
  });
}

async function readToken(path: string): Promise<string> {
  let text: string;
  try {
    // A token is short; 4 KB bounds a wrong path to a big file.
    text = await Bun.file(path).slice(0, 4096).text();
  } catch (error) {
    throw new NotifyError(
      `cannot read [alertmanager] bearer_token_file ${path}: ${error instanceof Error ? error.message : String(error)}`,
      { status: null, retryable: false, cause: error },
    );
  }
  const token = text.trim();
  if (!/^[\x21-\x7e]+$/.test(token))
    throw new NotifyError(`[alertmanager] bearer_token_file ${path} is empty or holds characters an HTTP header cannot carry`, {
      status: null,
      retryable: false,
    });
  return token;
}

/** No HTTP answer at all, in words naming the Alertmanager; all of these may pass, so all are retryable. */
function unreachable(error: unknown, base: string, timeoutMs: number, cancelled: boolean, timedOut: boolean): NotifyError {
  const retry = { status: null, retryable: true, cause: error };
  if (cancelled) return new NotifyError(`sending to Alertmanager ${base} was cancelled`, retry);
  if (timedOut) return new NotifyError(`no answer from Alertmanager ${base} within ${timeoutMs / 1000} s`, retry);
  const failure = describeFetchFailure(error);
  switch (failure.kind) {
    case "dns":
      return new NotifyError(`cannot resolve the host of Alertmanager ${base} (${failure.code}): check [alertmanager] urls`, retry);
    case "refused":
      return new NotifyError(`Alertmanager ${base} refused the connection: is it running and listening there?`, retry);
    case "tls":
      return new NotifyError(
        `TLS error with Alertmanager ${base}: ${failure.tlsWords} (${failure.code}); see [alertmanager] ca_file`,
        retry,
      );
    default:
      return new NotifyError(`cannot reach Alertmanager ${base}: ${failure.message}`, retry);
  }
}
