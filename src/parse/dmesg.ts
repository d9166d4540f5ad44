import type { Entry } from "../event.ts";

// Plain kernel log text, in the shapes people paste or keep on disk:
//   [  123.456789] python3[4215]: segfault at 0 ip ...          dmesg
//   <6>[  123.456789] ...                                        dmesg -r
//   kern  :err   : [  123.456789] ...                            dmesg -x
//   [Sun Nov 22 18:00:00 2026] ...                               dmesg -T
//   python3[4215]: segfault at 0 ...                             dmesg -t, or a bare line
//   2026-11-22T18:00:00.123456+00:00 host kernel: [ 12.3] ...   rsyslog (Debian 12 default), journalctl -o short-iso(-precise)
//   Nov 22 18:00:00 host kernel: [ 12.3] ...                     classic syslog / kern.log, journalctl -o short
//   Nov 22 18:00:00.123456 host systemd[1]: ...                  journalctl -o short-precise
//   Nov 22 18:00:00 kernel: ...                                  syslog without a hostname (busybox, some containers)
//   <30>Nov 22 18:00:00 host systemd[1]: ...                     syslog with its <PRI> tag (a network syslog, a raw socket dump)
//   <30>1 2026-11-22T18:00:00.123Z host systemd 1 - - ...        RFC 5424
//   [  123.456789] host systemd[1]: ...                          journalctl -o short-monotonic
// Syslog files also hold userspace lines ("host sshd[812]: ..."): those keep their identifier.
// `journalctl -o cat` keeps the message only: such lines read as bare kernel lines.

const LEVELS: Record<string, number> = { emerg: 0, alert: 1, crit: 2, err: 3, warn: 4, notice: 5, info: 6, debug: 7 };
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const RAW_PRIORITY = /^<(\d+)>/;
const DECODED_LEVEL = /^(\w+)\s*:(\w+)\s*: /;
const MONOTONIC_STAMP = /^\[\s*(\d+)\.(\d+)\]\s?/;
const CTIME_STAMP = /^\[(\w{3} (\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) (\d{4}))\]\s?/;
// A host name never ends in ":", so "Nov 22 18:00:00 kernel: ACPI: …" is a line without one.
const ISO_SYSLOG = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) (\S*[^\s:]) ([^\s[:]+)(?:\[(\d+)\])?: ?/;
const BSD_SYSLOG = /^(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? (\S*[^\s:]) ([^\s[:]+)(?:\[(\d+)\])?: ?/;
const BSD_SYSLOG_NO_HOST = /^(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? ([^\s[:]+)(?:\[(\d+)\])?: ?/;
// RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG ("-" for nil).
const RFC5424 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[(?:[^\]\\]|\\.)*\])+) ?/;
const PRI_TAG = /^<(\d{1,3})>(?=\w{3} +\d+ \d\d:|\d{4}-\d\d-\d\dT)/;
// journalctl -o short-monotonic: the stamp, then host and identifier; dmesg's own "comm[pid]: …"
// lines have no host before them, so a pid in brackets (or "kernel:") after a host is needed.
const MONOTONIC_HOSTED = /^(\S*[^\s:]) (?:(kernel)|([^\s[:]+)\[(\d+)\]): ?/;
const DAY_US = 86_400_000_000;

export interface DmesgContext {
  /** Year for classic syslog stamps, which omit it (`replay --year`). */
  year?: number;
  /**
   * Now, for stamps without a year when `year` is not given: they get the latest year that
   * does not put them in the future (a day of slack for time zones).
   */
  nowUs?: number;
  /** When the boot that wrote the lines started: turns dmesg's seconds-since-boot into wall time. */
  bootRealtimeUs?: number;
}

/** A local time from a year-less stamp: `ctx.year`, else the latest year not in the future of `ctx.nowUs`. */
function yearlessUs(
  ctx: DmesgContext,
  month: number,
  day: number,
  h: number,
  m: number,
  sec: number,
  fraction: string | undefined,
): number | null {
  const frac = fraction ? Math.round(Number(`0.${fraction}`) * 1_000_000) : 0;
  const at = (year: number) => new Date(year, month, day, h, m, sec).getTime() * 1000 + frac;
  if (ctx.year !== undefined) return at(ctx.year);
  if (ctx.nowUs === undefined) return null;
  const thisYear = new Date(ctx.nowUs / 1000).getFullYear();
  const candidate = at(thisYear);
  return candidate > ctx.nowUs + DAY_US ? at(thisYear - 1) : candidate;
}

function monotonicUs(seconds: string, fraction: string): number {
  return Number(seconds) * 1_000_000 + Math.round(Number(`0.${fraction}`) * 1_000_000);
}

/** Parse one line of kernel log text; null for an empty line. */
export function parseDmesgLine(line: string, ctx: DmesgContext): Entry | null {
  let text = line.replace(/\r$/, "");
  if (text.trim() === "") return null;
  let priority: number | null = null;
  let realtimeUs: number | null = null;
  let mono: number | null = null;
  let identifier = "kernel";
  let pid: number | null = null;
  let transport = "kernel";

  let syslogPriority: number | null = null;
  let lineMonoUs: number | null = null;
  const rfc = RFC5424.exec(text);
  if (rfc) {
    syslogPriority = Number(rfc[1]) & 7;
    const stamp = rfc[2] as string;
    realtimeUs = stamp === "-" ? null : Date.parse(stamp) * 1000;
    if (realtimeUs !== null && Number.isNaN(realtimeUs)) realtimeUs = null;
    identifier = rfc[4] === "-" ? "kernel" : (rfc[4] as string);
    pid = /^\d+$/.test(rfc[5] as string) ? Number(rfc[5]) : null;
    text = text.slice(rfc[0].length).replace(/^\uFEFF/, "");
  } else {
    const tag = PRI_TAG.exec(text);
    if (tag) {
      syslogPriority = Number(tag[1]) & 7;
      text = text.slice(tag[0].length);
    }
    const iso = ISO_SYSLOG.exec(text);
    const bsd = iso ? null : (BSD_SYSLOG.exec(text) ?? BSD_SYSLOG_NO_HOST.exec(text));
    if (iso) {
      realtimeUs = Date.parse(iso[1] as string) * 1000;
      identifier = iso[3] as string;
      pid = iso[4] ? Number(iso[4]) : null;
      text = text.slice(iso[0].length);
    } else if (bsd) {
      const month = MONTHS.indexOf(bsd[1] as string);
      if (month >= 0) {
        // Classic syslog and dmesg -T print local time. With and without a host the groups
        // after the stamp shift by one.
        const hosted = bsd.length === 10;
        realtimeUs = yearlessUs(ctx, month, Number(bsd[2]), Number(bsd[3]), Number(bsd[4]), Number(bsd[5]), bsd[6]);
        identifier = (hosted ? bsd[8] : bsd[7]) as string;
        const pidText = hosted ? bsd[9] : bsd[8];
        pid = pidText ? Number(pidText) : null;
        text = text.slice(bsd[0].length);
      }
    } else {
      const mono = MONOTONIC_STAMP.exec(text);
      const hosted = mono ? MONOTONIC_HOSTED.exec(text.slice(mono[0].length)) : null;
      if (mono && hosted) {
        // journalctl -o short-monotonic: the stamp belongs to the whole line, not the kernel's message.
        identifier = hosted[2] ?? (hosted[3] as string);
        pid = hosted[4] ? Number(hosted[4]) : null;
        lineMonoUs = monotonicUs(mono[1] as string, mono[2] as string);
        text = text.slice(mono[0].length + hosted[0].length);
      }
    }
  }
  if (identifier !== "kernel") transport = "syslog";

  const raw = RAW_PRIORITY.exec(text);
  if (raw) {
    priority = Number(raw[1]) & 7;
    text = text.slice(raw[0].length);
  } else {
    const decoded = DECODED_LEVEL.exec(text);
    if (decoded && LEVELS[decoded[2] as string] !== undefined) {
      priority = LEVELS[decoded[2] as string] ?? null;
      text = text.slice(decoded[0].length);
    }
  }
  const stamp = MONOTONIC_STAMP.exec(text);
  if (stamp) {
    mono = monotonicUs(stamp[1] as string, stamp[2] as string);
    text = text.slice(stamp[0].length);
  } else {
    const ctime = CTIME_STAMP.exec(text);
    if (ctime) {
      const month = MONTHS.indexOf(ctime[2] as string);
      realtimeUs =
        new Date(Number(ctime[7]), month, Number(ctime[3]), Number(ctime[4]), Number(ctime[5]), Number(ctime[6])).getTime() * 1000;
      text = text.slice(ctime[0].length);
    }
  }
  if (priority === null) priority = syslogPriority;
  if (mono === null) mono = lineMonoUs;
  // dmesg's seconds since boot become wall time when the boot that wrote them is known.
  if (realtimeUs === null && mono !== null && ctx.bootRealtimeUs !== undefined) realtimeUs = ctx.bootRealtimeUs + mono;
  return {
    origin: "dmesg",
    realtimeUs,
    monotonicUs: mono,
    cursor: null,
    bootId: null,
    transport,
    priority,
    identifier,
    unit: null,
    pid,
    comm: null,
    message: text,
    messageId: null,
    fields: { MESSAGE: text, ...(priority === null ? {} : { PRIORITY: String(priority) }), SYSLOG_IDENTIFIER: identifier },
  };
}
