import type { Entry } from "../event.ts";

// `journalctl -o json` prints one object per line. Its quirks (systemd 252, Debian 12):
//   "MESSAGE":[98,97,100,32,255]   a value that is not valid UTF-8 (or holds control bytes)
//                                   comes as an array of byte values
//   "FOO":["a","b"]                 a field the entry carries several times
//   "MESSAGE":null                  a value larger than journalctl's --output-fields limit
//                                   (journalctl prints null for "too large to show")
// All timestamps are strings of microseconds.

// Anything else (a number, a boolean, an object, arrays nested to any depth) is not what
// journalctl writes, but a hand-made or damaged file may hold it, and it must not cost the
// entry or the file: such values are kept as compact JSON text, never thrown on.

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** Deeper values are not written out: a deep enough array makes JSON.stringify overflow the stack. */
const MAX_VALUE_DEPTH = 32;
const MAX_VALUE_CHARS = 65_536;

function isByteArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((b) => typeof b === "number" && Number.isInteger(b) && b >= 0 && b <= 255);
}

/** Whether `value` nests arrays or objects deeper than `limit`, found without recursion. */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 0 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop() as { v: unknown; depth: number };
    if (typeof v !== "object" || v === null) continue;
    if (depth >= limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push({ v: child, depth: depth + 1 });
  }
  return false;
}

/** A value journalctl never writes, as text. */
function otherValueText(value: unknown): string {
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (nestsDeeperThan(value, MAX_VALUE_DEPTH)) return `[value nested deeper than ${MAX_VALUE_DEPTH} levels]`;
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}…` : text;
}

/** One field value as text: byte arrays decoded (invalid UTF-8 → U+FFFD), null → null. */
function fieldText(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value === "string") return value;
  if (isByteArray(value)) return utf8.decode(Uint8Array.from(value));
  return otherValueText(value);
}

/** All values of a field, in the order journalctl printed them. */
function fieldValues(value: unknown): (string | null)[] {
  if (!Array.isArray(value) || isByteArray(value)) return [fieldText(value)];
  return value.map((v) => fieldText(v));
}

function toInt(text: string | undefined): number | null {
  if (text === undefined || text === "") return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Normalize one already-parsed journal JSON object into an Entry; null when it is not an
 * object. Multi-valued fields keep all values joined with "\n" in `fields`; the well-known
 * fields (MESSAGE, PRIORITY, …) take the first non-null value.
 */
export function journalRecordToEntry(record: unknown): Entry | null {
  if (typeof record !== "object" || record === null || Array.isArray(record)) return null;
  const fields: Record<string, string> = {};
  const first: Record<string, string> = {};
  for (const [key, raw] of Object.entries(record as Record<string, unknown>)) {
    const values = fieldValues(raw).filter((v): v is string => v !== null);
    if (values.length === 0) {
      // journalctl printed null: the value exists but was too large to show.
      fields[key] = "[value too large to show]";
      continue;
    }
    fields[key] = values.join("\n");
    first[key] = values[0] as string;
  }
  const transport = first["_TRANSPORT"] ?? null;
  const identifier = first["SYSLOG_IDENTIFIER"] ?? (transport === "kernel" ? "kernel" : null);
  return {
    origin: "journal",
    realtimeUs: toInt(first["__REALTIME_TIMESTAMP"]),
    monotonicUs: toInt(first["__MONOTONIC_TIMESTAMP"]),
    cursor: first["__CURSOR"] ?? null,
    bootId: first["_BOOT_ID"] ?? null,
    transport,
    priority: toInt(first["PRIORITY"]),
    identifier,
    unit: first["UNIT"] ?? first["USER_UNIT"] ?? first["_SYSTEMD_USER_UNIT"] ?? first["_SYSTEMD_UNIT"] ?? null,
    pid: toInt(first["_PID"] ?? first["SYSLOG_PID"]),
    comm: first["_COMM"] ?? null,
    message: first["MESSAGE"] ?? fields["MESSAGE"] ?? "",
    messageId: first["MESSAGE_ID"] ?? null,
    fields,
  };
}

/** Parse one line of `journalctl -o json`; null when it is not a JSON object. */
export function parseJournalLine(line: string): Entry | null {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    // Malformed JSON is the caller's to count; "not mine" is null by convention.
    return null;
  }
  return journalRecordToEntry(record);
}

/**
 * `"KEY":` per key, built once: built per call, the search string was a new rope that indexOf
 * first had to flatten, several per line, and that was two thirds of the prefilter's time.
 */
const FIELD_MARKERS = new Map<string, string>();

/**
 * The value of a string field in a raw journal JSON line, still JSON-escaped, found without
 * parsing the line: "" when the field is absent, null when it is not a plain string (a byte
 * array, several values, null) or the line is cut off — callers must then parse the line.
 * `"KEY":` cannot occur inside a JSON string value (its quotes would be escaped), so the
 * first match is the field.
 */
export function rawStringField(line: string, key: string): string | null {
  let marker = FIELD_MARKERS.get(key);
  if (marker === undefined) FIELD_MARKERS.set(key, (marker = `"${key}":`));
  const at = line.indexOf(marker);
  if (at < 0) return "";
  const start = at + marker.length;
  if (line.charCodeAt(start) !== 34 /* " */) return null;
  let from = start + 1;
  for (;;) {
    const quote = line.indexOf('"', from);
    if (quote < 0) return null;
    let backslashes = 0;
    while (line.charCodeAt(quote - 1 - backslashes) === 92 /* \ */) backslashes++;
    if (backslashes % 2 === 0) return line.slice(start + 1, quote);
    from = quote + 1;
  }
}
