import type { Server } from "bun";

// A local stand-in for an ntfy server (Bun.serve on 127.0.0.1), for tests of the client and
// of `logtriage test-ntfy`. It follows ntfy's documented publish API and checks what the real
// server checks, answering with ntfy's own status codes and JSON bodies:
//
// - JSON publish: POST/PUT "/" with {topic, title, message, priority, tags, click}
//   (docs.ntfy.sh/publish/#publish-as-json); a body over 8192 bytes (2 × the message limit) is
//   413 {"code":41303}, one that is not JSON of that shape is 400 {"code":40024}.
// - Plain publish: POST/PUT "/<topic>" with the message as the body and X-Title / Title / t,
//   X-Priority / Priority / prio / p, X-Tags / Tags / tag / ta, X-Click / Click headers, or
//   the same names as query parameters (docs.ntfy.sh/publish/, "List of all parameters").
// - Topic names: letters, digits, "_" and "-", 1 to 64 (server/server.go topicRegex); else
//   400 {"code":40009}.
// - Priority 1–5 or min/low/default/high/max/urgent (util.ParsePriority); else 400 {"code":40007}.
// - Title at most 1024 bytes → 400 {"code":40057}; all tags together at most 512 bytes → 400
//   {"code":40058} (ntfy v2.28.0 release notes; server/server_message_limits_test.go).
// - Message at most 4096 bytes (docs.ntfy.sh/publish/#limitations: "Longer messages are treated
//   as attachments"). ntfy then stores the body as a file, "attachment.txt", with the message
//   "You received a file: attachment.txt" — only when the server has an attachment cache and
//   base-url; without them (ntfy's default config) it answers 400 {"code":40014} "attachments
//   not allowed" (server.go handleBodyAsAttachment). `attachments` picks which.
// - An empty message becomes "triggered" (server.go emptyMessageBody).
// - Access control (docs.ntfy.sh/config/#access-control, /publish/#authentication): with a
//   `token` or `basic` login required, wrong credentials are 401 {"code":40101} before anything
//   else is looked at; none at all is 403 {"code":40301} (server.go maybeAuthenticate,
//   authorizeTopic).
// - Request limit per visitor (IP): a bucket of 60 requests refilled one per 5 s
//   (docs.ntfy.sh/publish/#limitations; config.go DefaultVisitorRequestLimitBurst/Replenish),
//   then 429 {"code":42901,"error":"limit reached: too many requests"}. Configurable.
// - A path outside `pathPrefix` (ntfy behind a reverse proxy at a sub-path) is 404
//   {"code":40401,"error":"page not found"}.
// - Success is 200 with ntfy's message object: {id, time, expires, event: "message", topic,
//   title, message, priority, tags, click} with empty fields left out (server/types.go message).
//
// - Sequence ids (ntfy 2.16+, docs.ntfy.sh/publish/#updating-deleting-notifications): a publish
//   carries one as JSON `sequence_id`, as an X-Sequence-ID / Sequence-ID / SID header or `sid`
//   query parameter, or in the path, POST /<topic>/<sequence_id>. It must match ntfy's
//   sequenceIDRegex, letters, digits, "_" and "-", 1 to 64 (server/server.go), else 400
//   {"code":40049,"error":"invalid request: sequence ID invalid"}. A publish with a sequence id
//   already shown replaces that notification in place (`notifications()` is what a phone shows);
//   PUT /<topic>/<sequence_id>/clear marks it read and dismisses it (event "message_clear"),
//   DELETE /<topic>/<sequence_id> removes it (event "message_delete"). The reply is the message
//   object with `sequence_id` echoed, which is how a client tells a 2.16+ server from an older
//   one. With `sequenceIds: false` the stand-in is such an older server: `sequence_id` in JSON
//   is an unknown field and ignored (each publish a new notification, nothing echoed), and the
//   sequence paths are 404.
// - Subscribing: GET /<topic>/json streams one JSON object per line (docs.ntfy.sh/subscribe/api/):
//   first {"event":"open"}, then each message published to the topic from then on, as the
//   publish reply shows it, and {"event":"keepalive"} while nothing happens (ntfy's
//   keepalive-interval, 45 s by default; here `keepaliveMs`, below Bun.serve's 10 s idle
//   timeout). `since=<message id>` first replays what the topic got after that message, and
//   `since=all` all of it (ntfy answers from its message cache). Action buttons (JSON
//   `actions`) are kept on the message as given.
// Checked against the docs and the server's topic/sequence regexes; the Android app's own
// handling (what "replace" looks like on a phone) is not modelled beyond "one per sequence".
//
// Not ntfy, for tests: `failWith` answers every request with that status (500, 503) and
// ntfy-style JSON; `delayMs` holds each answer back. Every accepted message is recorded with
// its arrival time, and every request with its status.

const MESSAGE_LIMIT_BYTES = 4096;
const JSON_BODY_LIMIT_BYTES = 2 * MESSAGE_LIMIT_BYTES;
const TITLE_LIMIT_BYTES = 1024;
const TAGS_LIMIT_BYTES = 512;
const CACHE_DURATION_S = 12 * 3600;
const TOPIC = /^[-_A-Za-z0-9]{1,64}$/;

export interface StandInOptions {
  /** 0 (the default) takes a free port; a fixed one lets a test stop and restart on it. */
  port?: number;
  /** Serve under this path, as ntfy behind a proxy at "/ntfy" would be: "http://127.0.0.1:P/ntfy". */
  pathPrefix?: string;
  /** Require `Authorization: Bearer <token>`. */
  token?: string | null;
  /** Require Basic auth with this login (either this or `token` is enough when both are set). */
  basic?: { user: string; password: string } | null;
  /** Requests per visitor before 429, and the refill interval; null turns the limit off. */
  rateLimit?: { burst: number; replenishMs: number } | null;
  /** Whether an over-long message becomes an attachment (true) or is refused (false, ntfy's default config). */
  attachments?: boolean;
  /** Answer every request with this status instead of handling it. */
  failWith?: number | null;
  /** Hold each answer back this long. */
  delayMs?: number;
  /** Whether it speaks ntfy 2.16's sequence ids (update, clear, delete); false is an older server. */
  sequenceIds?: boolean;
  /** How often a subscription gets a keepalive event while nothing is published. */
  keepaliveMs?: number;
}

/** One notification as a phone subscribed to the topic shows it, after updates, clears and deletes. */
export interface ShownNotification {
  /** The sequence id, or the first message's id when it had none. */
  sequenceId: string;
  topic: string;
  /** The latest publish of the sequence. */
  latest: ReceivedMessage;
  /** How many publishes it took (1 = never updated). */
  publishes: number;
  state: "shown" | "cleared" | "deleted";
}

export interface ReceivedMessage {
  id: string;
  topic: string;
  title: string;
  message: string;
  /** 0 when none was given (ntfy shows it as 3, "default"). */
  priority: number;
  tags: string[];
  click: string;
  attachment: { name: string; size: number } | null;
  /** "json" for POST / with a JSON body, "path" for POST /<topic>. */
  via: "json" | "path";
  /** The JSON publish's action buttons, as sent; [] when none. */
  actions: Record<string, unknown>[];
  /** "" when none was given (or the server predates sequence ids). */
  sequenceId: string;
  /** "message" for a publish; "message_clear" / "message_delete" for PUT …/clear and DELETE. */
  event: "message" | "message_clear" | "message_delete";
  authorization: string | null;
  contentType: string | null;
  receivedAtMs: number;
}

export interface StandInRequest {
  method: string;
  path: string;
  status: number;
  authorization: string | null;
  receivedAtMs: number;
}

export interface NtfyStandIn {
  /** Base URL (with the path prefix); a topic's URL is `${url}/${topic}`. */
  readonly url: string;
  readonly port: number;
  /** Live options: change `failWith`, `delayMs`, `token`… between requests. */
  readonly options: Required<StandInOptions>;
  readonly messages: ReceivedMessage[];
  readonly requests: StandInRequest[];
  /** What a phone subscribed to the topic shows now: one entry per sequence, in order of first appearance. */
  notifications(topic?: string): ShownNotification[];
  topicUrl(topic: string): string;
  stop(): Promise<void>;
  /** Start again on the same port (after stop()); recorded messages and rate-limit buckets are kept. */
  restart(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly http: number,
    readonly code: number,
    message: string,
    readonly link = "",
  ) {
    super(message);
  }
}

const errors = {
  notFound: () => new HttpError(404, 40401, "page not found"),
  jsonInvalid: () => new HttpError(400, 40024, "invalid request: request body must be valid JSON"),
  jsonTooLarge: () => new HttpError(413, 41303, "JSON body too large"),
  topicInvalid: () => new HttpError(400, 40009, "invalid request: topic invalid"),
  priorityInvalid: () => new HttpError(400, 40007, "invalid priority parameter", "https://ntfy.sh/docs/publish/#message-priority"),
  // The wording of these two is ours; the codes are ntfy's (v2.28.0).
  titleTooLarge: () => new HttpError(400, 40057, "invalid request: title too large"),
  tagsTooLarge: () => new HttpError(400, 40058, "invalid request: tags too large"),
  attachmentsDisallowed: () =>
    new HttpError(400, 40014, "invalid request: attachments not allowed", "https://ntfy.sh/docs/config/#attachments"),
  unauthorized: () => new HttpError(401, 40101, "unauthorized", "https://ntfy.sh/docs/publish/#authentication"),
  forbidden: () => new HttpError(403, 40301, "forbidden", "https://ntfy.sh/docs/publish/#authentication"),
  // Code and words as ntfy 2.16 reports them for a sequence id outside its regex.
  sequenceIdInvalid: () => new HttpError(400, 40049, "invalid request: sequence ID invalid"),
  tooManyRequests: () => new HttpError(429, 42901, "limit reached: too many requests", "https://ntfy.sh/docs/publish/#limitations"),
};

function errorResponse(e: HttpError): Response {
  const body: Record<string, unknown> = { code: e.code, http: e.http, error: e.message };
  if (e.link) body["link"] = e.link;
  return new Response(`${JSON.stringify(body)}\n`, { status: e.http, headers: { "Content-Type": "application/json" } });
}

function bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

function randomId(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => alphabet[b % alphabet.length]).join("");
}

function parsePriority(value: string): number {
  switch (value.trim().toLowerCase()) {
    case "":
      return 0;
    case "1":
    case "min":
      return 1;
    case "2":
    case "low":
      return 2;
    case "3":
    case "default":
      return 3;
    case "4":
    case "high":
      return 4;
    case "5":
    case "max":
    case "urgent":
      return 5;
    default:
      throw errors.priorityInvalid();
  }
}

/** A parameter from the first header that has it, else the query (ntfy's readParam). */
function param(req: Request, url: URL, ...names: string[]): string {
  for (const name of names) {
    const value = req.headers.get(name);
    if (value !== null) return value.trim();
  }
  for (const name of names) {
    const value = url.searchParams.get(name.toLowerCase());
    if (value !== null) return value.trim();
  }
  return "";
}

interface Draft {
  topic: string;
  title: string;
  message: string;
  priority: number;
  tags: string[];
  click: string;
  via: "json" | "path";
  sequenceId: string;
  actions: Record<string, unknown>[];
}

/** The JSON publish body, as ntfy's publishMessage struct takes it. */
const SEQUENCE_ID = /^[-_A-Za-z0-9]{1,64}$/;

function checkSequenceId(id: string): string {
  if (id !== "" && !SEQUENCE_ID.test(id)) throw errors.sequenceIdInvalid();
  return id;
}

function parseJsonPublish(text: string, sequenceIds: boolean): Draft {
  if (bytes(text) > JSON_BODY_LIMIT_BYTES) throw errors.jsonTooLarge();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw errors.jsonInvalid(); // ntfy answers malformed JSON with 40024, as here
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw errors.jsonInvalid();
  const m = value as Record<string, unknown>;
  const str = (key: string): string => {
    const v = m[key];
    if (v === undefined || v === null) return "";
    if (typeof v !== "string") throw errors.jsonInvalid();
    return v;
  };
  const priority = m["priority"] ?? 0;
  if (typeof priority !== "number" || !Number.isInteger(priority)) throw errors.jsonInvalid();
  const tags = m["tags"] ?? [];
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== "string")) throw errors.jsonInvalid();
  const topic = str("topic");
  if (!TOPIC.test(topic)) throw errors.topicInvalid();
  // ntfy turns the JSON into its header form (X-Priority "7" is then refused like a header).
  return {
    topic,
    title: str("title"),
    message: str("message"),
    priority: priority === 0 ? 0 : parsePriority(String(priority)),
    tags: (tags as string[])
      .join(",")
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== ""),
    click: str("click"),
    via: "json",
    sequenceId: sequenceIds ? checkSequenceId(str("sequence_id")) : "",
    actions: Array.isArray(m["actions"]) ? (m["actions"] as Record<string, unknown>[]) : [],
  };
}

function parsePathPublish(req: Request, url: URL, topic: string, body: string, pathSequenceId: string, sequenceIds: boolean): Draft {
  return {
    topic,
    title: param(req, url, "X-Title", "Title", "t"),
    message: body,
    priority: parsePriority(param(req, url, "X-Priority", "Priority", "prio", "p")),
    tags: param(req, url, "X-Tags", "Tags", "Tag", "ta")
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== ""),
    click: param(req, url, "X-Click", "Click"),
    via: "path",
    sequenceId: sequenceIds ? checkSequenceId(pathSequenceId || param(req, url, "X-Sequence-ID", "Sequence-ID", "SID")) : "",
    actions: [],
  };
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export async function startNtfyStandIn(initial: StandInOptions = {}): Promise<NtfyStandIn> {
  const options: Required<StandInOptions> = {
    port: initial.port ?? 0,
    pathPrefix: (initial.pathPrefix ?? "").replace(/\/+$/, ""),
    token: initial.token ?? null,
    basic: initial.basic ?? null,
    rateLimit: initial.rateLimit === undefined ? { burst: 60, replenishMs: 5000 } : initial.rateLimit,
    attachments: initial.attachments ?? false,
    failWith: initial.failWith ?? null,
    delayMs: initial.delayMs ?? 0,
    sequenceIds: initial.sequenceIds ?? true,
    keepaliveMs: initial.keepaliveMs ?? 5_000,
  };
  const messages: ReceivedMessage[] = [];
  const requests: StandInRequest[] = [];
  const buckets = new Map<string, Bucket>();

  function takeRequest(visitor: string, nowMs: number): boolean {
    const limit = options.rateLimit;
    if (limit === null) return true;
    const bucket = buckets.get(visitor) ?? { tokens: limit.burst, updatedMs: nowMs };
    const refill = Math.floor((nowMs - bucket.updatedMs) / limit.replenishMs);
    if (refill > 0) {
      bucket.tokens = Math.min(limit.burst, bucket.tokens + refill);
      bucket.updatedMs += refill * limit.replenishMs;
    }
    buckets.set(visitor, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens--;
    return true;
  }

  /** "ok", "wrong" (401 at once) or "none" (403 if the topic needs a login). */
  function checkAuth(header: string | null): "ok" | "wrong" | "none" {
    if (options.token === null && options.basic === null) return "ok";
    if (header === null || header.trim() === "") return "none";
    const value = header.trim();
    if (options.token !== null && value === `Bearer ${options.token}`) return "ok";
    if (
      options.basic !== null &&
      value === `Basic ${Buffer.from(`${options.basic.user}:${options.basic.password}`, "utf8").toString("base64")}`
    )
      return "ok";
    return "wrong";
  }

  /**
   * The read-only endpoints a client may use to check its setup, as ntfy v2 answers them
   * (server/server.go, server_account.go): credentials that do not verify are refused with 401
   * before any route (maybeAuthenticate); /v1/health says {"healthy":true}; /v1/account is
   * allowed anonymously and names the account ("*" and role "anonymous" without a login);
   * /<topic>/auth is {"success":true} when the login may read the topic, else 403. Here a
   * configured token or login may read and write every topic and anonymous users neither
   * (ntfy's auth-default-access "deny-all"); without one everything is open. Not modelled:
   * per-topic ACLs, tiers, the stats' real counts.
   */
  function handleGet(req: Request, path: string): Response {
    const auth = checkAuth(req.headers.get("authorization"));
    if (auth === "wrong") throw errors.unauthorized();
    if (path === "/v1/health") return Response.json({ healthy: true });
    if (path === "/v1/account") {
      const header = req.headers.get("authorization") ?? "";
      const anonymous = auth === "none" || header === "";
      const username = anonymous ? "*" : header.startsWith("Basic") ? (options.basic?.user ?? "*") : "standin-token-owner";
      return Response.json({
        username,
        role: anonymous ? "anonymous" : "user",
        limits: { basis: "tier", messages: 250 },
        stats: { messages: 0, messages_remaining: 250 },
      });
    }
    const topicAuth = /^\/([-_A-Za-z0-9]{1,64}(?:,[-_A-Za-z0-9]{1,64})*)\/auth$/.exec(path);
    if (topicAuth) {
      if (auth === "none") throw errors.forbidden();
      return Response.json({ success: true });
    }
    throw errors.notFound();
  }

  async function handle(req: Request, server: Server<undefined>, receivedAtMs: number): Promise<Response> {
    if (options.failWith !== null) {
      const status = options.failWith;
      return errorResponse(new HttpError(status, status * 100 + 1, status >= 500 ? "internal server error" : "stand-in failure"));
    }
    const url = new URL(req.url);
    if (!url.pathname.startsWith(`${options.pathPrefix}/`)) throw errors.notFound();
    const path = url.pathname.slice(options.pathPrefix.length);
    const isPublish = req.method === "POST" || req.method === "PUT";
    const subscribe = /^\/([-_A-Za-z0-9]{1,64})\/json$/.exec(path);
    if (subscribe && req.method === "GET") {
      if (checkAuth(req.headers.get("authorization")) !== "ok")
        throw req.headers.get("authorization") ? errors.unauthorized() : errors.forbidden();
      return subscribeStream(subscribe[1] as string, receivedAtMs, url.searchParams.get("since"));
    }
    if (req.method === "GET") return handleGet(req, path);
    // "/", "/<topic>", and on 2.16+ "/<topic>/<seq>" (publish, or DELETE) and "/<topic>/<seq>/clear" (PUT).
    const parts = path.split("/").slice(1);
    const topicInPath = parts[0] ?? "";
    const seqInPath = parts[1] ?? "";
    const clear = options.sequenceIds && parts.length === 3 && parts[2] === "clear" && req.method === "PUT";
    const del = options.sequenceIds && parts.length === 2 && req.method === "DELETE";
    const seqPublish = options.sequenceIds && parts.length === 2 && isPublish;
    const plain = path === "/" || (parts.length === 1 && isPublish);
    if (!(plain || clear || del || seqPublish) || (path !== "/" && !TOPIC.test(topicInPath)) || (!plain && !SEQUENCE_ID.test(seqInPath)))
      throw errors.notFound();
    const auth = checkAuth(req.headers.get("authorization"));
    if (auth === "wrong") throw errors.unauthorized();
    if (clear || del) {
      if (!takeRequest(server.requestIP(req)?.address ?? "unknown", receivedAtMs)) throw errors.tooManyRequests();
      if (auth === "none") throw errors.forbidden();
      const marker: ReceivedMessage = {
        id: randomId(),
        topic: topicInPath,
        title: "",
        message: "",
        priority: 0,
        tags: [],
        click: "",
        attachment: null,
        via: "path",
        actions: [],
        sequenceId: seqInPath,
        event: clear ? "message_clear" : "message_delete",
        authorization: req.headers.get("authorization"),
        contentType: req.headers.get("content-type"),
        receivedAtMs,
      };
      messages.push(marker);
      return Response.json(messageObject(marker), { status: 200 });
    }
    const body = await req.text();
    const draft =
      path === "/"
        ? parseJsonPublish(body, options.sequenceIds)
        : parsePathPublish(req, url, topicInPath, body, seqInPath, options.sequenceIds);
    if (!takeRequest(server.requestIP(req)?.address ?? "unknown", receivedAtMs)) throw errors.tooManyRequests();
    if (auth === "none") throw errors.forbidden();
    if (bytes(draft.title) > TITLE_LIMIT_BYTES) throw errors.titleTooLarge();
    if (draft.tags.reduce((sum, t) => sum + bytes(t), 0) > TAGS_LIMIT_BYTES) throw errors.tagsTooLarge();

    let message = draft.message.trim();
    let attachment: ReceivedMessage["attachment"] = null;
    if (bytes(draft.message) > MESSAGE_LIMIT_BYTES) {
      if (!options.attachments) throw errors.attachmentsDisallowed();
      attachment = { name: "attachment.txt", size: bytes(draft.message) };
      message = `You received a file: ${attachment.name}`;
    }
    if (message === "") message = "triggered";
    const received: ReceivedMessage = {
      id: randomId(),
      topic: draft.topic,
      title: draft.title,
      message,
      priority: draft.priority,
      tags: draft.tags,
      click: draft.click,
      attachment,
      via: draft.via,
      actions: draft.actions,
      sequenceId: draft.sequenceId,
      event: "message",
      authorization: req.headers.get("authorization"),
      contentType: req.headers.get("content-type"),
      receivedAtMs,
    };
    messages.push(received);
    publishToSubscribers(received);
    return Response.json(messageObject(received), { status: 200 });
  }

  const subscribers = new Set<{ topic: string; push: (line: string) => void; close: () => void }>();

  function subscribeStream(topic: string, nowMs: number, since: string | null): Response {
    const encoder = new TextEncoder();
    let me: { topic: string; push: (line: string) => void; close: () => void } | null = null;
    let keepalive: ReturnType<typeof setInterval> | null = null;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const stop = () => {
          if (keepalive) clearInterval(keepalive);
          if (me) subscribers.delete(me);
        };
        me = {
          topic,
          push: (line) => {
            try {
              controller.enqueue(encoder.encode(`${line}\n`));
            } catch {
              stop(); // the subscriber went away (or the stand-in stopped): nothing more to send it
            }
          },
          close: () => {
            stop();
            try {
              controller.close();
            } catch {
              // already closed by the subscriber
            }
          },
        };
        subscribers.add(me);
        me.push(JSON.stringify({ id: randomId(), time: Math.floor(nowMs / 1000), event: "open", topic }));
        if (since !== null) {
          const mine = messages.filter((m) => m.topic === topic);
          const from = since === "all" ? 0 : mine.findIndex((m) => m.id === since) + 1;
          for (const m of mine.slice(from)) me.push(JSON.stringify(messageObject(m)));
        }
        keepalive = setInterval(
          () => me?.push(JSON.stringify({ id: randomId(), time: Math.floor(Date.now() / 1000), event: "keepalive", topic })),
          options.keepaliveMs,
        );
      },
      cancel() {
        if (keepalive) clearInterval(keepalive);
        if (me) subscribers.delete(me);
      },
    });
    return new Response(stream, { status: 200, headers: { "Content-Type": "application/x-ndjson; charset=utf-8" } });
  }

  function publishToSubscribers(m: ReceivedMessage): void {
    for (const s of subscribers) if (s.topic === m.topic) s.push(JSON.stringify(messageObject(m)));
  }

  function messageObject(m: ReceivedMessage): Record<string, unknown> {
    const time = Math.floor(m.receivedAtMs / 1000);
    const out: Record<string, unknown> = { id: m.id, time, expires: time + CACHE_DURATION_S, event: m.event, topic: m.topic };
    if (m.sequenceId) out["sequence_id"] = m.sequenceId;
    if (m.event !== "message") return out;
    if (m.title) out["title"] = m.title;
    out["message"] = m.message;
    if (m.priority) out["priority"] = m.priority;
    if (m.tags.length) out["tags"] = m.tags;
    if (m.click) out["click"] = m.click;
    if (m.actions.length) out["actions"] = m.actions;
    if (m.attachment)
      out["attachment"] = {
        name: m.attachment.name,
        type: "text/plain; charset=utf-8",
        size: m.attachment.size,
        url: `${base()}/file/${m.id}.txt`,
      };
    return out;
  }

  async function fetchHandler(req: Request, server: Server<undefined>): Promise<Response> {
    const receivedAtMs = Date.now();
    let response: Response;
    try {
      response = await handle(req, server, receivedAtMs);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      response = errorResponse(error);
    }
    if (options.delayMs > 0) await Bun.sleep(options.delayMs);
    requests.push({
      method: req.method,
      path: new URL(req.url).pathname,
      status: response.status,
      authorization: req.headers.get("authorization"),
      receivedAtMs,
    });
    return response;
  }

  const serve = (port: number): Server<undefined> => Bun.serve({ hostname: "127.0.0.1", port, fetch: fetchHandler });
  let server = serve(options.port);
  const port = server.port as number;
  const base = () => `http://127.0.0.1:${port}${options.pathPrefix}`;

  return {
    get url() {
      return base();
    },
    port,
    options,
    messages,
    requests,
    notifications(topic) {
      const shown = new Map<string, ShownNotification>();
      for (const m of messages) {
        if (topic !== undefined && m.topic !== topic) continue;
        const key = `${m.topic}/${m.sequenceId || m.id}`;
        const seen = shown.get(key);
        if (m.event === "message") {
          // A publish after a clear or delete shows the sequence again, as a new notification would.
          if (seen) shown.set(key, { ...seen, latest: m, publishes: seen.publishes + 1, state: "shown" });
          else shown.set(key, { sequenceId: m.sequenceId || m.id, topic: m.topic, latest: m, publishes: 1, state: "shown" });
        } else if (seen) seen.state = m.event === "message_clear" ? "cleared" : "deleted";
      }
      return [...shown.values()];
    },
    topicUrl: (topic) => `${base()}/${topic}`,
    async stop() {
      for (const s of subscribers) s.close();
      subscribers.clear();
      await server.stop(true);
    },
    async restart() {
      server = serve(port);
    },
  };
}
