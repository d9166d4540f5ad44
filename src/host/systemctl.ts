// How the daemon asks a systemd manager about units: the system manager, or the user manager
// it runs under. One argv builder for every `systemctl` the monitors and /metrics run.

export type Manager = "system" | "user";

/**
 * `systemctl --user` finds its manager through XDG_RUNTIME_DIR, which a daemon started outside a
 * login session (a system service with User=, cron, a test harness) may lack; the user manager
 * of this uid listens under /run/user/UID, so that is named when the variable is unset.
 */
function userRuntimeEnv(env: Record<string, string | undefined> = process.env, uid = process.getuid?.() ?? 0): string[] {
  return env["XDG_RUNTIME_DIR"] ? [] : [`XDG_RUNTIME_DIR=/run/user/${uid}`];
}

/**
 * `systemctl [--user] ARGS…` for one manager, as argv. TZ=UTC: LastTriggerUSec ignores
 * --timestamp=unix and is printed in the local zone (parse/systemd-show.ts reads it back as UTC).
 */
export function systemctlArgv(manager: Manager, ...args: string[]): string[] {
  return [
    "env",
    "TZ=UTC",
    ...(manager === "user" ? userRuntimeEnv() : []),
    "systemctl",
    ...(manager === "user" ? ["--user"] : []),
    ...args,
  ];
}
