// Split a byte stream into text lines, one chunk's worth at a time (one `await` per chunk,
// not per line: at a million lines that is most of the cost), holding at most one partial line.
// A line longer than `maxChars` is not kept: the reader reports its size and skips to the
// next newline, so one runaway line (a 1 MB blob, a binary file) cannot grow memory or stop
// the lines after it.

/**
 * When splitLines runs a full collection: every so many chunks, or every so many characters
 * read. JSC collects lazily, so a long read's RSS climbs with its input unless something asks.
 */
export type GcPacing = { chunks: number } | { chars: number };

/**
 * A live reader's chunks are small and few (a pipe read per burst), so a count of them paces it.
 * A file's chunks are ~512 kB each: at 64 of them (~32 MB) the full collections took a third of
 * a 1,000,000-entry replay's time; see FILE_GC in file.ts.
 */
const DEFAULT_GC: GcPacing = { chunks: 64 };

/**
 * A line is its text, no wrapper: an object per line was a few percent of a replay (JSC collects
 * them like everything else). `unterminated`: the input ended without a newline after this text.
 * A file may end that way; a journalctl killed mid-write leaves a cut record there, which must
 * not count as read.
 */
export type LineItem = string | { kind: "unterminated"; text: string } | { kind: "oversized"; chars: number };

/** Yields the lines of each chunk read, as one array per chunk. */
export async function* splitLines(
  stream: ReadableStream<Uint8Array>,
  maxChars: number,
  gc: GcPacing = DEFAULT_GC,
): AsyncGenerator<LineItem[]> {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let carry = "";
  let dropping = 0; // > 0 while skipping the rest of an oversized line: chars seen so far
  const reader = stream.getReader();
  let chunks = 0;
  let charsSinceGc = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      const chunk = done ? decoder.decode() : decoder.decode(value, { stream: true });
      charsSinceGc += chunk.length;
      if ("chunks" in gc ? ++chunks % gc.chunks === 0 : charsSinceGc >= gc.chars) {
        Bun.gc(true);
        charsSinceGc = 0;
      }
      const batch: LineItem[] = [];
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf("\n", start);
        if (nl < 0) break;
        if (dropping > 0) {
          batch.push({ kind: "oversized", chars: dropping + nl - start });
          dropping = 0;
        } else {
          const text = carry.length ? carry + chunk.slice(start, nl) : chunk.slice(start, nl);
          carry = "";
          if (text.length > maxChars) batch.push({ kind: "oversized", chars: text.length });
          else batch.push(text);
        }
        start = nl + 1;
      }
      const rest = chunk.length - start;
      if (dropping > 0) dropping += rest;
      else if (carry.length + rest > maxChars) {
        dropping = carry.length + rest;
        carry = "";
      } else if (rest > 0) carry += chunk.slice(start);
      if (batch.length) yield batch;
      if (done) break;
    }
    if (dropping > 0) yield [{ kind: "oversized", chars: dropping }];
    else if (carry.length) yield [{ kind: "unterminated", text: carry }];
  } finally {
    reader.releaseLock();
  }
}
