import { defineCommand } from "citty";
import { Triage } from "../classify/triage.ts";
import { parseDuration } from "../config/duration.ts";
import { runDaemon } from "../daemon/daemon.ts";
import { openStore } from "../store/db.ts";
import { lockDatabase, type DatabaseLock } from "../store/lock.ts";
import { execSelf, RestartInPlace } from "../daemon/restart.ts";
import { commonArgs, loadCommandEnv, triageOptions, UsageError } from "./_context.ts";

// `logtriage daemon` (also bare `logtriage`): the foreground service systemd runs. SIGTERM or
// SIGINT stops it: the entry in hand is finished and committed, journalctl is stopped, and it
// exits 0 well within systemd's stop timeout. SIGHUP (`systemctl reload`) stops it the same
// way and starts it again in place with the configuration read anew (daemon/restart.ts), once
// the new configuration is known to load; the daemon itself does the same after a log storm.

export const daemonCommand = defineCommand({
  meta: { name: "daemon", description: "Watch the journal (or /dev/kmsg), store events, send alerts (the systemd service runs this)" },
  args: {
    ...commonArgs,
    backfill: {
      type: "string",
      description: "On the very first start, read the journal back this far (e.g. 1h) instead of starting at now",
      valueHint: "DURATION",
    },
  },
  async run({ args }) {
    const env = loadCommandEnv(args);
    const backfillMs = args.backfill === undefined ? null : parseDuration(args.backfill);
    if (backfillMs === null && args.backfill !== undefined)
      throw new UsageError(`--backfill: expected a duration like "30m", "1h" or "2d", got ${JSON.stringify(args.backfill)}`);
    const log = env.log;
    const db = openStore(env.dbPath);
    let lock: DatabaseLock | null;
    try {
      lock = lockDatabase(env.dbPath);
    } catch (error) {
      db.close();
      throw error;
    }
    const controller = new AbortController();
    let signals = 0;
    const stop = (name: string) => {
      signals++;
      if (signals === 1) {
        log.info(`${name}: stopping`);
        controller.abort();
      } else {
        // A second signal while stopping: the user means it.
        log.warn(`${name} again: exiting now`);
        process.exit(1);
      }
    };
    const onTerm = () => stop("SIGTERM");
    const onInt = () => stop("SIGINT");
    const requestRestart = (why: string) => {
      if (controller.signal.aborted) return;
      log.info(`${why}: restarting in place`);
      controller.abort(new RestartInPlace(why));
    };
    const onHup = () => {
      // A configuration that does not load would stop the fresh start for good (exit 2): the
      // running daemon keeps the one it has and says why.
      try {
        loadCommandEnv(args);
      } catch (error) {
        log.error(
          `SIGHUP: configuration not reloaded, running on with the one loaded at start: ${error instanceof Error ? error.message : String(error)}`,
        );
        return;
      }
      requestRestart("SIGHUP: reloading the configuration");
    };
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
    process.on("SIGHUP", onHup);
    try {
      await runDaemon(
        {
          config: env.config,
          db,
          log,
          triage: new Triage(triageOptions(env.config)),
          newTriage: () => new Triage(triageOptions(env.config)),
          backfillMs,
          configPath: env.configPath,
          requestRestart,
        },
        controller.signal,
      );
    } finally {
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      process.off("SIGHUP", onHup);
      db.close();
      lock?.release();
    }
    const reason: unknown = controller.signal.reason;
    if (signals === 0 && reason instanceof RestartInPlace) {
      // What was logged is written out before the image is replaced.
      for (const stream of [process.stdout, process.stderr]) await new Promise<void>((resolve) => stream.write("", () => resolve()));
      const failed = execSelf(reason.why);
      log.error(`${failed}; exiting, for the service manager to start it again`);
      process.exit(1);
    }
  },
});
