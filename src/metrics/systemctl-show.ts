// `systemctl show` output → what /metrics says about a unit. Pure: text in, values out.
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

/** The properties asked for; everything `unitMetrics` reads. */
export const SHOW_PROPERTIES = ["Id", "LoadState", "ActiveState", "SubState", "NRestarts", "ExecMainCode", "ExecMainStatus", "InactiveEnterTimestamp", "LastTriggerUSec"] as const;

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

function integer(value: string | undefined): number | null {
  if (value === undefined || !/^-?\d+$/.test(value)) return null;
  return Number(value);
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
