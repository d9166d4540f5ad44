import { systemctlArgv, type Manager } from "../host/systemctl.ts";
import { parseFailedUnitList } from "../parse/systemd-show.ts";
import type { Runner } from "../run.ts";

// The units failed now, on the system manager and this user's: `status` lists them and
// /metrics counts them (systemd_units_failed). One short `systemctl list-units` per manager,
// cached, so a Prometheus scrape every 15 s does not spawn every 15 s.

export interface FailedUnits {
  manager: Manager;
  /** Null when that manager could not be asked (no user session, no systemd as PID 1). */
  units: string[] | null;
}

const CACHE_MS = 60_000;

export async function readFailedUnits(runner: Runner): Promise<FailedUnits[]> {
  const out: FailedUnits[] = [];
  for (const manager of ["system", "user"] as const) {
    const argv = systemctlArgv(manager, "list-units", "--state=failed", "--plain", "--no-legend", "--no-pager");
    try {
      const r = await runner.run(argv, { timeoutMs: 5_000, maxOutputBytes: 256 * 1024 });
      out.push({ manager, units: r.exitCode === 0 ? parseFailedUnitList(r.stdout) : null });
    } catch {
      // systemctl missing or not answering: that manager is unknown, not "nothing failed".
      out.push({ manager, units: null });
    }
  }
  return out;
}

/** readFailedUnits, at most once a minute. */
export class FailedUnitsReader {
  private cached: { atMs: number; value: FailedUnits[] } | null = null;
  constructor(private readonly runner: Runner) {}

  async read(nowMs: number): Promise<FailedUnits[]> {
    if (this.cached && nowMs - this.cached.atMs < CACHE_MS) return this.cached.value;
    const value = await readFailedUnits(this.runner);
    this.cached = { atMs: nowMs, value };
    return value;
  }
}
