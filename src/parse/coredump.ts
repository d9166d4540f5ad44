// What systemd-coredump tells about a crash, from the three places it says it (systemd 252):
//  - `coredumpctl info PID`: text. 252 accepts `--json=short` for `info` but still prints text,
//    so the text is what we parse (tests/fixtures/real/coredumpctl-info.txt);
//  - `coredumpctl --json=short list PID`: one JSON array, with the dump's size in bytes;
//  - the journal entry (MESSAGE_ID fc2e22bc6ee647b6b90729ab34a250b1), whose MESSAGE carries the
//    same "Stack trace of thread N:" block when elfutils could unwind the dump.
// And where the kernel sends cores at all: /proc/sys/kernel/core_pattern.

/** One frame: `#0  0x000055ea7cfa0218 main (crashme + 0x1218)`; `n/a` (no symbol) is null. */
export interface StackFrame {
  index: number;
  address: string;
  func: string | null;
  /** The ELF object the frame is in ("libc.so.6", "crashme"). */
  object: string;
  offset: string;
}

export interface CoredumpInfo {
  pid: number;
  comm: string | null;
  signalNumber: number | null;
  /** "SIGSEGV"; coredumpctl prints "11 (SEGV)". */
  signalName: string | null;
  executable: string | null;
  unit: string | null;
  userUnit: string | null;
  /** The core file, when systemd-coredump kept one. */
  storagePath: string | null;
  /** "present", "missing", "none", "truncated" …, from `Storage: PATH (present)` or `Storage: none`. */
  storageState: string | null;
  /** As coredumpctl prints it ("16.4K"): it gives no exact byte count in `info`. */
  sizeOnDisk: string | null;
  frames: StackFrame[];
}

export interface CoredumpListRow {
  timeUs: number;
  pid: number;
  signal: number | null;
  /** "present", "missing", "none"… */
  corefile: string;
  exe: string | null;
  sizeBytes: number | null;
}

// `#10 0x0000000000647d97 n/a (python3.11 + 0x247d97)`
const FRAME = /^\s*#(\d+)\s+(0x[0-9a-f]+)\s+(\S+)\s+\((.+) \+ (0x[0-9a-f]+)\)\s*$/;

/** Frames of the first "Stack trace of thread" block (the crashing thread comes first). */
export function parseStackFrames(text: string): StackFrame[] {
  const frames: StackFrame[] = [];
  let inTrace = false;
  for (const line of text.split("\n")) {
    if (/Stack trace of thread \d+:/.test(line)) {
      if (inTrace) break;
      inTrace = true;
      continue;
    }
    if (!inTrace) continue;
    const m = FRAME.exec(line);
    if (!m) {
      if (frames.length > 0) break;
      continue;
    }
    const func = m[3] as string;
    frames.push({
      index: Number(m[1]),
      address: m[2] as string,
      func: func === "n/a" ? null : func,
      object: m[4] as string,
      offset: m[5] as string,
    });
  }
  return frames;
}

/** `#0 __strlen_evex (libc.so.6 + 0x167ad8)`: what a person reads, without the address. */
export function describeFrame(f: StackFrame): string {
  return `#${f.index} ${f.func ?? "??"} (${f.object} + ${f.offset})`;
}

function infoFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\s{0,16}([A-Z][A-Za-z ]+): (.*)$/.exec(line);
    if (m && !fields.has(m[1] as string)) fields.set(m[1] as string, (m[2] as string).trim());
  }
  return fields;
}

/** One `coredumpctl info PID` record (the first, when several are printed); null when none. */
export function parseCoredumpInfo(text: string): CoredumpInfo | null {
  const record = text.split(/\n\s*\n(?=\s*PID: )/)[0] ?? "";
  const fields = infoFields(record);
  const pidText = /^(\d+)(?: \((.*)\))?$/.exec(fields.get("PID") ?? "");
  if (!pidText) return null;
  const signal = /^(\d+)(?: \((\w+)\))?/.exec(fields.get("Signal") ?? "");
  const storage = fields.get("Storage") ?? null;
  const stored = storage === null ? null : /^(\/\S+) \(([^)]+)\)$/.exec(storage);
  return {
    pid: Number(pidText[1]),
    comm: pidText[2] ?? null,
    signalNumber: signal ? Number(signal[1]) : null,
    signalName: signal?.[2] ? `SIG${signal[2]}` : null,
    executable: fields.get("Executable") ?? null,
    unit: fields.get("Unit") ?? null,
    userUnit: fields.get("User Unit") ?? null,
    storagePath: stored ? (stored[1] as string) : null,
    storageState: stored ? (stored[2] as string) : storage,
    sizeOnDisk: fields.get("Size on Disk") ?? null,
    frames: parseStackFrames(record),
  };
}

/** `coredumpctl --json=short list`; null when the text is not that array. */
export function parseCoredumpList(text: string): CoredumpListRow[] | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // Not JSON: an old coredumpctl without --json, or an error message on stdout.
    return null;
  }
  if (!Array.isArray(value)) return null;
  const rows: CoredumpListRow[] = [];
  for (const item of value as Record<string, unknown>[]) {
    if (typeof item !== "object" || item === null || typeof item["pid"] !== "number") continue;
    rows.push({
      timeUs: typeof item["time"] === "number" ? item["time"] : 0,
      pid: item["pid"],
      signal: typeof item["sig"] === "number" ? item["sig"] : null,
      corefile: typeof item["corefile"] === "string" ? item["corefile"] : "unknown",
      exe: typeof item["exe"] === "string" ? item["exe"] : null,
      sizeBytes: typeof item["size"] === "number" ? item["size"] : null,
    });
  }
  return rows;
}

/** Where the kernel sends a core, read from core_pattern (see core(5)). */
export type CoreTarget =
  | { kind: "systemd-coredump" }
  | { kind: "apport" }
  | { kind: "pipe"; program: string }
  | { kind: "file"; pattern: string }
  | { kind: "disabled"; why: string };

export function parseCorePattern(text: string): CoreTarget {
  const pattern = text.trim();
  if (pattern === "") return { kind: "disabled", why: "core_pattern is empty" };
  if (pattern.startsWith("|")) {
    const program = pattern.slice(1).trim().split(/\s+/)[0] ?? "";
    if (/systemd-coredump$/.test(program)) return { kind: "systemd-coredump" };
    if (/apport$/.test(program)) return { kind: "apport" };
    // systemd-coredump itself writes "|/bin/false" after it decides PID 1 crashed.
    if (/\/(false|true)$/.test(program)) return { kind: "disabled", why: `core_pattern pipes to ${program}` };
    return { kind: "pipe", program };
  }
  return { kind: "file", pattern };
}

/** apport's report name for an executable: `/usr/bin/python3.11` → `_usr_bin_python3.11.<uid>.crash`. */
export function apportReportPrefix(executable: string): string {
  return executable.replaceAll("/", "_");
}
