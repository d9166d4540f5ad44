// Sizes and times as people read them, for messages and alerts.

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

