import type { Entry } from "../event.ts";

// `journalctl -o json` prints one object per line. Its quirks (systemd 252, Debian 12):
//   "MESSAGE":[98,97,100,32,255]   a value that is not valid UTF-8 (or holds control bytes)
//                                   comes as an array of byte values
//   "FOO":["a","b"]                 a field the entry carries several times
//   "MESSAGE":null                  a value larger than journalctl's --output-fields limit
//                                   (journalctl prints null for "too large to show")
// All timestamps are strings of microseconds.

const utf8 = new TextDecoder("utf-8", { fatal: false });

type JsonFieldValue = string | number[] | null | (string | number[] | null)[];

function isByteArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((b) => typeof b === "number");
}

/** One field value as text: byte arrays decoded (invalid UTF-8 → U+FFFD), null → null. */
function fieldText(value: string | number[] | null): string | null {
  if (value === null) return null;
  if (typeof value === "string") return value;
  return utf8.decode(Uint8Array.from(value));
}

/** All values of a field, in the order journalctl printed them. */
function fieldValues(value: JsonFieldValue): (string | null)[] {
  if (value === null || typeof value === "string") return [fieldText(value)];
  if (isByteArray(value)) return [fieldText(value)];
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
  for (const [key, raw] of Object.entries(record as Record<string, JsonFieldValue>)) {
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
    message: first["MESSAGE"] ?? (fields["MESSAGE"] ?? ""),
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
 * The value of a string field in a raw journal JSON line, still JSON-escaped, found without
 * parsing the line: "" when the field is absent, null when it is not a plain string (a byte
 * array, several values, null) or the line is cut off — callers must then parse the line.
 * `"KEY":` cannot occur inside a JSON string value (its quotes would be escaped), so the
 * first match is the field.
 */
export function rawStringField(line: string, key: string): string | null {
  const marker = `"${key}":`;
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
