import { describe, expect, test } from "bun:test";
import { CONTROL_MAX_AGE_US, signMute, verifyControl } from "../../src/incidents/control.ts";

const key = Buffer.alloc(32, 7);
const S = 1_000_000;
const now = 1_800_000_000 * S;
const never = () => false;

describe("signed control messages", () => {
  const signed = signMute(key, { incidentId: "0123456789abcdef", forMs: 86_400_000, issuedUs: now, nonce: "00112233445566778899aabb" });

  test("a message signed with the key is a mute of that incident, for that long", () => {
    expect(signed).toMatch(/^lt1 mute 0123456789abcdef 86400 1800000000 00112233445566778899aabb [0-9a-f]{64}$/);
    expect(verifyControl(key, signed, now + 3600 * S, never)).toEqual({
      ok: true,
      mute: { incidentId: "0123456789abcdef", forMs: 86_400_000, issuedUs: now, nonce: "00112233445566778899aabb" },
    });
    const untilChanged = signMute(key, { incidentId: "ab", forMs: null, issuedUs: now, nonce: "ffffffffffffffff" });
    expect(verifyControl(key, untilChanged, now, never)).toMatchObject({ ok: true, mute: { forMs: null } });
  });

  test("unsigned, forged, altered, stale and replayed messages are refused, each with its reason", () => {
    expect(verifyControl(key, "mute 0123456789abcdef", now, never)).toEqual({ ok: false, reason: "unsigned" });
    expect(verifyControl(Buffer.alloc(32, 8), signed, now, never)).toEqual({ ok: false, reason: "bad signature" });
    expect(verifyControl(key, signed.replace(" 86400 ", " 86401 "), now, never)).toEqual({ ok: false, reason: "bad signature" });
    expect(verifyControl(key, signed, now + CONTROL_MAX_AGE_US + S, never)).toEqual({ ok: false, reason: "stale" });
    expect(verifyControl(key, signed, now - 3600 * S, never)).toEqual({ ok: false, reason: "stale" });
    expect(verifyControl(key, signed, now, (nonce) => nonce === "00112233445566778899aabb")).toEqual({ ok: false, reason: "replayed" });
  });
});
