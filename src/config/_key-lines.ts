// Where in the TOML text a key was written, so messages about a valid-syntax file can still
// say `config.toml:7:`. @iarna/toml returns plain values with no positions, so this scans
// the text again. Best effort: it knows table headers, `[[array]]` headers and `key =` lines
// (dotted and quoted keys included); keys inside inline tables or multi-line arrays are found
// through the key that holds them.

/** `ntfy.alert_tiers[1]`-style path, as messages print it. */
export function formatKeyPath(parts: readonly (string | number)[]): string {
  let out = "";
  for (const part of parts) {
    if (typeof part === "number") out += `[${part}]`;
    else {
      const key = /^[A-Za-z0-9_-]+$/.test(part) ? part : JSON.stringify(part);
      out += out === "" ? key : `.${key}`;
    }
  }
  return out;
}

/** Split `a."b.c".d` into its keys. */
function splitDottedKey(text: string): string[] {
  const parts: string[] = [];
  const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(?:\.|$)/y;
  while (re.lastIndex < text.length) {
    const start = re.lastIndex;
    const m = re.exec(text);
    if (!m || re.lastIndex === start) break;
    parts.push(m[1] !== undefined ? unescapeBasic(m[1]) : (m[2] ?? m[3] ?? ""));
  }
  return parts;
}

function unescapeBasic(s: string): string {
  try {
    return JSON.parse(`"${s}"`) as string;
  } catch {
    // TOML escapes JSON lacks (\e, \UXXXXXXXX) are rare in key names; the raw text is
    // close enough for finding a line.
    return s;
  }
}

const HEADER = /^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$/;
const KEY_LINE = /^\s*((?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=/;

/** Map from key path (formatKeyPath form) to its 1-based line. The first mention wins. */
export function keyLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  const arrayCounts = new Map<string, number>();
  let table: (string | number)[] = [];
  let inMultilineString = false;
  const record = (parts: readonly (string | number)[], line: number): void => {
    for (let n = 1; n <= parts.length; n++) {
      const path = formatKeyPath(parts.slice(0, n));
      if (!lines.has(path)) lines.set(path, line);
    }
  };
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    // An odd number of triple quotes opens or closes a multi-line string.
    const wasInString = inMultilineString;
    const triples = (raw.match(/"""|'''/g) ?? []).length;
    if (triples % 2 === 1) inMultilineString = !inMultilineString;
    if (wasInString) return;
    const header = HEADER.exec(raw);
    if (header) {
      const keys = splitDottedKey(header[2] ?? "");
      if (header[1] === "[[") {
        const name = formatKeyPath(keys);
        const count = arrayCounts.get(name) ?? 0;
        arrayCounts.set(name, count + 1);
        table = [...keys, count];
      } else {
        table = keys;
      }
      record(table, line);
      return;
    }
    const key = KEY_LINE.exec(raw);
    if (key) record([...table, ...splitDottedKey(key[1] ?? "")], line);
  });
  return lines;
}

/** The line of `path`, or of the nearest enclosing key that was written down; null if none. */
export function findKeyLine(lines: ReadonlyMap<string, number>, path: readonly (string | number)[]): number | null {
  for (let n = path.length; n > 0; n--) {
    const line = lines.get(formatKeyPath(path.slice(0, n)));
    if (line !== undefined) return line;
  }
  return null;
}
