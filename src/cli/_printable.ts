// Text from logs reaches the terminal as text, never as commands to it. A log line may carry
// escape sequences (ESC [ 2J clears the screen, ESC ] 0; sets the window title, OSC 52 writes
// the clipboard on some terminals, ESC [ 8m hides what follows), carriage returns that
// overwrite what was printed, or bidirectional overrides that make text read in another order
// than it is (CVE-2021-42574, "Trojan Source"). Every field of log origin shown by show, query,
// replay and status goes through printable(): such characters are shown as escapes (\x1b,
// \r, \u202e). A backslash stays as it is: systemd's own names carry escapes such as
// "dev-disk-by\x2duuid.device", and doubling them would break copying a name into systemctl.

// C0 controls except tab and newline, DEL, C1 controls, the bidi embeddings/overrides/isolates,
// and the line/paragraph separators some terminals break lines on.
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_SINGLE_LINE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  switch (c) {
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
  }
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** One line of log origin, safe to print: controls (newlines included) shown as escapes. */
export function printable(text: string): string {
  return text.replace(UNSAFE_SINGLE_LINE, escapeChar);
}

/** Text of log origin that may span lines (an event's detail): newlines and tabs kept, the rest escaped. */
export function printableLines(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}
