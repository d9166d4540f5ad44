import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Run the compiled binary (`npm test` builds it first) in a temporary HOME with XDG dirs,
// as earlyoom's CLI tests run ../earlyoom and check exit code and stderr.

export const BIN = join(import.meta.dir, "..", "..", "dist", "logtriage");

export interface Sandbox {
  home: string;
  configDir: string;
  dataDir: string;
  env: Record<string, string>;
}

export function sandbox(): Sandbox {
  const home = mkdtempSync(join(tmpdir(), "logtriage-cli-"));
  const configDir = join(home, ".config", "logtriage");
  const dataDir = join(home, ".local", "share", "logtriage");
  mkdirSync(configDir, { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_DATA_HOME: join(home, ".local", "share"),
    NO_COLOR: "1",
    TZ: "UTC",
  };
  return { home, configDir, dataDir, env };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(box: Sandbox, args: string[], stdin?: string): CliResult {
  const proc = Bun.spawnSync([BIN, ...args], {
    env: box.env,
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: proc.exitCode ?? -1, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
}

export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
