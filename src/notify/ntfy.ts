import type { Config } from "../config/schema.ts";
import { describeFetchFailure, errorCode } from "../fetch-failure.ts";
import { VERSION } from "../version.ts";
import { NotifyError, type Notifier, type SendReceipt } from "./notifier.ts";
import type { Notification } from "../text/alert.ts";
import { parseNtfyUrl, type NtfyTarget } from "../parse/ntfy-url.ts";
import { formatSecondsMs } from "../text/format.ts";
import { parseRetryAfter } from "./pause.ts";
import { redactUrl, Redactor } from "../text/redact.ts";

// The ntfy client. It publishes as JSON to the server root (docs.ntfy.sh/publish/#publish-as-json)
// rather than with X-Title/X-Tags headers: header values travel as Latin-1, and an emoji title
// in a header reaches some servers and proxies mangled; in a JSON body it arrives intact.
//
// Failures become a NotifyError whose reason names the server and says what to do. How Bun's
// fetch (1.4.5) reports them was tried here, not assumed:
//   closed port on 127.0.0.1           TypeError code "ECONNREFUSED"
//   http://nonexistent.invalid/        TypeError code "ENOTFOUND", syscall "getaddrinfo"
//   self-signed certificate            TypeError code "DEPTH_ZERO_SELF_SIGNED_CERT"
//   leaf signed by an unknown CA       TypeError code "UNABLE_TO_VERIFY_LEAF_SIGNATURE"
//   expired certificate                TypeError code "CERT_HAS_EXPIRED"
//   certificate for another name       TypeError code "ERR_TLS_CERT_ALTNAME_INVALID"
//   https:// to a plain-HTTP port      TypeError code "EPROTO"
//   peer closes / answers garbage      TypeError code "ECONNRESET"
//   AbortSignal.timeout fired          DOMException name "TimeoutError"
//   caller's AbortController           DOMException name "AbortError"

type NtfyConfig = Config["ntfy"];

/** As ntfy's own Go client (maxResponseBytes): the most of any reply we read. */
export const MAX_RESPONSE_BYTES = 4096;

/** The JSON ntfy takes at its root: `click` only when there is one. */
export function publishBody(topic: string, n: Notification): Record<string, unknown> {
  const body: Record<string, unknown> = { topic, title: n.title, message: n.message, priority: n.priority, tags: n.tags };
  if (n.click !== null) body["click"] = n.click;
  if (n.sequenceId !== undefined) body["sequence_id"] = n.sequenceId;
  if (n.actions !== undefined && n.actions.length > 0) body["actions"] = n.actions;
  return body;
}

/** What one notification asks of the server: the JSON publish, or a clear/delete of its sequence (docs.ntfy.sh/publish/#updating-deleting-notifications). */
export function requestFor(target: NtfyTarget, n: Notification): { method: string; url: string; body: string | null } {
  if (n.op !== undefined && n.sequenceId !== undefined) {
    const path = `${target.serverUrl}/${target.topic}/${encodeURIComponent(n.sequenceId)}`;
    return n.op === "clear" ? { method: "PUT", url: `${path}/clear`, body: null } : { method: "DELETE", url: path, body: null };
  }
  return { method: "POST", url: `${target.serverUrl}/`, body: JSON.stringify(publishBody(target.topic, n)) };
}

export class NtfyNotifier implements Notifier {
  readonly target: NtfyTarget;
  readonly #config: NtfyConfig;
  readonly #redactor: Redactor;

  /** `redactor`: the secret pass every message gets on its way out ([redact]); built-in shapes by default. */
  constructor(config: NtfyConfig, redactor: Redactor = new Redactor()) {
    this.#redactor = redactor;
    const target = parseNtfyUrl(config.url);
    if (target === null) {
      throw new NotifyError(
        `[ntfy] url ${JSON.stringify(config.url)} is not an ntfy topic URL like "https://ntfy.sh/my-topic" (topic: 1 to 64 letters, digits, "_" or "-")`,
        { status: null, retryable: false },
      );
    }
    this.target = target;
    this.#config = config;
  }

  async send(n: Notification, signal: AbortSignal): Promise<SendReceipt | undefined> {
    const server = this.target.serverUrl;
    const headers: Record<string, string> = { "Content-Type": "application/json", "User-Agent": `logtriage/${VERSION}` };
    const authorization = await this.#authorization();
    if (authorization !== null) headers["Authorization"] = authorization;
    const timeout = AbortSignal.timeout(this.#config.timeoutMs);
    let response: Response;
    let text: string;
    try {
      // Redirects are not followed: fetch would turn the POST into a GET, and ntfy answers a
      // GET of its root with the web app and 200, so the alert would vanish as a "success".
      // Redacted at send time, so alerts queued before a [redact] change go out under the new one too.
      const request = requestFor(this.target, this.#redact(n));
      response = await fetch(request.url, {
        method: request.method,
        headers,
        body: request.body,
        signal: AbortSignal.any([signal, timeout]),
        redirect: "manual",
      });
      text = await readCapped(response, MAX_RESPONSE_BYTES);
    } catch (error) {
      throw fetchFailure(error, {
        server,
        host: new URL(server).hostname,
        timeoutMs: this.#config.timeoutMs,
        cancelled: signal.aborted,
        timedOut: timeout.aborted,
      });
    }
    if (response.ok) return receiptOf(text);
    throw statusFailure(response.status, text, {
      server,
      topic: this.target.topic,
      location: response.headers.get("location"),
      retryAfter: response.headers.get("retry-after"),
      hasCredentials: authorization !== null,
    });
  }

  #redact(n: Notification): Notification {
    return {
      ...n,
      title: this.#redactor.text(n.title),
      message: this.#redactor.text(n.message),
      click: n.click === null ? null : redactUrl(n.click),
    };
  }

  /** The same credentials for another request to this server (the control topic's subscription). */
  authorizationHeader(): Promise<string | null> {
    return this.#authorization();
  }

  /** The Authorization header value, or null; the token file is read at each send, so a rotated token applies at once. */
  async #authorization(): Promise<string | null> {
    return ntfyAuthorization(this.#config);
  }
}

/** The Authorization header [ntfy] configures (token, token_file, or user and password), or null. */
export async function ntfyAuthorization(c: Pick<Config["ntfy"], "token" | "tokenFile" | "user" | "password">): Promise<string | null> {
  if (c.token !== null) return bearer(c.token, "[ntfy] token");
  if (c.tokenFile !== null) return bearer(await readTokenFile(c.tokenFile), `[ntfy] token_file ${c.tokenFile}`);
  if (c.user !== null && c.password !== null) return `Basic ${Buffer.from(`${c.user}:${c.password}`, "utf8").toString("base64")}`;
  return null;
}

function bearer(token: string, source: string): string {
  // fetch refuses header values outside visible ASCII with a TypeError that would read as a
  // network failure; say what is wrong instead (and never echo the token).
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new NotifyError(`${source} holds characters an HTTP header cannot carry (an ntfy token looks like "tk_…")`, {
      status: null,
      retryable: false,
    });
  }
  return `Bearer ${token}`;
}

async function readTokenFile(path: string): Promise<string> {
  let text: string;
  try {
    // A token is ~32 characters; 4 KB is plenty and bounds a wrong path to a big file.
    text = await Bun.file(path).slice(0, 4096).text();
  } catch (error) {
    throw new NotifyError(`cannot read [ntfy] token_file ${path}: ${fileReason(error)}`, { status: null, retryable: false, cause: error });
  }
  const token = text.trim();
  if (token === "") throw new NotifyError(`[ntfy] token_file ${path} is empty`, { status: null, retryable: false });
  return token;
}

function fileReason(error: unknown): string {
  switch (errorCode(error)) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a directory";
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

/** Up to maxBytes of the body as text; the rest is left unread and the stream cancelled. */
/** The reply's message: its `sequence_id` (ntfy 2.16+ echoes the one published). Undefined when the reply is no JSON object. */
function receiptOf(text: string): SendReceipt | undefined {
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's page, an empty body): says nothing about the server.
    return undefined;
  }
  if (typeof reply !== "object" || reply === null) return undefined;
  const id = (reply as Record<string, unknown>)["sequence_id"];
  return { echoedSequenceId: typeof id === "string" && id !== "" ? id : null };
}

async function readCapped(response: Response, maxBytes: number): Promise<string> {
  if (response.body === null) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (total < maxBytes) {
      const { done, value } = await reader.read();
      if (done) break;
      const part = value.subarray(0, maxBytes - total);
      chunks.push(part);
      total += part.length;
    }
  } finally {
    // Cancelling only tells the server we stopped reading; a failure to do so changes nothing
    // about the answer we already have.
    reader.cancel().catch((error: unknown) => void error);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

export interface FetchContext {
  server: string;
  host: string;
  timeoutMs: number;
  /** The caller's signal fired (shutdown), as opposed to our own timeout. */
  cancelled: boolean;
  timedOut: boolean;
}

/** A fetch that threw: no HTTP answer at all. All of these may pass, so all are retryable. */
/** A fetch that got no HTTP answer, in words naming the server (also used by `doctor`). */
export function fetchFailure(error: unknown, ctx: FetchContext): NotifyError {
  const retry = { status: null, retryable: true, cause: error };
  if (ctx.cancelled) return new NotifyError(`sending to ${ctx.server} was cancelled`, retry);
  if (ctx.timedOut) return new NotifyError(`no answer from ${ctx.server} within ${formatSecondsMs(ctx.timeoutMs)}`, retry);
  const failure = describeFetchFailure(error);
  const code = failure.code;
  switch (failure.kind) {
    case "dns":
      return new NotifyError(`cannot resolve host ${ctx.host} (${code}): check [ntfy] url and this machine's DNS`, retry);
    case "refused":
      return new NotifyError(`${ctx.server} refused the connection: is ntfy running and listening there?`, retry);
    case "tls":
      // Retryable: we have no TLS settings of our own, so the fix (a renewed or proper
      // certificate) happens on the server, and queued alerts should go out once it does.
      return new NotifyError(`TLS error with ${ctx.server}: ${failure.tlsWords} (${code})`, retry);
    case "reset":
      return new NotifyError(`${ctx.server} closed the connection without an HTTP answer (ECONNRESET)`, retry);
    case "other":
      break;
  }
  const message = failure.message;
  return new NotifyError(`cannot reach ${ctx.server}: ${message}${code && !message.includes(code) ? ` (${code})` : ""}`, retry);
}

interface StatusContext {
  server: string;
  topic: string;
  location: string | null;
  retryAfter: string | null;
  hasCredentials: boolean;
}

/** ntfy's error body, `{"code":40101,"http":401,"error":"unauthorized","link":"…"}`: its words and code. */
function ntfyError(body: string): { text: string | null; code: number | null } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { text: null, code: null }; // not ntfy's JSON (a proxy's HTML page, say): the status alone says enough
  }
  if (typeof parsed !== "object" || parsed === null) return { text: null, code: null };
  const { code, error } = parsed as { code?: unknown; error?: unknown };
  const ntfyCode = typeof code === "number" && Number.isInteger(code) ? code : null;
  if (typeof error !== "string" || error === "") return { text: null, code: ntfyCode };
  return { text: ntfyCode !== null ? `${error}, ntfy code ${ntfyCode}` : error, code: ntfyCode };
}

/** An HTTP answer other than 2xx. */
function statusFailure(status: number, body: string, ctx: StatusContext): NotifyError {
  const { text: ntfy, code: ntfyCode } = ntfyError(body);
  const http = `HTTP ${status}${ntfy === null ? "" : `: ${ntfy}`}`;
  const retryAfterMs = parseRetryAfter(ctx.retryAfter, Date.now());
  const fail = (reason: string, retryable: boolean) => new NotifyError(reason, { status, retryable, ntfyCode, retryAfterMs });
  if (status >= 300 && status < 400) {
    return fail(
      `${ctx.server} redirects (${http}) to ${ctx.location ?? "another address"}: put the address it names, with the topic, in [ntfy] url`,
      false,
    );
  }
  if (status === 401 || status === 403) {
    const none = ctx.hasCredentials ? "" : " (none are set)";
    return fail(
      `${ctx.server} rejected the credentials for topic "${ctx.topic}" (${http}): check [ntfy] token / token_file / user+password${none}`,
      false,
    );
  }
  if (status === 404)
    return fail(`${ctx.server} has no ntfy publish endpoint there (${http}): check [ntfy] url, e.g. "https://ntfy.sh/my-topic"`, false);
  if (status === 413) return fail(`${ctx.server} refused the message as too large (${http})`, false);
  if (status === 429)
    return fail(
      `${ctx.server} is rate limiting this host (${http})${retryAfterMs === null ? "" : `; it asks to wait ${formatSecondsMs(retryAfterMs)}`}`,
      true,
    );
  if (status >= 500) return fail(`${ctx.server} failed to take the message (${http})`, true);
  return fail(`${ctx.server} rejected the message (${http})`, false);
}
