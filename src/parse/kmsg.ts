import type { Entry } from "../event.ts";

// A /dev/kmsg record (Documentation/ABI/testing/dev-kmsg):
//   6,1234,5678901234,-;python3[4215]: segfault at 0 ip 00007f7d17185ad8 ...
//    SUBSYSTEM=pci
//    DEVICE=+pci:0000:00:1f.2
// "prio,seq,usec,flags[,more];message", then optional continuation lines that start with a
// space and carry KEY=value dictionary pairs. prio is facility*8 + level; the kernel's own
// messages have facility 0, records userspace wrote to /dev/kmsg have another facility and
// start with "name[pid]: ". Non-printable bytes in the message arrive escaped as \xNN.

const HEADER = /^(\d+),(\d+),(\d+),([^;,]*)(?:,[^;]*)?;/;
const USERSPACE_PREFIX = /^([^\s[:]+)(?:\[(\d+)\])?: /;

function unescapeKmsg(text: string): string {
  if (!text.includes("\\x")) return text;
  return text.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export function kmsgCursor(bootId: string | null, seq: number): string {
  return `kmsg:${bootId ?? "unknown"}:${seq}`;
}

/** True when a line looks like the start of a kmsg record ("prio,seq,usec,flags;"). */
export function isKmsgHeader(line: string): boolean {
  return HEADER.test(line);
}

/**
 * Parse one record (header line plus its continuation lines, joined with "\n").
 * `bootId` names the boot the records belong to (from /proc/sys/kernel/random/boot_id),
 * since sequence numbers restart at every boot. `bootRealtimeUs`, when known, turns the
 * record's monotonic time into wall-clock time.
 */
export function parseKmsgRecord(record: string, bootId: string | null, bootRealtimeUs: number | null = null): Entry | null {
  const header = HEADER.exec(record);
  if (!header) return null;
  const prio = Number(header[1]);
  const seq = Number(header[2]);
  const usec = Number(header[3]);
  const rest = record.slice(header[0].length);
  const lines = rest.split("\n");
  const message = unescapeKmsg(lines[0] ?? "");
  const fields: Record<string, string> = {
    PRIORITY: String(prio & 7),
    SYSLOG_FACILITY: String(prio >> 3),
    _KMSG_SEQ: String(seq),
    MESSAGE: message,
  };
  for (const continuation of lines.slice(1)) {
    const pair = continuation.trimStart();
    const eq = pair.indexOf("=");
    if (eq > 0) fields[pair.slice(0, eq)] = unescapeKmsg(pair.slice(eq + 1));
  }
  const facility = prio >> 3;
  let identifier = "kernel";
  let pid: number | null = null;
  let text = message;
  if (facility !== 0) {
    // Userspace wrote this record (systemd in early boot, `echo > /dev/kmsg`); journald
    // splits off the "name[pid]: " prefix the same way.
    const prefix = USERSPACE_PREFIX.exec(message);
    if (prefix) {
      identifier = prefix[1] as string;
      pid = prefix[2] ? Number(prefix[2]) : null;
      text = message.slice(prefix[0].length);
    }
  }
  return {
    origin: "kmsg",
    realtimeUs: bootRealtimeUs === null ? null : bootRealtimeUs + usec,
    monotonicUs: usec,
    cursor: kmsgCursor(bootId, seq),
    bootId,
    transport: "kernel",
    priority: prio & 7,
    identifier,
    unit: null,
    pid,
    comm: null,
    message: text,
    messageId: null,
    fields,
  };
}
