import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { detailsPath, detailsToken, verifyDetailsPath } from "../../src/incidents/details.ts";
import { Redactor } from "../../src/text/redact.ts";
import { storedUnitIncident } from "../_builders.ts";
import { useServedStore } from "./_server.ts";

// The "Details" button's page on the real Bun.serve, from a real store: a phone's ntfy `view`
// action sends no Authorization header, so /details/ID/TOKEN is served without the API's
// bearer token, the link being the permission: right link → the incident, read-only; a wrong
// token, another incident's token, an unknown incident → the same 404; everything else still
// needs the bearer token.

const NOW_US = Date.UTC(2026, 10, 23, 9, 0, 0) * 1000;
const TOKEN = "api-s3cret";
const key = randomBytes(32);
const served = useServedStore("details", NOW_US);

async function get(path: string, headers: Record<string, string> = {}, detailsKey: Buffer | null = key) {
  const url = served.url({ token: TOKEN, detailsKey, redactor: new Redactor({ enabled: true, patterns: [] }) });
  const r = await fetch(new URL(path, url), { headers });
  return { status: r.status, text: await r.text(), headers: r.headers };
}

describe("details links", () => {
  test("a link names one incident; its token is the key's and nothing else's", () => {
    const id = "aa".padEnd(32, "0");
    const path = detailsPath(key, id);
    expect(path).toMatch(/^\/details\/a{2}0{30}\/[0-9a-f]{32}$/);
    expect(verifyDetailsPath(key, path)).toBe(id);
    expect(verifyDetailsPath(randomBytes(32), path)).toBeNull();
    expect(verifyDetailsPath(key, path.replace("aa0", "ab0"))).toBeNull();
    expect(detailsToken(key, id)).not.toBe(detailsToken(key, "bb".padEnd(32, "0")));
  });
});

describe("/details/ID/TOKEN", () => {
  test("the right link shows the incident and its events without the bearer token; the page is inert", async () => {
    const inc = storedUnitIncident(served.db, "aa".padEnd(32, "0"), "backup<script>.service", NOW_US - 60_000_000);
    const r = await get(detailsPath(key, inc.id));
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("text/html");
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.headers.get("referrer-policy")).toBe("no-referrer");
    expect(r.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(r.text).toContain("Service failed: backup&lt;script&gt;.service (exit-code)");
    expect(r.text).not.toContain("<script>");
    expect(r.text).toContain("Occurrences");
    expect(r.text).toContain(`Incident ${inc.id}`);
    expect(r.text).toContain("Events (1)");
  });

  test("a wrong token, another incident's token, an unknown incident: the same 404, and the rest of the API still needs the token", async () => {
    const a = storedUnitIncident(served.db, "aa".padEnd(32, "0"), "a.service", NOW_US);
    const b = storedUnitIncident(served.db, "bb".padEnd(32, "0"), "b.service", NOW_US);
    const wrong = [
      `/details/${a.id}/${"0".repeat(32)}`,
      `/details/${a.id}/${detailsToken(key, b.id)}`,
      detailsPath(key, "cc".padEnd(32, "0")),
      `/details/${a.id}`,
    ];
    for (const path of wrong) {
      const r = await get(path);
      expect([path, r.status, r.text]).toEqual([path, 404, "Not found\n"]);
    }
    expect((await get(`/incidents/${a.id}`)).status).toBe(401);
    expect((await get(`/incidents/${a.id}`, { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });

  test("without a details key ([http] public_url unset) there is no such page: the bearer token is asked for", async () => {
    const a = storedUnitIncident(served.db, "aa".padEnd(32, "0"), "a.service", NOW_US);
    expect((await get(detailsPath(key, a.id), {}, null)).status).toBe(401);
  });
});
