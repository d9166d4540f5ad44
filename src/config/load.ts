import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse as parseToml } from "@iarna/toml";
import * as v from "valibot";
import { findKeyLine, formatKeyPath, keyLines } from "./_key-lines.ts";
import { findKeyProblems, type KeyProblem } from "./_unknown-keys.ts";
import { resolveConfig } from "./defaults.ts";
import { ConfigError, formatLocation } from "./errors.ts";
import { configHome, type EnvVars } from "./paths.ts";
import { ConfigFileSchema, type Config, type ConfigFile } from "./schema.ts";

// Reading the config: find the file (XDG), read it (the only I/O here), then parseConfig,
// which is pure: TOML → unknown-key check → valibot → defaults and role table.

export interface ConfigEnv {
  env: Record<string, string | undefined>;
  hostname: string;
}

export interface LoadedConfig {
  config: Config;
  /** The file that was read, or null when there was none and built-in defaults apply. */
  path: string | null;
}

/** Problems shown in one error; the rest are counted, as a compiler does. */
const MAX_PROBLEMS = 5;

/** A config file bigger than this is a wrong --config (a log, a database), not a config. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** `$XDG_CONFIG_HOME/logtriage/config.toml`, XDG_CONFIG_HOME defaulting to `$HOME/.config`. */
export function defaultConfigPath(env: EnvVars): string {
  return join(configHome(env), "logtriage", "config.toml");
}

// @iarna/toml's errors: `message` is "<reason> at row R, col C, pos P:\n<excerpt>", and
// `line`/`col` are 0-based (checked against 3.0.0).
interface TomlSyntaxError {
  message: string;
  line?: unknown;
  col?: unknown;
  fromTOML?: unknown;
}

function tomlSyntaxError(error: unknown, file: string): ConfigError {
  const e = error as TomlSyntaxError;
  if (!e || typeof e !== "object" || e.fromTOML !== true) throw error;
  const line = typeof e.line === "number" ? e.line + 1 : null;
  const column = typeof e.col === "number" ? e.col + 1 : null;
  const reason = (e.message.split("\n")[0] ?? "").replace(/ at row \d+, col \d+, pos \d+:?$/, "").trim();
  return new ConfigError(`${formatLocation(file, line, column)}: invalid TOML: ${reason}`, { file, line, column, cause: error });
}

/** Keys whose values are fine alone but not together. */
function crossCheck(file: ConfigFile): KeyProblem[] {
  const ntfy = file.ntfy ?? {};
  const problems: KeyProblem[] = [];
  if (ntfy.token !== undefined && ntfy.token_file !== undefined) {
    problems.push({ path: ["ntfy", "token_file"], message: "ntfy.token_file: set token or token_file, not both" });
  }
  const am = file.alertmanager ?? {};
  if ([am.bearer_token, am.bearer_token_file, am.basic_auth].filter((x) => x !== undefined).length > 1) {
    problems.push({
      path: ["alertmanager", "bearer_token"],
      message: "alertmanager: set one of bearer_token, bearer_token_file and basic_auth",
    });
  }
  if ((ntfy.user === undefined) !== (ntfy.password === undefined)) {
    const [given, missing] = ntfy.user === undefined ? ["password", "user"] : ["user", "password"];
    problems.push({ path: ["ntfy", given], message: `ntfy.${given}: ${missing} is needed too (or use token)` });
  }
  return problems;
}

/** A number the program cannot hold as written (past 2^53, or infinite): its value would mislead. */
function unrepresentable(value: unknown): boolean {
  if (typeof value === "bigint") return true;
  return typeof value === "number" && (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value)));
}

/** The value of `key = value` on a config line, as written (comment and spaces trimmed). */
function writtenValue(line: string): string | null {
  const eq = line.indexOf("=");
  if (eq < 0) return null;
  const value = line
    .slice(eq + 1)
    .replace(/#.*$/, "")
    .trim();
  return value === "" ? null : value;
}

function issueProblem(issue: v.BaseIssue<unknown>): KeyProblem & { unrepresentable?: boolean } {
  const path = (issue.path ?? []).map((item) => (typeof item.key === "number" ? item.key : String(item.key)));
  // valibot reports a missing required key as an issue of its table, with the key's name,
  // quoted, as what it expected.
  const missing = issue.kind === "schema" && issue.input === undefined && issue.expected?.startsWith('"') === true;
  return {
    path,
    message: `${formatKeyPath(path)}: ${missing ? "required key is missing" : issue.message}`,
    unrepresentable: unrepresentable(issue.input),
  };
}

function problemsError(problems: readonly (KeyProblem & { unrepresentable?: boolean })[], text: string, file: string): ConfigError {
  const lines = keyLines(text);
  const textLines = text.split("\n");
  const located = problems.map((p) => {
    const line = findKeyLine(lines, p.path);
    // 99999999999999999999 reaches us already rounded or wrapped by the TOML parser: say what
    // the file holds, not the number it became.
    const written = p.unrepresentable && line !== null ? writtenValue(textLines[line - 1] ?? "") : null;
    return { ...p, line, message: written === null ? p.message : p.message.replace(/got .*$/, `got ${written}, too large a number`) };
  });
  const shown = located.slice(0, MAX_PROBLEMS).map((p) => `${formatLocation(file, p.line, null)}: ${p.message}`);
  if (located.length > MAX_PROBLEMS) shown.push(`${file}: (and ${located.length - MAX_PROBLEMS} more problems)`);
  const first = located[0];
  return new ConfigError(shown.join("\n"), {
    file,
    line: first?.line ?? null,
    keyPath: first ? formatKeyPath(first.path) : null,
  });
}

/** The config in `text` (the contents of `file`, which names it in messages); no I/O. */
export function parseConfig(text: string, file: string, ctx: ConfigEnv): Config {
  let raw: unknown;
  try {
    // @iarna/toml types its result as JsonMap; it is outside data, so it is treated as unknown.
    // Editors on some systems save UTF-8 with a byte order mark, which TOML does not allow.
    raw = parseToml(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw tomlSyntaxError(error, file);
  }
  const keyProblems = findKeyProblems(raw, ConfigFileSchema);
  if (keyProblems.length > 0) throw problemsError(keyProblems, text, file);
  const result = v.safeParse(ConfigFileSchema, raw, { abortPipeEarly: true });
  if (!result.success) throw problemsError(result.issues.map(issueProblem), text, file);
  const crossProblems = crossCheck(result.output);
  if (crossProblems.length > 0) throw problemsError(crossProblems, text, file);
  return resolveConfig(result.output, { env: ctx.env, hostname: ctx.hostname, file });
}

function errorCode(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : null;
}

function readError(error: unknown, file: string, explicit: boolean): ConfigError {
  const code = errorCode(error);
  const fix =
    code === "ENOENT" || code === "ENOTDIR"
      ? explicit
        ? "config file not found (check the --config path, or leave --config out to use the default file or built-in defaults)"
        : "config file not found"
      : code === "EACCES" || code === "EPERM"
        ? "cannot read config file: permission denied (check its owner and mode)"
        : `cannot read config file: ${error instanceof Error ? error.message : String(error)}`;
  return new ConfigError(`${file}: ${fix}`, { file, cause: error });
}

/** The file's text, or null when the default file does not exist (zero config). */
/** The offset of the first byte that is not valid UTF-8, or -1 (RFC 3629 §4, overlongs and surrogates refused). */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** TOML is UTF-8 (toml.io, "Spec"): anything else is refused at its line, not read as U+FFFD. */
function decodeConfig(bytes: Uint8Array, file: string): string {
  const bad = firstInvalidUtf8(bytes);
  if (bad < 0) return new TextDecoder().decode(bytes);
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < bad; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  const column = bad - lineStart + 1;
  throw new ConfigError(
    `${formatLocation(file, line, column)}: not UTF-8 (byte 0x${(bytes[bad] as number).toString(16).padStart(2, "0")}): save the config as UTF-8 text`,
    { file, line, column },
  );
}

function readConfigText(file: string, explicit: boolean): string | null {
  try {
    const stat = statSync(file);
    if (stat.isDirectory()) {
      throw new ConfigError(
        `${file}: is a directory, not a config file (${explicit ? "point --config at a TOML file" : "replace it with a TOML file"}, such as ${join(file, "config.toml")})`,
        { file },
      );
    }
    if (!stat.isFile()) throw new ConfigError(`${file}: not a regular file (a config file is a TOML text file)`, { file });
    if (stat.size > MAX_CONFIG_BYTES)
      throw new ConfigError(`${file}: ${stat.size} bytes is too large for a config file (is this the right file?)`, { file });
    return decodeConfig(readFileSync(file), file);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if (!explicit && errorCode(error) === "ENOENT") return null;
    throw readError(error, file, explicit);
  }
}

/**
 * The config from `path` (`--config`), or from the default file. A missing default file
 * means built-in defaults, so logtriage works with no config at all; a missing explicit
 * file is a mistake.
 */
export function loadConfig(path: string | undefined, ctx: ConfigEnv): LoadedConfig {
  const explicit = path !== undefined;
  const file = path ?? defaultConfigPath(ctx.env);
  const text = readConfigText(file, explicit);
  if (text === null) return { config: parseConfig("", file, ctx), path: null };
  return { config: parseConfig(text, file, ctx), path: file };
}
