import type { Entry } from "../event.ts";

// Plain kernel log text, in the shapes people paste or keep on disk:
//   [  123.456789] python3[4215]: segfault at 0 ip ...          dmesg
//   <6>[  123.456789] ...                                        dmesg -r
//   kern  :err   : [  123.456789] ...                            dmesg -x
//   [Sun Nov 22 18:00:00 2026] ...                               dmesg -T
//   python3[4215]: segfault at 0 ...                             dmesg -t, or a bare line
//   2026-11-22T18:00:00.123456+00:00 host kernel: [ 12.3] ...   rsyslog (Debian 12 default)
//   Nov 22 18:00:00 host kernel: [ 12.3] ...                     classic syslog / kern.log
// Syslog files also hold userspace lines ("host sshd[812]: ..."): those keep their identifier.

const LEVELS: Record<string, number> = { emerg: 0, alert: 1, crit: 2, err: 3, warn: 4, notice: 5, info: 6, debug: 7 };
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const RAW_PRIORITY = /^<(\d+)>/;
const DECODED_LEVEL = /^(\w+)\s*:(\w+)\s*: /;
const MONOTONIC_STAMP = /^\[\s*(\d+)\.(\d+)\]\s?/;
const CTIME_STAMP = /^\[(\w{3} (\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) (\d{4}))\]\s?/;
const ISO_SYSLOG = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) (\S+) ([^\s[:]+)(?:\[(\d+)\])?: ?/;
const BSD_SYSLOG = /^(\w{3}) +(\d+) (\d\d):(\d\d):(\d\d) (\S+) ([^\s[:]+)(?:\[(\d+)\])?: ?/;

export interface DmesgContext {
  /** Year for classic syslog stamps, which omit it. */
  year: number;
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

  const iso = ISO_SYSLOG.exec(text);
  const bsd = iso ? null : BSD_SYSLOG.exec(text);
  if (iso) {
    realtimeUs = Date.parse(iso[1] as string) * 1000;
    identifier = iso[3] as string;
    pid = iso[4] ? Number(iso[4]) : null;
    text = text.slice(iso[0].length);
  } else if (bsd) {
    const month = MONTHS.indexOf(bsd[1] as string);
    if (month >= 0) {
      // Classic syslog and dmesg -T print local time.
      realtimeUs = new Date(ctx.year, month, Number(bsd[2]), Number(bsd[3]), Number(bsd[4]), Number(bsd[5])).getTime() * 1000;
      identifier = bsd[7] as string;
      pid = bsd[8] ? Number(bsd[8]) : null;
      text = text.slice(bsd[0].length);
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
      realtimeUs = new Date(Number(ctime[7]), month, Number(ctime[3]), Number(ctime[4]), Number(ctime[5]), Number(ctime[6])).getTime() * 1000;
      text = text.slice(ctime[0].length);
    }
  }
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
