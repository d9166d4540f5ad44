// `systemctl show` output, for /metrics (units), the timers monitor (timers and their
// services) and anything else that asks a manager about a unit. Pure: text in, values out.
//
// systemctl prints one KEY=VALUE block per unit, blocks separated by an empty line, in the
// order the units were named (systemd 252, Debian 12). Within a block the properties come in
// systemd's own order, not the order `-p` asked for, and a property the unit type lacks
// (LastTriggerUSec on a service, NRestarts on a timer) is left out. A unit neither manager
// knows still gets a block, with LoadState=not-found and exit status 0.
//
//   NRestarts=167
//   ExecMainCode=1
//   ExecMainStatus=3
//   Id=lt-capture-loop.service
//   LoadState=loaded
//   ActiveState=activating
//   SubState=auto-restart
//   InactiveEnterTimestamp=@1795394052
//
// With `--timestamp=unix` the *Timestamp properties are `@SECONDS`; LastTriggerUSec ignores that
// option and stays "Mon 2026-11-23 00:34:12 UTC", which is why the caller runs systemctl with
// TZ=UTC: the one zone whose abbreviation reads back without a table.

/** The properties /metrics asks for; everything `unitFamilies` reads. */
export const SHOW_PROPERTIES = [
  "Id",
  "LoadState",
  "ActiveState",
  "SubState",
  "NRestarts",
  "ExecMainCode",
  "ExecMainStatus",
  "InactiveEnterTimestamp",
  "LastTriggerUSec",
] as const;

export interface UnitShow {
  id: string;
  loadState: string;
  activeState: string;
  subState: string;
  /** Services only: restarts systemd itself scheduled (Restart=) since the unit was loaded. */
  nRestarts: number | null;
  /** Services only: how the main process ended: 1 exited (status = exit code), 2 killed / 3 dumped (status = signal). 0 never ran. */
  execMainCode: number | null;
  execMainStatus: number | null;
  /** When the unit last went inactive or failed, µs since the epoch; null if it never has. */
  inactiveEnterUs: number | null;
  /** Timers only: when it last fired, µs since the epoch; null if never. */
  lastTriggerUs: number | null;
}

/** The blocks, as property maps, in output order. */
export function parseShowBlocks(text: string): Map<string, string>[] {
  const blocks: Map<string, string>[] = [];
  let current: Map<string, string> | null = null;
  for (const line of text.split("\n")) {
    if (line === "") {
      current = null;
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    if (!current) {
      current = new Map();
      blocks.push(current);
    }
    current.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return blocks;
}

// "Mon 2026-11-23 00:34:12 UTC" (weekday optional); with --timestamp=unix "@1795394052".
const UTC_TIMESTAMP = /^(?:[A-Z][a-z]{2} )?(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)? UTC$/;

/** A systemctl timestamp → µs since the epoch; null for "", "n/a", 0 or a form not read here. */
export function parseShowTimestamp(value: string | undefined): number | null {
  if (!value) return null;
  const unix = /^@(\d+)(?:\.(\d{1,6}))?$/.exec(value);
  if (unix) {
    const us = Number(unix[1]) * 1_000_000 + Number((unix[2] ?? "").padEnd(6, "0"));
    return us > 0 ? us : null;
  }
  const utc = UTC_TIMESTAMP.exec(value);
  if (!utc) return null;
  const ms = Date.parse(`${utc[1]}T${utc[2]}Z`);
  if (Number.isNaN(ms)) return null;
  return ms * 1000 + Math.round(Number(utc[3] ?? "0") * 1_000_000);
}

export function unitShowFromBlock(block: ReadonlyMap<string, string>): UnitShow | null {
  const id = block.get("Id");
  if (!id) return null;
  return {
    id,
    loadState: block.get("LoadState") ?? "",
    activeState: block.get("ActiveState") ?? "",
    subState: block.get("SubState") ?? "",
    nRestarts: integer(block.get("NRestarts")),
    execMainCode: integer(block.get("ExecMainCode")),
    execMainStatus: integer(block.get("ExecMainStatus")),
    inactiveEnterUs: parseShowTimestamp(block.get("InactiveEnterTimestamp")),
    lastTriggerUs: parseShowTimestamp(block.get("LastTriggerUSec")),
  };
}

/**
 * `systemctl show -p … UNIT…` output for the units asked, by the name asked. Blocks pair with
 * the names by position (an alias shows its target's Id, so Id alone would lose it); when the
 * counts differ, by Id.
 */
export function parseSystemctlShow(text: string, asked: readonly string[]): Map<string, UnitShow> {
  const shows = parseShowBlocks(text)
    .map(unitShowFromBlock)
    .filter((s): s is UnitShow => s !== null);
  const byName = new Map<string, UnitShow>();
  if (shows.length === asked.length) {
    asked.forEach((name, i) => byName.set(name, shows[i] as UnitShow));
  } else {
    for (const s of shows) if (asked.includes(s.id)) byName.set(s.id, s);
  }
  return byName;
}

// Timers as `systemctl show` describes them, and the interval between their runs. The block
// format, TZ=UTC and --timestamp=unix are explained at the top of this file. Captured from a
// real systemd 252 user manager
// (tests/fixtures/real/systemctl-show-timers.txt):
//
//   Unit=lt-capture-backup.service
//   TimersMonotonic={ OnUnitActiveUSec=1h ; next_elapse=7h 59min 24.632751s }
//   TimersCalendar={ OnCalendar=*-*-* 00:00:00 ; next_elapse=@1795478400 }
//   LastTriggerUSec=Mon 2026-11-23 00:38:15 UTC
//   LoadState=not-found            (a timer no manager knows still gets a block)

export const TIMER_PROPERTIES = [
  "Id",
  "LoadState",
  "ActiveState",
  "Unit",
  "LastTriggerUSec",
  "NextElapseUSecRealtime",
  "ActiveEnterTimestamp",
  "TimersCalendar",
  "TimersMonotonic",
] as const;
export const SERVICE_PROPERTIES = ["Id", "LoadState", "Result", "ExecMainCode", "ExecMainStatus", "InactiveEnterTimestamp"] as const;

export interface TimerShow {
  id: string;
  loaded: boolean;
  /** The unit it starts. */
  unit: string;
  lastTriggerUs: number | null;
  /** When a calendar timer fires next (NextElapseUSecRealtime); null when it is not scheduled (stopped, monotonic only). */
  nextElapseUs: number | null;
  /** When the timer was last started (ActiveEnterTimestamp); null when never. */
  activeEnterUs: number | null;
  /** OnCalendar= specs, normalized by systemd ("*-*-* 00:00:00"). */
  calendars: string[];
  /** OnUnitActiveSec= / OnUnitInactiveSec=, µs: the only monotonic settings that repeat. */
  repeatUs: number[];
}

export interface ServiceShow {
  id: string;
  /** "success", "exit-code", "signal", "timeout", "core-dump", … */
  result: string;
  /** 1 exited (status = exit code), 2 killed / 3 dumped (status = signal number). */
  execMainCode: number | null;
  execMainStatus: number | null;
  inactiveEnterUs: number | null;
}

const TIMESPAN_UNITS: Record<string, number> = {
  us: 1,
  ms: 1_000,
  s: 1_000_000,
  min: 60_000_000,
  h: 3_600_000_000,
  d: 86_400_000_000,
  w: 604_800_000_000,
  M: 2_629_800_000_000,
  y: 31_557_600_000_000,
};

/** systemd's timespan as it prints it ("1h", "1d 2h 30min", "24.632751s") → µs; null when unreadable. */
export function parseTimespan(text: string): number | null {
  const parts = text.trim().split(/\s+/);
  if (parts.length === 0 || parts[0] === "") return null;
  let total = 0;
  for (const part of parts) {
    const m = /^(\d+(?:\.\d+)?)(us|ms|s|min|h|d|w|M|y)$/.exec(part);
    if (!m) return null;
    total += Number(m[1]) * (TIMESPAN_UNITS[m[2] as string] as number);
  }
  return Math.round(total);
}

function integer(value: string | undefined): number | null {
  return value !== undefined && /^-?\d+$/.test(value) ? Number(value) : null;
}

/** The blocks as their lines: a property printed several times (TimersMonotonic) keeps every value. */
function blockLines(text: string): string[][] {
  return text
    .split(/\n{2,}/)
    .map((b) => b.split("\n").filter((l) => l.indexOf("=") > 0))
    .filter((b) => b.length > 0);
}

function repeated(lines: string[], key: string): string[] {
  return lines.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
}

/** `{ OnCalendar=SPEC ; next_elapse=… }` → ["OnCalendar", "SPEC"]. */
function timerSetting(value: string): [string, string] | null {
  const m = /^\{ (\w+)=(.*) ; next_elapse=.* \}$/.exec(value);
  return m ? [m[1] as string, m[2] as string] : null;
}

export function parseTimerShow(text: string): TimerShow[] {
  return blockLines(text).map((block) => {
    const props = new Map(block.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const));
    const calendars: string[] = [];
    for (const v of repeated(block, "TimersCalendar")) {
      const s = timerSetting(v);
      if (s && s[0] === "OnCalendar") calendars.push(s[1]);
    }
    const repeatUs: number[] = [];
    for (const v of repeated(block, "TimersMonotonic")) {
      const s = timerSetting(v);
      if (!s || (s[0] !== "OnUnitActiveUSec" && s[0] !== "OnUnitInactiveUSec")) continue;
      const us = parseTimespan(s[1]);
      if (us !== null && us > 0) repeatUs.push(us);
    }
    return {
      id: props.get("Id") ?? "",
      loaded: props.get("LoadState") === "loaded",
      unit: props.get("Unit") ?? "",
      lastTriggerUs: parseShowTimestamp(props.get("LastTriggerUSec")),
      nextElapseUs: parseShowTimestamp(props.get("NextElapseUSecRealtime")),
      activeEnterUs: parseShowTimestamp(props.get("ActiveEnterTimestamp")),
      calendars,
      repeatUs,
    };
  });
}

export function parseServiceShow(text: string): ServiceShow[] {
  return parseShowBlocks(text).map((props) => ({
    id: props.get("Id") ?? "",
    result: props.get("Result") ?? "",
    execMainCode: integer(props.get("ExecMainCode")),
    execMainStatus: integer(props.get("ExecMainStatus")),
    inactiveEnterUs: parseShowTimestamp(props.get("InactiveEnterTimestamp")),
  }));
}

/**
 * `systemd-analyze calendar --iterations=2 SPEC…` (TZ=UTC) → each spec's interval in µs: the
 * gap between its next two elapses, in the order the specs were given. A spec whose two dates
 * cannot be read gets null.
 */
export function parseCalendarIntervals(text: string): (number | null)[] {
  return text
    .split(/\n\n+/)
    .filter((b) => b.trim() !== "")
    .map((block) => {
      const next = /Next elapse: (.+)$/m.exec(block)?.[1];
      const second = /Iter\. #2: (.+)$/m.exec(block)?.[1];
      const a = parseShowTimestamp(next?.trim());
      const b = parseShowTimestamp(second?.trim());
      return a !== null && b !== null && b > a ? b - a : null;
    });
}

/** `systemctl list-units --type=timer --all --plain --no-legend` → the timers' names. */
export function parseTimerList(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((n) => n.endsWith(".timer"));
}

/**
 * `systemctl list-units --state=failed --plain --no-legend --no-pager`: one unit a line, its
 * name first ("lt-fail.service loaded failed failed Fails"). The unit names, in order.
 */
export function parseFailedUnitList(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((n) => /^[^\s]+\.[a-z]+$/.test(n));
}
