import { afterEach, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../src/store/db.ts";
import { enqueueAlert } from "../../src/store/outbox.ts";
import { BIN, cli, sandbox, type Sandbox } from "../cli/_run.ts";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";

// The compiled daemon against a local ntfy playing a 2.16+ server, then an older one: after
// one alert with a sequence id, status and doctor say which it is, from the daemon's heartbeat.

const boxes: Sandbox[] = [];
const standIns: NtfyStandIn[] = [];
const daemons: ReturnType<typeof Bun.spawn>[] = [];
afterEach(async () => {
  for (const d of daemons.splice(0)) {
    if (d.exitCode === null) d.kill("SIGKILL");
    await d.exited;
  }
  for (const s of standIns.splice(0)) await s.stop();
  for (const b of boxes.splice(0)) rmSync(b.home, { recursive: true, force: true });
});

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

async function daemonAgainst(sequenceIds: boolean): Promise<{
  status: () => string;
  statusJson: () => { outbox: { updates_in_place: boolean | null } };
  doctor: () => { name: string; status: string; detail: string; fix?: string }[];
}> {
  const box = sandbox();
  boxes.push(box);
  const ntfy = await startNtfyStandIn({ sequenceIds });
  standIns.push(ntfy);
  const config = join(box.configDir, "config.toml");
  writeFileSync(
    config,
    `[instance]\nid = "server-box"\n[ntfy]\nurl = "${ntfy.topicUrl("alerts")}"\n[sources]\nuse = "kmsg"\n[psi]\nenabled = false\n`,
  );
  const dbPath = join(box.home, "events.db");
  const db = openStore(dbPath);
  enqueueAlert(
    db,
    "ev-1",
    { title: "OOM kill: stress", message: "m", priority: 5, tags: [], click: null, sequenceId: "logtriage-inc1" },
    Date.now() * 1000,
  );
  db.close();
  const args = ["--config", config, "--db", dbPath];
  const before = cli(box, ["status", ...args]).stdout;
  // Nothing known before the daemon sent anything.
  expect(before).not.toContain("ntfy:  ");
  daemons.push(Bun.spawn([BIN, "daemon", ...args], { env: box.env, stdout: "ignore", stderr: "ignore" }));
  return {
    status: () => cli(box, ["status", ...args]).stdout,
    statusJson: () => JSON.parse(cli(box, ["status", "--json", ...args]).stdout),
    doctor: () =>
      (
        JSON.parse(cli(box, ["doctor", "--json", ...args]).stdout) as {
          checks: { name: string; status: string; detail: string; fix?: string }[];
        }
      ).checks,
  };
}

test("a 2.16+ server: status and doctor say updates arrive in place", async () => {
  const d = await daemonAgainst(true);
  await until("the heartbeat to tell the server", () => d.statusJson().outbox.updates_in_place !== null);
  expect(d.statusJson().outbox.updates_in_place).toBe(true);
  expect(d.status()).toContain("ntfy:         updates notifications in place (2.16 or newer)");
  expect(d.doctor().find((c) => c.name === "ntfy server")).toEqual({
    name: "ntfy server",
    status: "ok",
    detail: "updates notifications in place (2.16 or newer)",
  });
});

test("an older server: status says each update is a new notification, doctor warns with the fix", async () => {
  const d = await daemonAgainst(false);
  await until("the heartbeat to tell the server", () => d.statusJson().outbox.updates_in_place !== null);
  expect(d.statusJson().outbox.updates_in_place).toBe(false);
  expect(d.status()).toContain("ntfy:         an older server — each update arrives as a new notification; upgrade to 2.16+");
  const check = d.doctor().find((c) => c.name === "ntfy server");
  expect(check).toMatchObject({ status: "warn", detail: "an older server — each update arrives as a new notification; upgrade to 2.16+" });
  expect(check?.fix).toContain("upgrade the ntfy server to 2.16 or newer");
});
