import { parseShowBlocks, parseShowTimestamp } from "../metrics/systemctl-show.ts";

// Timers as `systemctl show` describes them, and the interval between their runs. Pure: text in,
// values out. The block format, TZ=UTC and --timestamp=unix are explained in
// metrics/systemctl-show.ts. Captured from a real systemd 252 user manager
// (tests/fixtures/real/systemctl-show-timers.txt):
//
//   Unit=lt-capture-backup.service
//   TimersMonotonic={ OnUnitActiveUSec=1h ; next_elapse=7h 59min 24.632751s }
//   TimersCalendar={ OnCalendar=*-*-* 00:00:00 ; next_elapse=@1795478400 }
//   LastTriggerUSec=Mon 2026-11-23 00:38:15 UTC
//   LoadState=not-found            (a timer no manager knows still gets a block)

export const TIMER_PROPERTIES = ["Id", "LoadState", "ActiveState", "Unit", "LastTriggerUSec", "NextElapseUSecRealtime", "ActiveEnterTimestamp", "TimersCalendar", "TimersMonotonic"] as const;
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
  us: 1, ms: 1_000, s: 1_000_000, min: 60_000_000, h: 3_600_000_000,
  d: 86_400_000_000, w: 604_800_000_000, M: 2_629_800_000_000, y: 31_557_600_000_000,
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
  return text.split(/\n{2,}/).map((b) => b.split("\n").filter((l) => l.indexOf("=") > 0)).filter((b) => b.length > 0);
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
  return text.split(/\n\n+/).filter((b) => b.trim() !== "").map((block) => {
    const next = /Next elapse: (.+)$/m.exec(block)?.[1];
    const second = /Iter\. #2: (.+)$/m.exec(block)?.[1];
    const a = parseShowTimestamp(next?.trim());
    const b = parseShowTimestamp(second?.trim());
    return a !== null && b !== null && b > a ? b - a : null;
  });
}

/** `systemctl list-units --type=timer --all --plain --no-legend` → the timers' names. */
export function parseTimerList(text: string): string[] {
  return text.split("\n").map((l) => l.trim().split(/\s+/)[0] ?? "").filter((n) => n.endsWith(".timer"));
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
