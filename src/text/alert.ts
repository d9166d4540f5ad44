// Alert text within ntfy's limits: the title line, the body cut to fit, tags, and the helpers
// that make log text printable and count it in UTF-8 bytes. Pure strings in, strings out;
// notify/alert.ts decides what goes in (per tier and per config).

/** What ntfy's `X-Priority` header takes; config names are turned into these once, in config/schema.ts. */
export type NtfyPriority = 1 | 2 | 3 | 4 | 5;

// A Notification is what the outbox stores (no topic, no credentials: those come from the
// config at send time, so a token change applies to alerts already queued and no secret lands
// in the database).
export interface Notification {
  title: string;
  message: string;
  priority: NtfyPriority;
  tags: string[];
  /** URL opened when the notification is tapped; null for none. */
  click: string | null;
  /**
   * The incident's ntfy sequence id: a later publish with the same id replaces this
   * notification in place (ntfy 2.16+; an older server shows it as a new one).
   */
  sequenceId?: string;
  /** ntfy action buttons (docs.ntfy.sh/publish/#action-buttons), at most three. */
  actions?: NtfyAction[];
  /** Absent: publish. "clear": mark the sequence's notification read and dismiss it; "delete": remove it. Both need sequenceId. */
  op?: "clear" | "delete";
}

/** An "http" button publishes `body` to `url` from the phone; a "view" button opens `url`. */
export type NtfyAction =
  | { action: "http"; label: string; url: string; method: "POST"; body: string; clear: boolean }
  | { action: "view"; label: string; url: string; clear: boolean };

// ntfy's default limits, in UTF-8 bytes. Message: docs.ntfy.sh/publish/#limitations ("up to
// 4,096 bytes long. Longer messages are treated as attachments", and a server without an
// attachment cache refuses them). Title 1 KB and all tags together 512 bytes, HTTP 400 beyond
// (ntfy v2.28.0 release notes; server/server_message_limits_test.go counts bytes, not characters).
export const NTFY_MESSAGE_LIMIT_BYTES = 4096;
export const NTFY_TITLE_LIMIT_BYTES = 1024;
export const NTFY_TAGS_LIMIT_BYTES = 512;

/** "🔴 [workstation] OOM kill: firefox (pid 4521)", on one line, within ntfy's title limit. */
export function alertTitle(emoji: string, instanceId: string, summary: string): string {
  const line = printable(`${emoji} [${instanceId}] ${summary}`).replace(/\s+/g, " ").trim();
  return fitBytes(line, NTFY_TITLE_LIMIT_BYTES);
}

/**
 * Tags without commas (ntfy joins JSON tags into its comma-separated X-Tags internally, so a
 * comma would split one) and without blanks, dropping from the end until all of them, joined
 * with commas, fit ntfy's 512 bytes.
 */
export function fitTags(tags: readonly string[]): string[] {
  const kept: string[] = [];
  let bytes = 0;
  for (const raw of tags) {
    const tag = raw.replaceAll(",", " ").trim();
    if (tag === "") continue;
    const cost = utf8Bytes(tag) + (kept.length > 0 ? 1 : 0);
    if (bytes + cost > NTFY_TAGS_LIMIT_BYTES) break;
    kept.push(tag);
    bytes += cost;
  }
  return kept;
}

export interface BodyParts {
  /** Host and Time lines, then a blank line. */
  head: string[];
  detail: string[];
  /** Lines after the detail that must survive a cut (the occurrence count). */
  tail: string[];
  id: string;
}

/**
 * The body, within ntfy's 4096 bytes. Whole, it ends with "Details: logtriage show <id>". Too
 * long, it keeps whole lines while they fit and ends with a line saying it was cut and where
 * the rest is. A line is cut in its middle (at a character, never inside one) only when not
 * one line of the detail would fit whole — a single huge line still shows its start.
 */
export function alertBody(parts: BodyParts): string {
  const detailEnd = parts.detail.length > 0 ? [""] : [];
  const whole = [...parts.head, ...parts.detail, ...detailEnd, ...parts.tail, `Details: logtriage show ${parts.id}`].join("\n");
  if (utf8Bytes(whole) <= NTFY_MESSAGE_LIMIT_BYTES) return whole;

  const end = ["", ...parts.tail, `… cut to fit ntfy's ${NTFY_MESSAGE_LIMIT_BYTES}-byte limit; all of it: logtriage show ${parts.id}`];
  const budget = NTFY_MESSAGE_LIMIT_BYTES - utf8Bytes(`\n${end.join("\n")}`);
  const kept: string[] = [];
  let used = 0;
  let keptDetail = 0;
  const lines = [...parts.head, ...parts.detail];
  for (const [i, line] of lines.entries()) {
    const newline = kept.length > 0 ? 1 : 0;
    if (used + newline + utf8Bytes(line) <= budget) {
      kept.push(line);
      used += newline + utf8Bytes(line);
      if (i >= parts.head.length) keptDetail++;
      continue;
    }
    if (keptDetail === 0) kept.push(fitBytes(line, budget - used - newline));
    break;
  }
  // The arithmetic above already fits; this bounds the result even for an absurd id or instance.
  return fitBytes([...kept, ...end].join("\n"), NTFY_MESSAGE_LIMIT_BYTES);
}

/** Log text made fit for a phone and for JSON: ANSI colour sequences and control characters (but tab and newline) removed. */
export function printable(text: string): string {
  // Service output in the journal often carries colour codes; each control character would
  // also cost 6 bytes as a JSON \u escape against ntfy's 8 KB JSON body limit.
  return text.replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, "").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
}

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/** `text` cut to at most maxBytes of UTF-8, at a character boundary, ending with "…" when cut. */
export function fitBytes(text: string, maxBytes: number): string {
  if (utf8Bytes(text) <= maxBytes) return text;
  const ellipsis = "…";
  const room = maxBytes - utf8Bytes(ellipsis);
  if (room < 0) return "";
  const bytes = Buffer.from(text, "utf8");
  let end = room;
  // Step back over continuation bytes (10xxxxxx) so no character is split.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString("utf8") + ellipsis;
}
