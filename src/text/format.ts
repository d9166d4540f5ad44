// Sizes, durations and times as people read them: the one set of formatters for messages,
// alerts, the CLI and the digest. Each style has its reader: "4 m 12 s" in alert text,
// "1h30m" where the value could be pasted back into the config, "5m ago" in `status`.

/** Kibibytes as people read them: "812 kB", "63.5 MB", "3.2 GB". */
export function formatKb(kb: number | null): string {
  if (kb === null) return "?";
  if (kb >= 1024 * 1024) return `${(kb / 1024 / 1024).toFixed(1)} GB`;
  if (kb >= 1024) return `${(kb / 1024).toFixed(kb >= 100 * 1024 ? 0 : 1)} MB`;
  return `${kb} kB`;
}

/** A short time for messages: "850 ms", "2.5 s". */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${Math.round(ms / 100) / 10} s`;
}

/** "4 m 12 s", "1 h 3 m", "8 s": how long an incident lasted. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} m`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

const FORMAT_UNITS: readonly (readonly [string, number])[] = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1_000],
  ["ms", 1],
];

/** The shortest parseDuration form: 5400000 → "1h30m", 7776000000 → "90d", 0 → "0s". */
export function formatDuration(ms: number): string {
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return "0s";
  let out = ms < 0 ? "-" : "";
  for (const [unit, unitMs] of FORMAT_UNITS) {
    const count = Math.floor(rest / unitMs);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * unitMs;
    }
  }
  return out;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** Local wall-clock time "2026-11-22 18:40:01", as people read their logs. */
export function formatLocalTime(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function isoTime(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString();
}

/** Local time with its zone as the locale names it: "2026-02-19 14:32:05 GMT+5:30", "… EST", "… UTC". */
export function formatAlertTime(us: number): string {
  const date = new Date(Math.floor(us / 1000));
  const zone = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" })
    .formatToParts(date)
    .find((p) => p.type === "timeZoneName")?.value;
  return zone ? `${formatLocalTime(us)} ${zone}` : formatLocalTime(us);
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const;

/**
 * The period's first and last day in local time: "Feb 10-16", "Jan 30-Feb 5", "Feb 10" for a
 * single day, "Dec 29 2025-Jan 4 2026" across a new year. `untilUs` is exclusive, so a period
 * ending at midnight ends on the day before.
 */
export function formatPeriod(sinceUs: number, untilUs: number): string {
  const first = new Date(Math.floor(sinceUs / 1000));
  const last = new Date(Math.floor(Math.max(sinceUs, untilUs - 1) / 1000));
  const day = (d: Date) => `${MONTHS[d.getMonth()] as string} ${d.getDate()}`;
  if (first.getFullYear() !== last.getFullYear()) return `${day(first)} ${first.getFullYear()}-${day(last)} ${last.getFullYear()}`;
  if (first.getMonth() !== last.getMonth()) return `${day(first)}-${day(last)}`;
  if (first.getDate() !== last.getDate()) return `${day(first)}-${last.getDate()}`;
  return day(first);
}

/** "12s ago", "5m ago", "3h ago", "2d ago": how long ago, for `status`. */
export function formatAgo(us: number, nowUs: number): string {
  const s = Math.max(0, Math.round((nowUs - us) / 1_000_000));
  if (s < 90) return `${s}s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)}m ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

/** "42s", "5m", "3h 12m", "4d": how long something has been up, for `status`. */
export function formatUptime(us: number): string {
  const s = Math.max(0, Math.round(us / 1_000_000));
  if (s < 90) return `${s}s`;
  if (s < 90 * 60) return `${Math.round(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
  return `${Math.round(s / 86400)}d`;
}

/** "just now", "12 min ago", "3 h ago", "2 d ago". */
export function describeAge(ageUs: number): string {
  const minutes = Math.floor(Math.max(0, ageUs) / 60_000_000);
  if (minutes < 1) return "just now";
  if (minutes < 120) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} d ago`;
}

/** "2 s", "0.25 s": a configured timeout, to the millisecond and no further. */
export function formatSecondsMs(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** "500ms", "1.5s": a retry's wait, for log lines. */
export function formatBackoff(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}

/** "14:32:05" in local time: the time of day of something a few minutes earlier. */
export function formatLocalClock(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "42 s", and never "0 s": a span measured in µs, rounded to whole seconds. */
export function formatWholeSeconds(us: number): string {
  return `${Math.max(1, Math.round(us / 1e6))} s`;
}

/** "00:38:15" in UTC, the zone the daemon's alerts use for times of day. */
export function formatUtcClock(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString().slice(11, 19);
}
