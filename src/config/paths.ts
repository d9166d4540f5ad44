import { dirname, isAbsolute, join } from "node:path";
import { ConfigError } from "./errors.ts";

// XDG base directories and `~/`, read from an env record passed in (never process.env), so
// tests and the CLI can run with a temporary HOME.

export type EnvVars = Readonly<Record<string, string | undefined>>;

function home(env: EnvVars, file: string, keyPath: string | null): string {
  const value = env["HOME"];
  if (value && isAbsolute(value)) return value;
  throw new ConfigError(
    `${file ? `${file}: ` : ""}${keyPath ? `${keyPath}: ` : ""}HOME is not set (or not an absolute path); set HOME, or give absolute paths`,
    { file, keyPath },
  );
}

// The XDG spec says a relative XDG_*_HOME is invalid and must be ignored.
function xdgDir(env: EnvVars, name: string, fallback: readonly string[]): string {
  const value = env[name];
  if (value && isAbsolute(value)) return value;
  return join(home(env, "", null), ...fallback);
}

/** `$XDG_CONFIG_HOME`, else `$HOME/.config`. */
export function configHome(env: EnvVars): string {
  return xdgDir(env, "XDG_CONFIG_HOME", [".config"]);
}

/** `$XDG_DATA_HOME`, else `$HOME/.local/share`. */
export function dataHome(env: EnvVars): string {
  return xdgDir(env, "XDG_DATA_HOME", [".local", "share"]);
}

/**
 * A path from the config file: a leading `~/` means HOME; a relative path is taken from the
 * config file's folder, because the daemon runs with `/` as its working directory.
 */
export function resolveConfigPath(path: string, configFile: string, env: EnvVars, keyPath: string): string {
  if (path === "~" || path.startsWith("~/")) return join(home(env, configFile, keyPath), path.slice(1));
  if (isAbsolute(path)) return path;
  return join(dirname(configFile), path);
}
