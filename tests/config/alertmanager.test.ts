import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../src/config/errors.ts";
import { parseConfig, type ConfigEnv } from "../../src/config/load.ts";

const ctx: ConfigEnv = { env: { HOME: "/home/alice" }, hostname: "box" };

function problem(text: string): string {
  try {
    parseConfig(text, "config.toml", ctx);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error(`expected a ConfigError for:\n${text}`);
}

describe("[alertmanager]", () => {
  test("off by default", () => {
    const { alertmanager } = parseConfig("", "config.toml", ctx);
    expect(alertmanager.urls).toEqual([]);
    expect(alertmanager.resendIntervalMs).toBe(60_000);
  });

  test("a cluster's URLs, a token file under ~ and a CA file", () => {
    const { alertmanager } = parseConfig(
      [
        "[alertmanager]",
        'urls = ["http://am1:9093", "https://am2.example:9093"]',
        'bearer_token_file = "~/.config/logtriage/am-token"',
        'ca_file = "/etc/ssl/am-ca.pem"',
        'resend_interval = "2m"',
      ].join("\n"),
      "config.toml",
      ctx,
    );
    expect(alertmanager.urls).toEqual(["http://am1:9093", "https://am2.example:9093"]);
    expect(alertmanager.bearerTokenFile).toBe("/home/alice/.config/logtriage/am-token");
    expect(alertmanager.caFile).toBe("/etc/ssl/am-ca.pem");
    expect(alertmanager.resendIntervalMs).toBe(120_000);
  });

  test("a URL without a scheme names the key and what it expects", () => {
    const message = problem('[alertmanager]\nurls = ["am1:9093"]');
    expect(message).toContain("config.toml:2");
    expect(message).toContain("alertmanager.urls");
    expect(message).toContain('an Alertmanager URL like "http://alertmanager:9093"');
  });

  test("two ways to authenticate at once are refused", () => {
    expect(
      problem('[alertmanager]\nurls = ["http://am1:9093"]\nbearer_token = "x"\nbasic_auth = { user = "a", password = "b" }'),
    ).toContain("set one of bearer_token, bearer_token_file and basic_auth");
  });
});
