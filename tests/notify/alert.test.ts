import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { DEFAULT_PRIORITY_MAP } from "../../src/config/defaults.ts";
import type { Config } from "../../src/config/schema.ts";
import { alertFor, testNotification, type AlertEvent } from "../../src/notify/alert.ts";
import { fitBytes, fitTags, utf8Bytes } from "../../src/text/alert.ts";
import { formatAlertTime } from "../../src/text/format.ts";

const ntfy: Config["ntfy"] = {
  url: "https://ntfy.sh/my-topic",
  priorityMap: { ...DEFAULT_PRIORITY_MAP },
  alertTiers: ["T1", "T2"],
  token: null,
  tokenFile: null,
  user: null,
  password: null,
  click: null,
  timeoutMs: 10_000,
  maxAgeMs: 7 * 86_400_000,
  minSeverity: {},
  onResolve: "update",
  controlTopic: null,
  updateIntervalMs: 60_000,
};

// 2026-02-19 09:02:05 UTC, 14:32:05 in India (IST, UTC+5:30).
const TIME_US = Date.UTC(2026, 1, 19, 9, 2, 5) * 1000;

function event(over: Partial<AlertEvent> = {}): AlertEvent {
  return {
    id: "0123456789abcdef",
    tier: "T1",
    severity: "critical",
    summary: "OOM Kill: firefox (pid 4521)",
    timestampUs: TIME_US,
    detail: "firefox (pid 4521, uid 1000) was killed by the kernel OOM killer.\nRSS at kill: 3.2 GB",
    occurrences: 1,
    process: "firefox",
    unit: null,
    ...over,
  };
}

function lines(text: string): string[] {
  return text.split("\n");
}

describe("title and tags", () => {
  test("the two documented examples", () => {
    expect(alertFor(event(), ntfy, "workstation").title).toBe("🔴 [workstation] OOM Kill: firefox (pid 4521)");
    expect(alertFor(event({ tier: "T2", severity: "high", summary: "Crash: vlc (SIGSEGV)" }), ntfy, "workstation").title).toBe(
      "💥 [workstation] Crash: vlc (SIGSEGV)",
    );
  });

  test.each([
    ["T1", "🔴", ["skull", "memory"]],
    ["T2", "💥", ["warning", "crash"]],
    ["T3", "🟡", ["x", "service"]],
    ["T4", "🟣", ["rotating_light", "kernel"]],
    ["T5", "🔵", ["hourglass", "memory-pressure"]],
  ] as const)("%s: %s and tags %p, then instance and unit", (tier, emoji, tierTags) => {
    const n = alertFor(event({ tier, unit: "nginx.service" }), ntfy, "nas");
    expect(n.title).toStartWith(`${emoji} [nas] `);
    expect(n.tags).toEqual([...tierTags, "nas", "nginx.service"]);
  });

  test("the process is the last tag when there is no unit", () => {
    expect(alertFor(event(), ntfy, "workstation").tags).toEqual(["skull", "memory", "workstation", "firefox"]);
    expect(alertFor(event({ process: null }), ntfy, "workstation").tags).toEqual(["skull", "memory", "workstation"]);
  });

  test("a summary with newlines, tabs and colour codes becomes one clean line", () => {
    const n = alertFor(event({ summary: "Disk full:\n\x1b[31mNo space\x1b[0m\tleft" }), ntfy, "ws");
    expect(n.title).toBe("🔴 [ws] Disk full: No space left");
  });

  test("a huge multi-byte summary is cut to ntfy's 1024-byte title limit, at a character", () => {
    const n = alertFor(event({ summary: "ü😀".repeat(1000) }), ntfy, "ws");
    expect(utf8Bytes(n.title)).toBeLessThanOrEqual(1024);
    expect(utf8Bytes(n.title)).toBeGreaterThan(1024 - 8);
    expect(n.title).toEndWith("…");
    expect(n.title).not.toContain("\uFFFD");
    expect(n.title.slice(0, -1)).toBe(`🔴 [ws] ${"ü😀".repeat(1000)}`.slice(0, n.title.length - 1));
  });

  test("tags: commas cannot split one, and all of them stay within 512 bytes", () => {
    expect(fitTags(["skull", "a,b", " ", "memory"])).toEqual(["skull", "a b", "memory"]);
    const long = "n".repeat(600);
    expect(fitTags(["skull", "memory", long, "firefox"])).toEqual(["skull", "memory"]);
    const n = alertFor(event({ unit: "u".repeat(505) }), ntfy, "ws");
    expect(n.tags).toEqual(["skull", "memory", "ws"]);
    expect(utf8Bytes(n.tags.join(","))).toBeLessThanOrEqual(512);
  });
});

describe("body", () => {
  test("host, time with zone, the detail, then where to read the rest", () => {
    const n = alertFor(event(), ntfy, "workstation");
    expect(n.message).toBe(
      [
        "Host: workstation",
        `Time: ${formatAlertTime(TIME_US)}`,
        "",
        "firefox (pid 4521, uid 1000) was killed by the kernel OOM killer.",
        "RSS at kill: 3.2 GB",
        "",
        "Details: logtriage show 0123456789abcdef",
      ].join("\n"),
    );
  });

  test("the time is local, with the zone's name or offset", () => {
    const script = `import { formatAlertTime } from ${JSON.stringify(join(import.meta.dir, "../../src/text/format.ts"))}; console.log(formatAlertTime(${TIME_US}));`;
    const run = (tz: string) =>
      Bun.spawnSync([process.execPath, "-e", script], { env: { ...process.env, TZ: tz } })
        .stdout.toString()
        .trim();
    expect(run("Asia/Kolkata")).toBe("2026-02-19 14:32:05 GMT+5:30");
    expect(run("America/New_York")).toBe("2026-02-19 04:02:05 EST");
    expect(run("UTC")).toBe("2026-02-19 09:02:05 UTC");
  });

  test("more than one occurrence adds a line with the count; one does not", () => {
    expect(lines(alertFor(event({ occurrences: 4 }), ntfy, "ws").message).slice(-2)).toEqual([
      "Occurred 4 times.",
      "Details: logtriage show 0123456789abcdef",
    ]);
    expect(alertFor(event(), ntfy, "ws").message).not.toContain("Occurred");
  });

  test("no detail: no empty paragraph", () => {
    expect(lines(alertFor(event({ detail: "" }), ntfy, "ws").message)).toEqual([
      "Host: ws",
      `Time: ${formatAlertTime(TIME_US)}`,
      "",
      "Details: logtriage show 0123456789abcdef",
    ]);
  });

  test("colour codes and control characters are dropped from the detail, tabs kept", () => {
    const n = alertFor(event({ detail: "\x1b[1;31mfailed\x1b[0m\tcode=\x07exited" }), ntfy, "ws");
    expect(lines(n.message)[3]).toBe("failed\tcode=exited");
  });

  test("a body of exactly 4096 bytes is sent whole; one byte more is cut", () => {
    const base = alertFor(event({ detail: "x" }), ntfy, "ws").message;
    const exact = "x".repeat(4096 - utf8Bytes(base) + 1);
    const whole = alertFor(event({ detail: exact }), ntfy, "ws").message;
    expect(utf8Bytes(whole)).toBe(4096);
    expect(whole).toEndWith("Details: logtriage show 0123456789abcdef");
    const over = alertFor(event({ detail: `${exact}x` }), ntfy, "ws").message;
    expect(utf8Bytes(over)).toBeLessThanOrEqual(4096);
    expect(lines(over).at(-1)).toContain("cut");
  });
});

describe("cutting to ntfy's 4096-byte message limit", () => {
  const id = "0123456789abcdef";

  function expectCut(message: string, occurrences: number): string[] {
    expect(utf8Bytes(message)).toBeLessThanOrEqual(4096);
    expect(message).not.toContain("\uFFFD");
    const out = lines(message);
    expect(out.at(-1)).toBe(`… cut to fit ntfy's 4096-byte limit; all of it: logtriage show ${id}`);
    if (occurrences > 1) expect(out.at(-2)).toBe(`Occurred ${occurrences} times.`);
    return out.slice(3, occurrences > 1 ? -3 : -2);
  }

  test("at a line boundary: the kept lines are the detail's first lines, whole and in order", () => {
    const detail = Array.from({ length: 300 }, (_, i) => `  ${i + 1}. process-${i} rss 12345 kB pid ${1000 + i}`);
    const n = alertFor(event({ detail: detail.join("\n"), occurrences: 3 }), ntfy, "ws");
    const kept = expectCut(n.message, 3);
    expect(kept.length).toBeGreaterThan(50);
    expect(kept).toEqual(detail.slice(0, kept.length));
    // Nearly all of the room is used: the next line would not have fitted.
    expect(utf8Bytes(n.message) + utf8Bytes(detail[kept.length] as string) + 1).toBeGreaterThan(4096);
  });

  test("multi-byte lines: counted in bytes, no character split", () => {
    const detail = Array.from({ length: 200 }, (_, i) => `${i} ünïcödé 😀 日本語のテキスト ${"€".repeat(i % 7)}`);
    const n = alertFor(event({ detail: detail.join("\n") }), ntfy, "ws");
    expect(n.message.length).toBeLessThan(4096); // the limit is bytes: far fewer characters fit
    const kept = expectCut(n.message, 1);
    expect(kept).toEqual(detail.slice(0, kept.length));
  });

  test("under 4096 characters but over 4096 bytes is still cut", () => {
    const detail = Array.from({ length: 30 }, (_, i) => `${i} ${"日本語".repeat(20)}`);
    expect(detail.join("\n").length).toBeLessThan(4096);
    const n = alertFor(event({ detail: detail.join("\n") }), ntfy, "ws");
    const kept = expectCut(n.message, 1);
    expect(kept).toEqual(detail.slice(0, kept.length));
  });

  test("a single huge line still shows its start, cut at a character", () => {
    const huge = "é😀".repeat(50_000);
    const n = alertFor(event({ detail: huge, occurrences: 2 }), ntfy, "ws");
    const kept = expectCut(n.message, 2);
    expect(kept).toHaveLength(1);
    const start = kept[0] as string;
    expect(start).toEndWith("…");
    expect(huge.startsWith(start.slice(0, -1))).toBe(true);
    expect(utf8Bytes(start)).toBeGreaterThan(3900);
  });

  test("a first line that fits, then a huge one: the cut is at the line boundary", () => {
    const n = alertFor(event({ detail: `short first line\n${"z".repeat(10_000)}` }), ntfy, "ws");
    expect(expectCut(n.message, 1)).toEqual(["short first line"]);
  });

  test("even an absurd instance id cannot push the body past the limit", () => {
    const n = alertFor(event({ detail: "d".repeat(5000) }), ntfy, "i".repeat(9000));
    expect(utf8Bytes(n.message)).toBeLessThanOrEqual(4096);
    expect(utf8Bytes(n.title)).toBeLessThanOrEqual(1024);
  });

  test("fitBytes never splits a character and marks the cut", () => {
    expect(fitBytes("abc", 3)).toBe("abc");
    expect(fitBytes("abcd", 3)).toBe("…");
    expect(fitBytes("aéé", 5)).toBe("aéé");
    expect(fitBytes("aéé", 4)).toBe("a…");
    expect(fitBytes("ééé", 4)).toBe("…"); // 1 byte of room would hold half an é
    expect(fitBytes("😀😀", 7)).toBe("😀…");
    expect(fitBytes("😀😀", 6)).toBe("…");
  });
});

describe("priority and click", () => {
  test.each([
    ["critical", 5],
    ["high", 4],
    ["medium", 3],
    ["warning", 2],
  ] as const)("%s → default map %d", (severity, priority) => {
    expect(alertFor(event({ severity }), ntfy, "ws").priority).toBe(priority);
  });

  test("the configured priority_map and click are used", () => {
    const custom = {
      ...ntfy,
      priorityMap: { critical: 3, high: 1, medium: 1, warning: 1 } as const,
      click: "https://grafana.example/d/logtriage",
    };
    const n = alertFor(event(), custom, "ws");
    expect(n.priority).toBe(3);
    expect(n.click).toBe("https://grafana.example/d/logtriage");
    expect(alertFor(event(), ntfy, "ws").click).toBeNull();
  });
});

test("the test notification: instance in title and body, the alerting tiers named", () => {
  const n = testNotification("nas-01", TIME_US, ntfy);
  expect(n.title).toBe("🔔 [nas-01] logtriage test notification");
  expect(lines(n.message)[0]).toBe("logtriage test notification from nas-01.");
  expect(n.message).toContain("Alerts for T1 (OOM kill), T2 (process crash) will come to this topic.");
  expect(n.priority).toBe(3);
  expect(testNotification("ws", TIME_US, { ...ntfy, alertTiers: [] }).message).toContain("[ntfy] alert_tiers is empty");
});
