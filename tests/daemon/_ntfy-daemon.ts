import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../src/store/db.ts";
import { enqueueAlert } from "../../src/store/outbox.ts";
import type { Notification } from "../../src/text/alert.ts";
import { BIN, sandbox, type Sandbox } from "../cli/_run.ts";
import { startNtfyStandIn, type NtfyStandIn, type StandInOptions } from "../_ntfy-standin.ts";

// The compiled daemon, reading the kernel log only (PSI off), with one alert already waiting in
// its outbox, against a local ntfy stand-in: what it does with that alert is what the tests
// beside this file watch, through the stand-in and the CLI.

export interface QueuedAlertBox {
  box: Sandbox;
  ntfy: NtfyStandIn;
  /** `--config … --db …`, for the daemon and for every CLI command on this box. */
  args: string[];
  dbPath: string;
  /** Where [ntfy] token_file points when `token` was given: rewrite it to change the token. */
  tokenFile: string;
}

export interface DaemonProcess {
  proc: ReturnType<typeof Bun.spawn<"ignore", "pipe", "pipe">>;
  /** stdout and stderr so far. */
  output(): string;
}

const boxes: Sandbox[] = [];
const standIns: NtfyStandIn[] = [];
const daemons: DaemonProcess["proc"][] = [];

/**
 * A temp HOME whose config points at a new stand-in (`ntfy`: its options), and whose outbox
 * holds one pending alert, "OOM kill: stress", for event ev-1. `token`: the content of the
 * token file [ntfy] token_file names (mode 0600, as the install writes it).
 */
export async function boxWithQueuedAlert(o: {
  instanceId: string;
  ntfy?: StandInOptions;
  token?: string;
  sequenceId?: string;
}): Promise<QueuedAlertBox> {
  const box = sandbox();
  boxes.push(box);
  const ntfy = await startNtfyStandIn(o.ntfy);
  standIns.push(ntfy);
  const tokenFile = join(box.home, "ntfy-token");
  if (o.token !== undefined) writeFileSync(tokenFile, o.token, { mode: 0o600 });
  const config = join(box.configDir, "config.toml");
  writeFileSync(
    config,
    `[instance]\nid = "${o.instanceId}"\n[ntfy]\nurl = "${ntfy.topicUrl("alerts")}"\n${o.token === undefined ? "" : `token_file = "${tokenFile}"\n`}[sources]\nuse = "kmsg"\n[psi]\nenabled = false\n`,
  );
  const dbPath = join(box.home, "events.db");
  const db = openStore(dbPath);
  const alert: Notification = { title: "OOM kill: stress", message: "m", priority: 5, tags: [], click: null };
  enqueueAlert(db, "ev-1", o.sequenceId === undefined ? alert : { ...alert, sequenceId: o.sequenceId }, Date.now() * 1000);
  db.close();
  return { box, ntfy, args: ["--config", config, "--db", dbPath], dbPath, tokenFile };
}

export function startDaemonOn(b: Pick<QueuedAlertBox, "box" | "args">): DaemonProcess {
  let output = "";
  const proc = Bun.spawn([BIN, "daemon", ...b.args], { env: b.box.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  daemons.push(proc);
  for (const stream of [proc.stdout, proc.stderr]) {
    void (async () => {
      for await (const chunk of stream) output += new TextDecoder().decode(chunk);
    })();
  }
  return { proc, output: () => output };
}

/** For afterEach: kills the daemons still running, stops the stand-ins, removes the temp HOMEs. */
export async function stopDaemonsAndStandIns(): Promise<void> {
  for (const d of daemons.splice(0)) {
    if (d.exitCode === null) d.kill("SIGKILL");
    await d.exited;
  }
  for (const s of standIns.splice(0)) await s.stop();
  for (const b of boxes.splice(0)) rmSync(b.home, { recursive: true, force: true });
}
