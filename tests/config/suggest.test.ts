import { describe, expect, test } from "bun:test";
import { closestName, editDistance } from "../../src/config/suggest.ts";

describe("editDistance", () => {
  test.each([
    ["", "", 0],
    ["abc", "", 3],
    ["ntfy", "ntfyy", 1],
    ["priorty_map", "priority_map", 1],
    ["priroity", "priority", 1], // a swap of neighbours is one edit
    ["kitten", "sitting", 3],
  ])("%p vs %p = %d", (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
  });
});

describe("closestName", () => {
  const NTFY_KEYS = ["url", "priority_map", "alert_tiers", "token", "token_file", "user", "password", "click", "timeout"];

  test.each([
    ["priorty_map", "priority_map"],
    ["alertTiers", "alert_tiers"],
    ["alert-tiers", "alert_tiers"],
    ["URL", "url"],
    ["tokenfile", "token_file"],
  ])("%p → %p", (name, want) => {
    expect(closestName(name, NTFY_KEYS)).toBe(want);
  });

  test("nothing close gives no suggestion", () => {
    expect(closestName("colour", NTFY_KEYS)).toBeNull();
    expect(closestName("db", ["log", "psi"])).toBeNull();
    expect(closestName("x", [])).toBeNull();
  });
});
