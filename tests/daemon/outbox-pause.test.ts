import { afterEach, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../src/store/db.ts";
import { enqueueAlert, outboxCounts } from "../../src/store/outbox.ts";
import { BIN, cli, sandbox, type Sandbox } from "../cli/_run.ts";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";

// The compiled daemon against a local ntfy that answers 401 (a revoked token), then 200 once
// the token file is fixed: the alert waits, the pause is said once and shown by status, doctor
// and outbox, and the alert goes out by itself after the fix.

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

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

test("401 pauses the daemon's outbox (status, doctor and outbox say so); a fixed token file resumes it and the alert is delivered", async () => {
  const box = sandbox();
  boxes.push(box);
  const ntfy = await startNtfyStandIn({ token: "tk_good" });
  standIns.push(ntfy);
  const tokenFile = join(box.home, "ntfy-token");
  writeFileSync(tokenFile, "tk_revoked\n", { mode: 0o600 });
  const config = join(box.configDir, "config.toml");
  writeFileSync(
    config,
    `[instance]\nid = "pause-box"\n[ntfy]\nurl = "${ntfy.topicUrl("alerts")}"\ntoken_file = "${tokenFile}"\n[sources]\nuse = "kmsg"\n[psi]\nenabled = false\n`,
  );
  const dbPath = join(box.home, "events.db");
  const db = openStore(dbPath);
  enqueueAlert(db, "ev-1", { title: "OOM kill: stress", message: "m", priority: 5, tags: [], click: null }, Date.now() * 1000);
  db.close();

  let output = "";
  const daemon = Bun.spawn([BIN, "daemon", "--config", config, "--db", dbPath], { env: box.env, stdout: "pipe", stderr: "pipe" });
  daemons.push(daemon);
  for (const stream of [daemon.stdout, daemon.stderr]) {
    void (async () => {
      for await (const chunk of stream) output += new TextDecoder().decode(chunk);
    })();
  }
  await until("ntfy to refuse the alert", () => ntfy.requests.some((r) => r.status === 401));
  await until("the heartbeat to report the pause", () =>
    cli(box, ["status", "--config", config, "--db", dbPath]).stdout.includes("PAUSED"),
  );

  const status = JSON.parse(cli(box, ["status", "--json", "--config", config, "--db", dbPath]).stdout) as {
    outbox: { pending: number; refused: number; paused: { status: number; reason: string } | null };
  };
  // The daemon reads the real kernel log: other alerts may queue behind ours, none goes first.
  expect(status.outbox).toMatchObject({ refused: 0, paused: { status: 401 } });
  expect(status.outbox.pending).toBeGreaterThanOrEqual(1);
  const doctor = JSON.parse(cli(box, ["doctor", "--json", "--config", config, "--db", dbPath]).stdout) as {
    checks: { name: string; status: string; detail: string }[];
  };
  expect(doctor.checks.find((c) => c.name === "outbox")).toMatchObject({ status: "fail", detail: expect.stringContaining("paused since") });
  const listed = JSON.parse(cli(box, ["outbox", "--json", "--config", config, "--db", dbPath]).stdout) as {
    paused: unknown;
    alerts: { event: string; state: string; last_error: string }[];
  };
  expect(listed.paused).not.toBeNull();
  expect(listed.alerts[0]).toMatchObject({ event: "ev-1", state: "pending", last_error: expect.stringContaining("HTTP 401") });
  expect(ntfy.messages).toHaveLength(0);

  writeFileSync(tokenFile, "tk_good\n");
  await until("the alert to be delivered", () => ntfy.messages.length >= 1);
  await until("the outbox to record it", () => {
    const check = openStore(dbPath, { readonly: true });
    try {
      return outboxCounts(check).sent >= 1;
    } finally {
      check.close();
    }
  });
  expect(ntfy.messages[0]?.title).toContain("OOM kill: stress");
  daemon.kill("SIGTERM");
  expect(await daemon.exited).toBe(0);
  // Said once when it paused, once when it resumed.
  expect(output.match(/The outbox is paused/g)).toHaveLength(1);
  expect(output).toContain("the configuration changed: retrying the paused outbox now");
  expect(output).toContain("ntfy takes alerts again");
});
