import type { Config } from "../config/schema.ts";
import { TIER_NAMES, type StoredEvent, type Tier } from "../event.ts";
import {
  alertBody,
  alertTitle,
  fitBytes,
  fitTags,
  NTFY_MESSAGE_LIMIT_BYTES,
  printable,
  type Notification,
  type NtfyPriority,
} from "../text/alert.ts";
import { formatAlertTime } from "../text/format.ts";

// Event → ntfy notification, laid out like this:
//   Title: 🔴 [workstation] OOM kill: firefox (pid 4521, 3.2 GB RSS)
//   Body:  Host: workstation / Time: 2026-02-19 14:32:05 GMT+5:30 / (blank) / the event's detail
// Pure: the event, the [ntfy] config and the instance id in, a Notification out.

export type AlertEvent = Pick<
  StoredEvent,
  "id" | "tier" | "severity" | "summary" | "timestampUs" | "detail" | "occurrences" | "process" | "unit"
>;

// The title's emoji and the tags per tier. T1 a red circle and a skull, T2 a collision. T3–T5 use circles in the
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
