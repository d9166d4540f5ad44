import type { Entry } from "../event.ts";
import { parseDmesgLine } from "../parse/dmesg.ts";
import { journalRecordToEntry } from "../parse/journal-json.ts";
import { isKmsgHeader, parseKmsgRecord } from "../parse/kmsg.ts";
import type { BootClock } from "./boot-clock.ts";
import { type GcPacing, splitLines } from "./lines.ts";

// A recorded log read back: `journalctl -o json` lines, /dev/kmsg records or kernel log
// text, told apart by the first non-empty line. Used by `logtriage replay`. Bad lines are
// counted and reported through `onBadLine`, never thrown: one broken line must not cost
// the valid entries around it.

export type InputFormat = "journal-json" | "kmsg" | "dmesg";

export type BadLineKind = "malformed-json" | "oversized" | "bad-kmsg-record";

export interface FileReadStats {
  format: InputFormat | null;
  lines: number;
  entries: number;
  /** Lines the raw prefilter proved irrelevant, so they were never parsed. */
  skipped: number;
  bad: Record<BadLineKind, number>;
  bytes: number;
}

export interface FileReadOptions {
  /** Lines above this many characters are skipped as oversized (default 1,000,000). */
  maxLineChars?: number;
  /** Raw journal-JSON prefilter: return false for a line that cannot matter. */
  wantsRawLine?: (line: string) => boolean;
  onBadLine?: (kind: BadLineKind, lineNumber: number, sample: string) => void;
  /** Year for syslog stamps without one; without it they get the latest year not in the future of `nowUs`. */
  year?: number;
  nowUs?: number;
  /**
   * dmesg and kmsg lines are stamped with the time since boot: lines this boot wrote get wall
   * time from it; others keep none (their events say the time is relative to their boot).
   */
  bootClock?: () => BootClock | null;
  bootId?: string | null;
}

export const DEFAULT_MAX_LINE_CHARS = 1_000_000;

/**
 * A full collection every this many characters read. Without any, JSC's lazy collector lets a
 * replay's peak RSS grow with its input. One every ~32 MB kept it at ~95 MB for 1,000,000
 * entries but was a fifth to a third of the replay's CPU time: a full collection costs tens of
 * ms however little is garbage, so their number is what counts. Every 128 MB: a quarter of the
 * collections for a peak ~30 MB higher, which still does not grow with the input (`bun run bench`).
 */
const FILE_GC: GcPacing = { chars: 128 * 1024 * 1024 };

/**
 * The kernel adds a handful of continuation lines to a record (SUBSYSTEM=, DEVICE=; see
 * Documentation/ABI/testing/dev-kmsg); a file with endless indented lines after one header must
 * not grow one record without bound. Lines past this are counted as oversized.
 */
export const MAX_KMSG_CONTINUATIONS = 64;

export function detectFormat(line: string): InputFormat {
  const t = line.trimStart();
  if (t.startsWith("{")) return "journal-json";
  if (isKmsgHeader(t)) return "kmsg";
  return "dmesg";
}

function looksLikeJsonObject(line: string): boolean {
  const first = line.charCodeAt(0) === 123 /* { */ ? 0 : line.length - line.trimStart().length;
  let last = line.length - 1;
  while (last > first && line.charCodeAt(last) <= 32) last--;
  return line.charCodeAt(first) === 123 && line.charCodeAt(last) === 125 /* } */;
}

export function newStats(): FileReadStats {
  return { format: null, lines: 0, entries: 0, skipped: 0, bad: { "malformed-json": 0, oversized: 0, "bad-kmsg-record": 0 }, bytes: 0 };
}

export async function* readLogStream(
  stream: ReadableStream<Uint8Array>,
  options: FileReadOptions,
  stats: FileReadStats = newStats(),
): AsyncGenerator<Entry> {
  const maxChars = options.maxLineChars ?? DEFAULT_MAX_LINE_CHARS;
  const bad = (kind: BadLineKind, sample: string) => {
    stats.bad[kind]++;
    options.onBadLine?.(kind, stats.lines, sample.slice(0, 120));
  };
  let kmsgRecord: string | null = null;
  let kmsgContinuations = 0;
  const bootId = options.bootId ?? null;
  const toWallTime = (entry: Entry): Entry => {
    if (entry.realtimeUs !== null || entry.monotonicUs === null || !options.bootClock) return entry;
    const clock = options.bootClock();
    if (clock?.wrote(entry.monotonicUs, entry.message)) entry.realtimeUs = clock.bootRealtimeUs + entry.monotonicUs;
    return entry;
  };
  const flushKmsg = (): Entry | null => {
    if (kmsgRecord === null) return null;
    const entry = parseKmsgRecord(kmsgRecord, bootId);
    if (!entry) bad("bad-kmsg-record", kmsgRecord);
    kmsgRecord = null;
    return entry && toWallTime(entry);
  };

  for await (const batch of splitLines(stream, maxChars, FILE_GC)) {
    for (const item of batch) {
      stats.lines++;
      if (typeof item !== "string" && item.kind === "oversized") {
        stats.bytes += item.chars + 1;
        bad("oversized", `${item.chars} characters`);
        continue;
      }
      const line = typeof item === "string" ? item : item.text;
      stats.bytes += line.length + 1;
      if (stats.format === null) {
        if (line.trim() === "") continue;
        stats.format = detectFormat(line);
      }
      switch (stats.format) {
        case "journal-json": {
          if (line.trim() === "") continue;
          // A shape check every line gets, so broken lines are counted even when the
          // prefilter below rules them out without parsing.
          if (!looksLikeJsonObject(line)) {
            bad("malformed-json", line);
            continue;
          }
          if (options.wantsRawLine && !options.wantsRawLine(line)) {
            stats.skipped++;
            continue;
          }
          let record: unknown;
          try {
            record = JSON.parse(line);
          } catch {
            bad("malformed-json", line);
            continue;
          }
          let entry: Entry | null;
          try {
            entry = journalRecordToEntry(record);
          } catch (error) {
            // The parser coerces every JSON value; should one still throw, the line is the
            // casualty, counted with its number, and the file goes on.
            bad("malformed-json", `${error instanceof Error ? error.message : String(error)}: ${line}`);
            continue;
          }
          if (!entry) {
            bad("malformed-json", line);
            continue;
          }
          stats.entries++;
          yield entry;
          break;
        }
        case "kmsg": {
          if (line.startsWith(" ") && kmsgRecord !== null) {
            if (kmsgContinuations >= MAX_KMSG_CONTINUATIONS || kmsgRecord.length + line.length > maxChars)
              bad("oversized", `kmsg record continues past ${MAX_KMSG_CONTINUATIONS} lines or ${maxChars} characters`);
            else {
              kmsgRecord += `\n${line}`;
              kmsgContinuations++;
            }
            continue;
          }
          const done = flushKmsg();
          if (done) {
            stats.entries++;
            yield done;
          }
          kmsgContinuations = 0;
          if (isKmsgHeader(line)) kmsgRecord = line;
          else if (line.trim() !== "") bad("bad-kmsg-record", line);
          break;
        }
        case "dmesg": {
          const entry = parseDmesgLine(line, {
            ...(options.year === undefined ? {} : { year: options.year }),
            ...(options.nowUs === undefined ? {} : { nowUs: options.nowUs }),
          });
          if (entry) {
            stats.entries++;
            yield toWallTime(entry);
          }
          break;
        }
      }
    }
  }
  const last = flushKmsg();
  if (last) {
    stats.entries++;
    yield last;
  }
}
