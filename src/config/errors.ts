// A mistake in the user's configuration. main.ts prints the message as it is (no stack trace)
// and exits with `exitCode`, so every message names the file, the place and the key, in the
// words the user typed (TOML snake_case, not our camelCase).

export interface ConfigErrorDetails {
  file: string;
  /** 1-based; null when the place in the file is not known. */
  line?: number | null;
  /** 1-based; only TOML syntax errors know it. */
  column?: number | null;
  /** The TOML key path as written, e.g. `ntfy.alert_tiers[1]`. */
  keyPath?: string | null;
  cause?: unknown;
}

export class ConfigError extends Error {
  readonly exitCode = 2;
  readonly file: string;
  readonly line: number | null;
  readonly column: number | null;
  readonly keyPath: string | null;

  constructor(message: string, details: ConfigErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "ConfigError";
    this.file = details.file;
    this.line = details.line ?? null;
    this.column = details.column ?? null;
    this.keyPath = details.keyPath ?? null;
  }
}

/** `file:line:column` as compilers print it, leaving out what is not known. */
export function formatLocation(file: string, line: number | null, column: number | null): string {
  if (line === null) return file;
  return column === null ? `${file}:${line}` : `${file}:${line}:${column}`;
}
