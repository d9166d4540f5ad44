import { createHmac, timingSafeEqual } from "node:crypto";

// Signed control messages. The phone cannot reach the machine, so an alert's "Mute 24 h"
// button publishes a message to a control topic on the same ntfy server, which the daemon
// subscribes to. Anyone who knows a topic can publish to it, so the daemon acts only on
// messages signed with its own key (HMAC-SHA256), issued within the last MAX_AGE (a button
// older than that is stale), and never twice (the nonce is remembered). The signature is made
// when the alert is written: the phone only carries it. Pure: key, text and time in.
//
//   lt1 mute <incident id> <seconds, 0 = until it changes> <issued unix seconds> <nonce> <hex HMAC of all before it>

export const CONTROL_VERSION = "lt1";
/** How long a button stays good: a notification older than a week is not a reason to act. */
export const CONTROL_MAX_AGE_US = 7 * 86_400 * 1_000_000;
/** Clocks of phone-free signing and checking are the same machine's; a little slack for a clock step. */
const FUTURE_SLACK_US = 5 * 60 * 1_000_000;

export interface MuteRequest {
  incidentId: string;
  /** null: until the incident changes. */
  forMs: number | null;
  issuedUs: number;
  nonce: string;
}

function mac(key: Buffer, text: string): string {
  return createHmac("sha256", key).update(text).digest("hex");
}

export function signMute(key: Buffer, r: MuteRequest): string {
  const body = `${CONTROL_VERSION} mute ${r.incidentId} ${r.forMs === null ? 0 : Math.round(r.forMs / 1000)} ${Math.floor(r.issuedUs / 1_000_000)} ${r.nonce}`;
  return `${body} ${mac(key, body)}`;
}

export type ControlVerdict = { ok: true; mute: MuteRequest } | { ok: false; reason: "unsigned" | "bad signature" | "stale" | "replayed" };

/** `seen(nonce)`: whether that nonce was acted on before. */
export function verifyControl(key: Buffer, text: string, nowUs: number, seen: (nonce: string) => boolean): ControlVerdict {
  const m = /^lt1 mute ([0-9a-f]{1,32}) (\d{1,10}) (\d{1,12}) ([0-9a-f]{16,64}) ([0-9a-f]{64})$/.exec(text.trim());
  if (!m) return { ok: false, reason: "unsigned" };
  const [, incidentId, seconds, issued, nonce, signature] = m as unknown as [string, string, string, string, string, string];
  const body = text.trim().slice(0, -(signature.length + 1));
  const expected = Buffer.from(mac(key, body), "hex");
  if (!timingSafeEqual(expected, Buffer.from(signature, "hex"))) return { ok: false, reason: "bad signature" };
  const issuedUs = Number(issued) * 1_000_000;
  if (nowUs - issuedUs > CONTROL_MAX_AGE_US || issuedUs - nowUs > FUTURE_SLACK_US) return { ok: false, reason: "stale" };
  if (seen(nonce)) return { ok: false, reason: "replayed" };
  return { ok: true, mute: { incidentId, forMs: Number(seconds) === 0 ? null : Number(seconds) * 1000, issuedUs, nonce } };
}
