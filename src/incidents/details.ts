import { createHmac, timingSafeEqual } from "node:crypto";

// The "Details" button's address. A phone's ntfy `view` action opens a URL and can send no
// header, so the page it opens cannot ask for the API's bearer token. Instead the URL itself
// is the permission: it names one incident and carries a token only the daemon's key can make
// (HMAC-SHA256 of the incident id, 128 bits shown), so knowing one incident's link shows that
// incident only, and no link can be guessed. Pure: key and id in.

const TOKEN_HEX = 32;

export function detailsToken(key: Buffer, incidentId: string): string {
  // "details " keeps these apart from the control messages the same key signs.
  return createHmac("sha256", key).update(`details ${incidentId}`).digest("hex").slice(0, TOKEN_HEX);
}

/** The page's path under the HTTP API: /details/<incident id>/<token>. */
export function detailsPath(key: Buffer, incidentId: string): string {
  return `/details/${incidentId}/${detailsToken(key, incidentId)}`;
}

/** The incident a /details path names, when its token is this key's; null otherwise (compared in constant time). */
export function verifyDetailsPath(key: Buffer, path: string): string | null {
  const m = /^\/details\/([0-9a-f]{1,32})\/([0-9a-f]{32})$/.exec(path);
  if (!m) return null;
  const [, incidentId, token] = m as unknown as [string, string, string];
  const expected = Buffer.from(detailsToken(key, incidentId), "hex");
  return timingSafeEqual(expected, Buffer.from(token, "hex")) ? incidentId : null;
}
