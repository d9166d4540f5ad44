import { formatLocalTime } from "../cli/_render.ts";
import type { Config, NtfyPriority } from "../config/schema.ts";
import { TIER_NAMES, type StoredEvent, type Tier } from "../event.ts";
import type { Notification } from "./notifier.ts";

// Event → ntfy notification, as the design's "Event Output Format" shows it:
//   Title: 🔴 [workstation] OOM kill: firefox (pid 4521, 3.2 GB RSS)
//   Body:  Host: workstation / Time: 2026-02-19 14:32:05 GMT+5:30 / (blank) / the event's detail
// Pure: the event, the [ntfy] config and the instance id in, a Notification out.

export type AlertEvent = Pick<StoredEvent, "id" | "tier" | "severity" | "summary" | "timestampUs" | "detail" | "occurrences" | "process" | "unit">;

// ntfy's default limits, in UTF-8 bytes. Message: docs.ntfy.sh/publish/#limitations ("up to
// 4,096 bytes long. Longer messages are treated as attachments", and a server without an
// attachment cache refuses them). Title 1 KB and all tags together 512 bytes, HTTP 400 beyond
// (ntfy v2.28.0 release notes; server/server_message_limits_test.go counts bytes, not characters).
export const NTFY_MESSAGE_LIMIT_BYTES = 4096;
export const NTFY_TITLE_LIMIT_BYTES = 1024;
export const NTFY_TAGS_LIMIT_BYTES = 512;

// The title's emoji and the tags per tier. T1 and T2 are the design's. T3–T5 use circles in the
// colours `logtriage query` prints those tiers in (yellow, magenta, cyan: cli/_render.ts), so a
// phone and a terminal agree. The first tag is an ntfy emoji short code, shown before the title:
// ❌ (x) a unit failed, 🚨 (rotating_light) kernel/hardware, ⌛ (hourglass) pressure, not yet a kill.
const TIER_STYLE: Readonly<Record<Tier, { emoji: string; tags: readonly string[] }>> = {
  T1: { emoji: "🔴", tags: ["skull", "memory"] },
  T2: { emoji: "💥", tags: ["warning", "crash"] },
  T3: { emoji: "🟡", tags: ["x", "service"] },
  T4: { emoji: "🟣", tags: ["rotating_light", "kernel"] },
  T5: { emoji: "🔵", tags: ["hourglass", "memory-pressure"] },
};

/** ntfy's "default" priority, for the test notification. */
const DEFAULT_PRIORITY: NtfyPriority = 3;

type NtfyConfig = Config["ntfy"];

export function alertFor(event: AlertEvent, ntfy: NtfyConfig, instanceId: string): Notification {
  const style = TIER_STYLE[event.tier];
  const count = event.occurrences > 1 ? [`Occurred ${event.occurrences} times.`] : [];
  return {
    title: alertTitle(style.emoji, instanceId, event.summary),
    message: alertBody({
      head: [`Host: ${instanceId}`, `Time: ${formatAlertTime(event.timestampUs)}`, ""],
      detail: event.detail === "" ? [] : printable(event.detail).split("\n"),
      tail: count,
      id: event.id,
    }),
    priority: ntfy.priorityMap[event.severity],
    // The instance and the unit (or process) as tags too, so a phone can subscribe to one
    // machine or one service of a shared topic (ntfy's `?tags=` subscription filter).
    tags: fitTags([...style.tags, instanceId, event.unit ?? event.process ?? ""]),
    click: ntfy.click,
  };
}

/** What `logtriage test-ntfy` sends: same title prefix, host and time lines as a real alert. */
export function testNotification(instanceId: string, nowUs: number, ntfy: NtfyConfig): Notification {
  const tiers = ntfy.alertTiers.map((t) => `${t} (${TIER_NAMES[t]})`).join(", ");
  return {
    title: alertTitle("🔔", instanceId, "logtriage test notification"),
    message: fitBytes(
      [
        `logtriage test notification from ${instanceId}.`,
        "",
        `Host: ${instanceId}`,
        `Time: ${formatAlertTime(nowUs)}`,
        "",
        tiers === "" ? "No tier sends alerts: [ntfy] alert_tiers is empty." : `Alerts for ${tiers} will come to this topic.`,
      ].join("\n"),
      NTFY_MESSAGE_LIMIT_BYTES,
    ),
    priority: DEFAULT_PRIORITY,
    tags: fitTags(["white_check_mark", instanceId]),
    click: ntfy.click,
  };
}

/** "🔴 [workstation] OOM kill: firefox (pid 4521)", on one line, within ntfy's title limit. */
export function alertTitle(emoji: string, instanceId: string, summary: string): string {
  const line = printable(`${emoji} [${instanceId}] ${summary}`).replace(/\s+/g, " ").trim();
  return fitBytes(line, NTFY_TITLE_LIMIT_BYTES);
}

/** Local time with its zone as the locale names it: "2026-02-19 14:32:05 GMT+5:30", "… EST", "… UTC". */
export function formatAlertTime(us: number): string {
  const date = new Date(Math.floor(us / 1000));
  const zone = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(date).find((p) => p.type === "timeZoneName")?.value;
  return zone ? `${formatLocalTime(us)} ${zone}` : formatLocalTime(us);
}

/**
 * Tags without commas (ntfy joins JSON tags into its comma-separated X-Tags internally, so a
 * comma would split one) and without blanks, dropping from the end until all of them, joined
 * with commas, fit ntfy's 512 bytes.
 */
export function fitTags(tags: readonly string[]): string[] {
  const kept: string[] = [];
  let bytes = 0;
  for (const raw of tags) {
    const tag = raw.replaceAll(",", " ").trim();
    if (tag === "") continue;
    const cost = utf8Bytes(tag) + (kept.length > 0 ? 1 : 0);
    if (bytes + cost > NTFY_TAGS_LIMIT_BYTES) break;
    kept.push(tag);
    bytes += cost;
  }
  return kept;
}

export interface BodyParts {
  /** Host and Time lines, then a blank line. */
  head: string[];
  detail: string[];
  /** Lines after the detail that must survive a cut (the occurrence count). */
  tail: string[];
  id: string;
}

/**
 * The body, within ntfy's 4096 bytes. Whole, it ends with "Details: logtriage show <id>". Too
 * long, it keeps whole lines while they fit and ends with a line saying it was cut and where
 * the rest is. A line is cut in its middle (at a character, never inside one) only when not
 * one line of the detail would fit whole — a single huge line still shows its start.
 */
export function alertBody(parts: BodyParts): string {
  const detailEnd = parts.detail.length > 0 ? [""] : [];
  const whole = [...parts.head, ...parts.detail, ...detailEnd, ...parts.tail, `Details: logtriage show ${parts.id}`].join("\n");
  if (utf8Bytes(whole) <= NTFY_MESSAGE_LIMIT_BYTES) return whole;

  const end = ["", ...parts.tail, `… cut to fit ntfy's ${NTFY_MESSAGE_LIMIT_BYTES}-byte limit; all of it: logtriage show ${parts.id}`];
  const budget = NTFY_MESSAGE_LIMIT_BYTES - utf8Bytes(`\n${end.join("\n")}`);
  const kept: string[] = [];
  let used = 0;
  let keptDetail = 0;
  const lines = [...parts.head, ...parts.detail];
  for (const [i, line] of lines.entries()) {
    const newline = kept.length > 0 ? 1 : 0;
    if (used + newline + utf8Bytes(line) <= budget) {
      kept.push(line);
      used += newline + utf8Bytes(line);
      if (i >= parts.head.length) keptDetail++;
      continue;
    }
    if (keptDetail === 0) kept.push(fitBytes(line, budget - used - newline));
    break;
  }
  // The arithmetic above already fits; this bounds the result even for an absurd id or instance.
  return fitBytes([...kept, ...end].join("\n"), NTFY_MESSAGE_LIMIT_BYTES);
}

/** Log text made fit for a phone and for JSON: ANSI colour sequences and control characters (but tab and newline) removed. */
export function printable(text: string): string {
  // Service output in the journal often carries colour codes; each control character would
  // also cost 6 bytes as a JSON \u escape against ntfy's 8 KB JSON body limit.
  return text.replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, "").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
}

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** `text` cut to at most maxBytes of UTF-8, at a character boundary, ending with "…" when cut. */
export function fitBytes(text: string, maxBytes: number): string {
  if (utf8Bytes(text) <= maxBytes) return text;
  const ellipsis = "…";
  const room = maxBytes - utf8Bytes(ellipsis);
  if (room < 0) return "";
  const bytes = Buffer.from(text, "utf8");
  let end = room;
  // Step back over continuation bytes (10xxxxxx) so no character is split.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString("utf8") + ellipsis;
}
