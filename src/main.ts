import { defineCommand, runCommand, showUsage, type ArgsDef, type CommandDef } from "citty";
import { UsageError } from "./cli/_usage-error.ts";
import { ConfigError } from "./config/errors.ts";
import { closestName } from "./config/suggest.ts";
import { NotifyError } from "./notify/notifier.ts";
import { StoreError } from "./store/errors.ts";
import { explainSqliteError } from "./store/sqlite-errors.ts";
import { VERSION, versionLine } from "./version.ts";

// Entry point. citty parses each command's options; this file owns what happens around
// that: --version, --help, unknown commands and options, and turning errors into one clear
// line and an exit code (0 ok, 1 runtime failure, 2 usage or config error).

type Loader = () => Promise<CommandDef<ArgsDef>>;

// The one list of commands, each loaded only when it runs: start-up time is most of a
// `query`'s wall time, and a command should not pay for the others' modules. Each is typed
// by its own options; here they are only looked up and run, so they are widened.
const subCommands: Record<string, Loader> = {
  daemon: async () => (await import("./cli/daemon.ts")).daemonCommand as unknown as CommandDef<ArgsDef>,
  doctor: async () => (await import("./cli/doctor.ts")).doctorCommand as unknown as CommandDef<ArgsDef>,
  query: async () => (await import("./cli/query.ts")).queryCommand as unknown as CommandDef<ArgsDef>,
  show: async () => (await import("./cli/show.ts")).showCommand as unknown as CommandDef<ArgsDef>,
  replay: async () => (await import("./cli/replay.ts")).replayCommand as unknown as CommandDef<ArgsDef>,
  status: async () => (await import("./cli/status.ts")).statusCommand as unknown as CommandDef<ArgsDef>,
  digest: async () => (await import("./cli/digest.ts")).digestCommand as unknown as CommandDef<ArgsDef>,
  outbox: async () => (await import("./cli/outbox.ts")).outboxCommand as unknown as CommandDef<ArgsDef>,
  incidents: async () => (await import("./cli/incidents.ts")).incidentsCommand as unknown as CommandDef<ArgsDef>,
  mute: async () => (await import("./cli/incidents.ts")).muteCommand as unknown as CommandDef<ArgsDef>,
  unmute: async () => (await import("./cli/incidents.ts")).unmuteCommand as unknown as CommandDef<ArgsDef>,
  "test-ntfy": async () => (await import("./cli/test-ntfy.ts")).testNtfyCommand as unknown as CommandDef<ArgsDef>,
};

const root = defineCommand({
  meta: { name: "logtriage", version: VERSION, description: "Linux crash & OOM root-cause reporter" },
  subCommands,
});

function knownOptions(def: ArgsDef): Set<string> {
  const names = new Set(["help", "h", "version", "v"]);
  for (const [name, arg] of Object.entries(def)) {
    if (arg.type === "positional") continue;
    names.add(name);
    if (arg.type === "boolean") names.add(`no-${name}`);
    const aliases = "alias" in arg ? arg.alias : undefined;
    for (const a of Array.isArray(aliases) ? aliases : aliases ? [aliases] : []) names.add(a);
  }
  return names;
}

function checkOptions(command: string, def: ArgsDef, args: readonly string[]): void {
  const known = knownOptions(def);
  for (const arg of args) {
    if (arg === "--") break;
    if (!arg.startsWith("-") || arg === "-") continue;
    const name = arg.replace(/^--?/, "").split("=")[0] as string;
    if (known.has(name)) continue;
    const suggestion = closestName(
      name,
      [...known].filter((n) => n.length > 1),
    );
    throw new UsageError(
      `unknown option ${arg} for '${command}'${suggestion ? ` — did you mean --${suggestion}?` : ""} (see 'logtriage ${command} --help')`,
    );
  }
}

export async function main(rawArgs: string[]): Promise<number> {
  const debug = rawArgs.includes("--debug");
  try {
    if (rawArgs[0] === "--version" || rawArgs[0] === "-v") {
      console.log(versionLine());
      return 0;
    }
    const named = rawArgs[0] !== undefined && !rawArgs[0].startsWith("-");
    if (!named && rawArgs.some((a) => a === "--help" || a === "-h")) {
      await showUsage(root);
      return 0;
    }
    // Bare `logtriage` (nothing, or options only) runs the daemon, so a unit's ExecStart can name just the binary.
    const command = named ? (rawArgs[0] as string) : "daemon";
    const load = subCommands[command];
    if (!load) {
      const suggestion = closestName(command, Object.keys(subCommands));
      throw new UsageError(`unknown command '${command}'${suggestion ? ` — did you mean '${suggestion}'?` : ""} (see 'logtriage --help')`);
    }
    const sub = await load();
    const rest = named ? rawArgs.slice(1) : rawArgs;
    if (rest.includes("--help") || rest.includes("-h")) {
      await showUsage(sub, root);
      return 0;
    }
    checkOptions(command, (sub.args ?? {}) as ArgsDef, rest);
    await runCommand(sub, { rawArgs: rest });
    // A command that found problems but reported them itself (doctor) sets the exit code.
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    return reportError(error, debug);
  }
}

function reportError(error: unknown, debug: boolean): number {
  if (error instanceof UsageError || error instanceof ConfigError) {
    console.error(`logtriage: ${error.message}`);
    return 2;
  }
  if (error instanceof StoreError) {
    console.error(`logtriage: ${error.message}`);
    if (debug && error.cause) console.error(error.cause);
    return 1;
  }
  if (error instanceof NotifyError) {
    // The reason already names the server and the fix; the HTTP status or network error is in it.
    console.error(`logtriage: ${error.message}`);
    if (debug && error.cause) console.error(error.cause);
    return 1;
  }
  // SQLite failing under a command (disk full, locked, read-only, damaged): one line naming
  // the file and the fix, not an internal error.
  const sqlite = explainSqliteError(error);
  if (sqlite) {
    console.error(`logtriage: ${sqlite.message}`);
    if (debug) console.error(error);
    return 1;
  }
  const e = error as { code?: string; message?: string; name?: string };
  if (e.name === "CLIError" || e.code?.startsWith("E_")) {
    console.error(`logtriage: ${e.message ?? String(error)}`);
    return 2;
  }
  if (e.code === "EPIPE") return 0; // `logtriage query | head`: the reader left; not our failure.
  console.error(
    `logtriage: internal error: ${e.message ?? String(error)}${debug ? "" : " (run again with --debug for details, and please report it)"}`,
  );
  if (debug) console.error(error);
  return 1;
}
