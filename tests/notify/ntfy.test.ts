import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ntfyTestConfig } from "../_builders.ts";
import type { Config } from "../../src/config/schema.ts";
import { NotifyError, type SendReceipt } from "../../src/notify/notifier.ts";
import type { Notification } from "../../src/text/alert.ts";
import { NtfyNotifier, publishBody } from "../../src/notify/ntfy.ts";
import { parseNtfyUrl } from "../../src/parse/ntfy-url.ts";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";

// The client against a local stand-in that checks what ntfy checks (tests/_ntfy-standin.ts),
// and against real sockets for the failures no server answers: a closed port, an unknown
// host, a certificate nobody trusts.

const dir = mkdtempSync(join(tmpdir(), "logtriage-ntfy-"));
const standIns: NtfyStandIn[] = [];
afterAll(async () => {
  await Promise.all(standIns.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function standIn(options: Parameters<typeof startNtfyStandIn>[0] = {}): Promise<NtfyStandIn> {
  const s = await startNtfyStandIn(options);
  standIns.push(s);
  return s;
}

function config(url: string, over: Partial<Config["ntfy"]> = {}): Config["ntfy"] {
  return ntfyTestConfig(url, { minSeverity: {}, ...over });
}

const note: Notification = {
  title: "🔴 [workstation] OOM kill: firefox (pid 4521, 3.2 GB RSS)",
  message: "Host: workstation\nTime: 2026-02-19 14:32:05 GMT+5:30\n\nfirefox (pid 4521) was killed — ünïcödé 日本語",
  priority: 5,
  tags: ["skull", "memory", "workstation"],
  click: "https://grafana.example/d/logtriage",
};

function send(cfg: Config["ntfy"], n: Notification = note, signal = new AbortController().signal): Promise<SendReceipt | undefined> {
  return new NtfyNotifier(cfg).send(n, signal);
}

async function failure(promise: Promise<unknown>): Promise<NotifyError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof NotifyError) return error;
    throw error;
  }
  throw new Error("expected the send to fail");
}

describe("parseNtfyUrl", () => {
  test.each([
    ["https://ntfy.sh/my-topic", "https://ntfy.sh", "my-topic"],
    ["https://ntfy.sh/my-topic/", "https://ntfy.sh", "my-topic"],
    ["http://127.0.0.1:8080/sub/path/alerts_1", "http://127.0.0.1:8080/sub/path", "alerts_1"],
    ["https://user:secret@ntfy.example:8443/t?auth=x#frag", "https://ntfy.example:8443", "t"],
    ["HTTPS://NTFY.SH/Mixed-Case", "https://ntfy.sh", "Mixed-Case"],
  ])("%s → %s + %s", (url, serverUrl, topic) => {
    expect(parseNtfyUrl(url)).toEqual({ serverUrl, topic });
  });

  test.each([
    "",
    "ntfy.sh/my-topic",
    "https://ntfy.sh",
    "https://ntfy.sh/",
    "https://ntfy.sh/my.topic",
    "https://ntfy.sh/caf%C3%A9",
    `https://ntfy.sh/${"t".repeat(65)}`,
    "ftp://ntfy.sh/t",
  ])("%p is not a topic URL", (url) => {
    expect(parseNtfyUrl(url)).toBeNull();
  });

  test("a 64-character topic is ntfy's longest", () => {
    expect(parseNtfyUrl(`https://ntfy.sh/${"t".repeat(64)}`)?.topic).toHaveLength(64);
  });

  test("the notifier refuses a URL without a topic, saying what one looks like", () => {
    expect(() => new NtfyNotifier(config("https://ntfy.sh/"))).toThrow('is not an ntfy topic URL like "https://ntfy.sh/my-topic"');
  });
});

describe("publishing", () => {
  test("one JSON POST to the server root: topic, title, message, priority, tags, click", async () => {
    const s = await standIn();
    await send(config(s.topicUrl("alerts")));
    expect(s.requests.map((r) => [r.method, r.path, r.status])).toEqual([["POST", "/", 200]]);
    const m = s.messages[0];
    expect(m?.via).toBe("json");
    expect(m?.contentType).toBe("application/json");
    expect(m?.topic).toBe("alerts");
    expect(m?.title).toBe(note.title); // emoji and all, byte for byte
    expect(m?.message).toBe(note.message);
    expect(m?.priority).toBe(5);
    expect(m?.tags).toEqual(["skull", "memory", "workstation"]);
    expect(m?.click).toBe("https://grafana.example/d/logtriage");
    expect(m?.authorization).toBeNull();
  });

  test("click is left out when there is none", () => {
    expect(publishBody("alerts", { ...note, click: null })).toEqual({
      topic: "alerts",
      title: note.title,
      message: note.message,
      priority: 5,
      tags: note.tags,
    });
  });

  test("behind a path prefix, the POST goes to the prefix's root", async () => {
    const s = await standIn({ pathPrefix: "/ntfy" });
    await send(config(s.topicUrl("alerts")));
    expect(s.requests.map((r) => r.path)).toEqual(["/ntfy/"]);
    expect(s.messages).toHaveLength(1);
  });
});

describe("one notification per incident: ntfy sequence ids", () => {
  test("publishes with the same sequence id replace one notification; clear dismisses it; the reply echoes the id", async () => {
    const s = await standIn();
    const cfg = config(s.topicUrl("alerts"));
    await send(cfg, { ...note, sequenceId: "logtriage-abc" });
    await send(cfg, { ...note, title: "updated", sequenceId: "logtriage-abc" });
    await send(cfg, { ...note, sequenceId: "logtriage-other" });
    expect(s.notifications("alerts").map((n) => [n.sequenceId, n.publishes, n.latest.title, n.state])).toEqual([
      ["logtriage-abc", 2, "updated", "shown"],
      ["logtriage-other", 1, note.title, "shown"],
    ]);
    await send(cfg, { ...note, sequenceId: "logtriage-abc", op: "clear" });
    await send(cfg, { ...note, sequenceId: "logtriage-other", op: "delete" });
    expect(s.requests.slice(3).map((r) => [r.method, r.path, r.status])).toEqual([
      ["PUT", "/alerts/logtriage-abc/clear", 200],
      ["DELETE", "/alerts/logtriage-other", 200],
    ]);
    expect(s.notifications("alerts").map((n) => n.state)).toEqual(["cleared", "deleted"]);
  });

  test("the stand-in's reply carries sequence_id on a 2.16+ server, not on an older one, which shows each publish anew", async () => {
    const current = await standIn();
    const reply = await fetch(`${current.url}/`, { method: "POST", body: JSON.stringify({ topic: "t", message: "m", sequence_id: "s1" }) });
    expect(((await reply.json()) as Record<string, unknown>)["sequence_id"]).toBe("s1");
    // The notifier hands the echo back: how the sender tells one server from the other.
    expect(await send(config(current.topicUrl("t")), { ...note, sequenceId: "s2" })).toEqual({ echoedSequenceId: "s2" });
    const old = await standIn({ sequenceIds: false });
    const cfg = config(old.topicUrl("t"));
    expect(await send(cfg, { ...note, sequenceId: "s1" })).toEqual({ echoedSequenceId: null });
    await send(cfg, { ...note, sequenceId: "s1" });
    expect(old.notifications("t")).toHaveLength(2);
    const cleared = await failure(send(cfg, { ...note, sequenceId: "s1", op: "clear" }));
    expect(cleared.status).toBe(404);
  });

  test("a sequence id outside ntfy's rule is refused (400, ntfy 40049), not retryable", async () => {
    const s = await standIn();
    const error = await failure(send(config(s.topicUrl("alerts")), { ...note, sequenceId: "has space" }));
    expect(error.status).toBe(400);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("sequence ID invalid, ntfy code 40049");
  });
});

describe("credentials", () => {
  test("token → Authorization: Bearer", async () => {
    const s = await standIn({ token: "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2" });
    await send(config(s.topicUrl("alerts"), { token: "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2" }));
    expect(s.messages[0]?.authorization).toBe("Bearer tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2");
  });

  test("user + password → Basic, UTF-8 encoded", async () => {
    const s = await standIn({ basic: { user: "phil", password: "pässwörd:1" } });
    await send(config(s.topicUrl("alerts"), { user: "phil", password: "pässwörd:1" }));
    expect(s.messages[0]?.authorization).toBe(`Basic ${Buffer.from("phil:pässwörd:1").toString("base64")}`);
  });

  test("token_file is read (and trimmed) at each send, so a rotated token applies at once", async () => {
    const s = await standIn({ token: "tk_first" });
    const file = join(dir, "ntfy-token");
    writeFileSync(file, "tk_first\n");
    const notifier = new NtfyNotifier(config(s.topicUrl("alerts"), { tokenFile: file }));
    await notifier.send(note, new AbortController().signal);
    s.options.token = "tk_second";
    writeFileSync(file, "  tk_second  \n");
    await notifier.send(note, new AbortController().signal);
    expect(s.messages.map((m) => m.authorization)).toEqual(["Bearer tk_first", "Bearer tk_second"]);
  });

  test("a missing token_file fails before any request, naming the file; not retryable", async () => {
    const s = await standIn({ token: "tk_x" });
    const file = join(dir, "no-such-token");
    const e = await failure(send(config(s.topicUrl("alerts"), { tokenFile: file })));
    expect(e.message).toBe(`cannot read [ntfy] token_file ${file}: no such file`);
    expect([e.status, e.retryable]).toEqual([null, false]);
    expect(s.requests).toHaveLength(0);
  });

  test("an empty token_file, or one that is a directory, says so", async () => {
    const file = join(dir, "empty-token");
    writeFileSync(file, "\n");
    expect((await failure(send(config("http://127.0.0.1:9/t", { tokenFile: file })))).message).toBe(`[ntfy] token_file ${file} is empty`);
    expect((await failure(send(config("http://127.0.0.1:9/t", { tokenFile: dir })))).message).toBe(
      `cannot read [ntfy] token_file ${dir}: it is a directory`,
    );
  });

  test("wrong token → 401: the reason names the server and the keys to check; not retryable", async () => {
    const s = await standIn({ token: "tk_right" });
    const e = await failure(send(config(s.topicUrl("alerts"), { token: "tk_wrong" })));
    expect(e.message).toBe(
      `${s.url} rejected the credentials for topic "alerts" (HTTP 401: unauthorized, ntfy code 40101): check [ntfy] token / token_file / user+password`,
    );
    expect([e.status, e.retryable]).toEqual([401, false]);
    expect(e.message).not.toContain("tk_wrong");
    expect(s.messages).toHaveLength(0);
  });

  test("no credentials for a protected topic → 403, and the reason says none are set", async () => {
    const s = await standIn({ basic: { user: "phil", password: "pw" } });
    const e = await failure(send(config(s.topicUrl("alerts"))));
    expect([e.status, e.retryable]).toEqual([403, false]);
    expect(e.message).toEndWith("check [ntfy] token / token_file / user+password (none are set)");
  });

  test("a token with characters no HTTP header can carry is refused before sending", async () => {
    const e = await failure(send(config("http://127.0.0.1:9/t", { token: "tk_ünïcode" })));
    expect(e.message).toBe('[ntfy] token holds characters an HTTP header cannot carry (an ntfy token looks like "tk_…")');
    expect(e.retryable).toBe(false);
  });
});

describe("failures: reason in words, naming the server, and whether waiting helps", () => {
  test("closed port → refused, retryable; after the server comes back on that port, it goes through", async () => {
    const s = await standIn();
    await s.stop();
    const e = await failure(send(config(s.topicUrl("alerts"))));
    expect(e.message).toBe(`${s.url} refused the connection: is ntfy running and listening there?`);
    expect([e.status, e.retryable]).toEqual([null, true]);
    await s.restart();
    await send(config(s.topicUrl("alerts")));
    expect(s.messages).toHaveLength(1);
  });

  test("unknown host → cannot resolve, retryable", async () => {
    const e = await failure(send(config("http://nonexistent.invalid/alerts")));
    expect(e.message).toStartWith("cannot resolve host nonexistent.invalid (");
    expect([e.status, e.retryable]).toEqual([null, true]);
  });

  test("wrong path (no ntfy there) → 404, not retryable", async () => {
    const s = await standIn({ pathPrefix: "/ntfy" });
    const e = await failure(send(config(`http://127.0.0.1:${s.port}/alerts`)));
    expect(e.message).toBe(
      `http://127.0.0.1:${s.port} has no ntfy publish endpoint there (HTTP 404: page not found, ntfy code 40401): check [ntfy] url, e.g. "https://ntfy.sh/my-topic"`,
    );
    expect([e.status, e.retryable]).toEqual([404, false]);
  });

  test("a JSON body over ntfy's 8 KB → 413, not retryable", async () => {
    const s = await standIn();
    const e = await failure(send(config(s.topicUrl("alerts")), { ...note, message: "x".repeat(9000) }));
    expect(e.message).toBe(`${s.url} refused the message as too large (HTTP 413: JSON body too large, ntfy code 41303)`);
    expect([e.status, e.retryable]).toEqual([413, false]);
  });

  test("a message over 4096 bytes on a server without attachments → 400 with ntfy's own words, not retryable", async () => {
    const s = await standIn();
    const e = await failure(send(config(s.topicUrl("alerts")), { ...note, message: "x".repeat(5000) }));
    expect(e.message).toBe(`${s.url} rejected the message (HTTP 400: invalid request: attachments not allowed, ntfy code 40014)`);
    expect([e.status, e.retryable]).toEqual([400, false]);
  });

  test("a title over 1 KB → 400 (ntfy 40057)", async () => {
    const s = await standIn();
    const e = await failure(send(config(s.topicUrl("alerts")), { ...note, title: "é".repeat(513) }));
    expect([e.status, e.retryable]).toEqual([400, false]);
    expect(e.message).toContain("ntfy code 40057");
  });

  test("after ntfy's burst of 60 requests → 429, retryable", async () => {
    const s = await standIn();
    const cfg = config(s.topicUrl("alerts"));
    for (let i = 0; i < 60; i++) await send(cfg);
    const e = await failure(send(cfg));
    expect(e.message).toBe(`${s.url} is rate limiting this host (HTTP 429: limit reached: too many requests, ntfy code 42901)`);
    expect([e.status, e.retryable]).toEqual([429, true]);
    expect(s.messages).toHaveLength(60);
  });

  test.each([500, 503])("HTTP %d → retryable", async (status) => {
    const s = await standIn({ failWith: status });
    const e = await failure(send(config(s.topicUrl("alerts"))));
    expect(e.message).toStartWith(`${s.url} failed to take the message (HTTP ${status}`);
    expect([e.status, e.retryable]).toEqual([status, true]);
  });

  test("no answer within [ntfy] timeout → says how long it waited, retryable", async () => {
    const s = await standIn({ delayMs: 3000 });
    const started = performance.now();
    const e = await failure(send(config(s.topicUrl("alerts"), { timeoutMs: 300 })));
    expect(performance.now() - started).toBeLessThan(2500);
    expect(e.message).toBe(`no answer from ${s.url} within 0.3 s`);
    expect([e.status, e.retryable]).toEqual([null, true]);
  });

  test("the caller's signal (shutdown) cancels the send", async () => {
    const s = await standIn({ delayMs: 3000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const e = await failure(send(config(s.topicUrl("alerts")), note, controller.signal));
    expect(e.message).toBe(`sending to ${s.url} was cancelled`);
    expect(e.retryable).toBe(true);
  });

  test("a redirect is reported, not followed (fetch would re-send it as a GET)", async () => {
    const redirector = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Response(null, { status: 301, headers: { Location: "https://ntfy.example/" } }),
    });
    let requests = 0;
    const counted = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => (requests++, new Response(null, { status: 308, headers: { Location: `http://127.0.0.1:${redirector.port}/` } })),
    });
    try {
      const e = await failure(send(config(`http://127.0.0.1:${counted.port}/alerts`)));
      expect(e.message).toBe(
        `http://127.0.0.1:${counted.port} redirects (HTTP 308) to http://127.0.0.1:${redirector.port}/: put the address it names, with the topic, in [ntfy] url`,
      );
      expect([e.status, e.retryable, requests]).toEqual([308, false, 1]);
    } finally {
      await Promise.all([redirector.stop(true), counted.stop(true)]);
    }
  });

  test("a certificate nobody vouches for → TLS error naming it, retryable", async () => {
    const tls = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: SELF_SIGNED_CERT, key: SELF_SIGNED_KEY },
      fetch: () => new Response("{}"),
    });
    try {
      const e = await failure(send(config(`https://127.0.0.1:${tls.port}/alerts`)));
      expect(e.message).toBe(`TLS error with https://127.0.0.1:${tls.port}: its certificate is self-signed (DEPTH_ZERO_SELF_SIGNED_CERT)`);
      expect([e.status, e.retryable]).toEqual([null, true]);
    } finally {
      await tls.stop(true);
    }
  });

  test("only the first 4096 bytes of a reply are read: an endless error body still fails promptly", async () => {
    const head = new TextEncoder().encode('{"code":50201,"http":502,"error":"bad gateway","padding":"');
    const chunk = new TextEncoder().encode("x".repeat(16_000));
    const endless = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Response(new ReadableStream({ start: (c) => c.enqueue(head), pull: (c) => c.enqueue(chunk) }), { status: 502 }),
    });
    try {
      const e = await failure(send(config(`http://127.0.0.1:${endless.port}/alerts`, { timeoutMs: 3000 })));
      // Not a timeout: the client stopped reading. Cut short, the JSON does not parse, so only the status shows.
      expect(e.message).toBe(`http://127.0.0.1:${endless.port} failed to take the message (HTTP 502)`);
    } finally {
      await endless.stop(true);
    }
  });
});

describe("the stand-in itself follows ntfy", () => {
  test("plain publish to /<topic> with X-Title / X-Priority / X-Tags headers", async () => {
    const s = await standIn();
    const r = await fetch(s.topicUrl("backups"), {
      method: "PUT",
      body: "Backup done",
      headers: { "X-Title": "nightly", "X-Priority": "high", "X-Tags": "floppy_disk, ok" },
    });
    const reply = (await r.json()) as Record<string, unknown>;
    expect(r.status).toBe(200);
    expect(reply).toMatchObject({
      event: "message",
      topic: "backups",
      title: "nightly",
      message: "Backup done",
      priority: 4,
      tags: ["floppy_disk", "ok"],
    });
    expect(typeof reply["id"]).toBe("string");
    expect(s.messages[0]?.via).toBe("path");
  });

  test("an invalid topic, priority or JSON is refused with ntfy's codes", async () => {
    const s = await standIn();
    const post = async (body: string) => {
      const r = await fetch(`${s.url}/`, { method: "POST", body });
      return [r.status, ((await r.json()) as { code?: number }).code];
    };
    expect(await post(JSON.stringify({ topic: "no spaces", message: "x" }))).toEqual([400, 40009]);
    expect(await post(JSON.stringify({ topic: "t", message: "x", priority: 7 }))).toEqual([400, 40007]);
    expect(await post("{not json")).toEqual([400, 40024]);
    // All tags together: 512 bytes pass, 513 do not (commas not counted, as in ntfy's own test).
    expect(await post(JSON.stringify({ topic: "t", tags: ["a".repeat(300), "b".repeat(213)] }))).toEqual([400, 40058]);
    expect(await post(JSON.stringify({ topic: "t", tags: ["a".repeat(300), "b".repeat(212)] }))).toEqual([200, undefined]);
  });

  test("with attachments on, an over-long message becomes attachment.txt, as on ntfy.sh", async () => {
    const s = await standIn({ attachments: true });
    await send(config(s.topicUrl("alerts")), { ...note, message: "y".repeat(5000) });
    expect(s.messages[0]?.message).toBe("You received a file: attachment.txt");
    expect(s.messages[0]?.attachment).toEqual({ name: "attachment.txt", size: 5000 });
  });

  test("the request bucket refills one per interval", async () => {
    const s = await standIn({ rateLimit: { burst: 2, replenishMs: 400 } });
    const cfg = config(s.topicUrl("alerts"));
    await send(cfg);
    await send(cfg);
    expect((await failure(send(cfg))).status).toBe(429);
    await Bun.sleep(450);
    await send(cfg);
    expect(s.messages).toHaveLength(3);
  });
});

// A self-signed certificate for 127.0.0.1 / localhost, made for this test with
// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500
//  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1`; valid to 2126.
// The key protects nothing.
const SELF_SIGNED_CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUNkBWD6nbZ/RN2Cy6jA3qUz2+TG4wCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyMjIwMzYzN1oYDzIxMjYxMDI5
MjAzNjM3WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARbMbeEhgSct2IQklXwoCcUghpoUueUO6WxYb6S2HP3CebvsHnShfPa
xBTSIcWXTRqALOPc+o8SyE0QKyQIpdj4o28wbTAdBgNVHQ4EFgQUGOZ/RnrvKtac
/bJq0a4/wBbCSI4wHwYDVR0jBBgwFoAUGOZ/RnrvKtac/bJq0a4/wBbCSI4wDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIhAMt8VzchxH9OqFD1WtGAg7ZDy4656BNJ0++EL0YAJ20CAiB1
HC2YDqESmrB01HJrSbUNhm7JRYYfl1M4XiwW8CtTcw==
-----END CERTIFICATE-----
`;
const SELF_SIGNED_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgffAZqvEdzVj6st06
6f7gKLCcJxN+u2Ic8m/Lh3t7bsahRANCAARbMbeEhgSct2IQklXwoCcUghpoUueU
O6WxYb6S2HP3CebvsHnShfPaxBTSIcWXTRqALOPc+o8SyE0QKyQIpdj4
-----END PRIVATE KEY-----
`;
