/** Kibibytes as people read them: "812 kB", "63.5 MB", "3.2 GB". */
export function formatKb(kb: number | null): string {
  if (kb === null) return "?";
  if (kb >= 1024 * 1024) return `${(kb / 1024 / 1024).toFixed(1)} GB`;
  if (kb >= 1024) return `${(kb / 1024).toFixed(kb >= 100 * 1024 ? 0 : 1)} MB`;
  return `${kb} kB`;
}
