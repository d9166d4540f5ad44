// Durations as people write them in config and on the command line: `500ms`, `30s`, `5m`,
// `1h`, `90d`, `2w`, and sums like `1h30m` (Go's time.ParseDuration style, plus days and
// weeks because retention is counted in them).

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

// `ms` before `m` so the alternation does not stop at the `m` of `500ms`.
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;

/** Milliseconds, or null for text that is not a non-negative duration with units. */
export function parseDuration(text: string): number | null {
  const input = text.trim();
  // A bare 0 needs no unit, as in Go; any other bare number is ambiguous (seconds? minutes?).
  if (input === "0") return 0;
  if (input === "") return null;
  let totalMs = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < input.length) {
    const m = PART.exec(input);
    if (!m) return null;
    const unitMs = UNIT_MS[m[2] as string];
    if (unitMs === undefined) return null;
    totalMs += Number(m[1]) * unitMs;
  }
  totalMs = Math.round(totalMs);
  return Number.isSafeInteger(totalMs) ? totalMs : null;
}
