import { afterEach, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { openStore } from "../../src/store/db.ts";
import { outboxCounts } from "../../src/store/outbox.ts";
import { until as waitUntil } from "../_builders.ts";
import { cli } from "../cli/_run.ts";
import { boxWithQueuedAlert, startDaemonOn, stopDaemonsAndStandIns } from "./_ntfy-daemon.ts";

// The compiled daemon against a local ntfy that answers 401 (a revoked token), then 200 once
// the token file is fixed: the alert waits, the pause is said once and shown by status, doctor
// and outbox, and the alert goes out by itself after the fix.

afterEach(stopDaemonsAndStandIns);

const until = (what: string, check: () => boolean | Promise<boolean>) => waitUntil(what, check, 20_000, 50);

test("401 pauses the daemon's outbox (status, doctor and outbox say so); a fixed token file resumes it and the alert is delivered", async () => {
  const { box, ntfy, args, dbPath, tokenFile } = await boxWithQueuedAlert({
    instanceId: "pause-box",
    ntfy: { token: "tk_good" },
    token: "tk_revoked\n",
  });
  const { proc: daemon, output } = startDaemonOn({ box, args });
  await until("ntfy to refuse the alert", () => ntfy.requests.some((r) => r.status === 401));
  await until("the heartbeat to report the pause", () => cli(box, ["status", ...args]).stdout.includes("PAUSED"));

  const status = JSON.parse(cli(box, ["status", "--json", ...args]).stdout) as {
    outbox: { pending: number; refused: number; paused: { status: number; reason: string } | null };
  };
  // The daemon reads the real kernel log: other alerts may queue behind ours, none goes first.
  expect(status.outbox).toMatchObject({ refused: 0, paused: { status: 401 } });
  expect(status.outbox.pending).toBeGreaterThanOrEqual(1);
  const doctor = JSON.parse(cli(box, ["doctor", "--json", ...args]).stdout) as {
    checks: { name: string; status: string; detail: string }[];
  };
  expect(doctor.checks.find((c) => c.name === "outbox")).toMatchObject({ status: "fail", detail: expect.stringContaining("paused since") });
  const listed = JSON.parse(cli(box, ["outbox", "--json", ...args]).stdout) as {
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
  expect(output().match(/The outbox is paused/g)).toHaveLength(1);
  expect(output()).toContain("the configuration changed: retrying the paused outbox now");
  expect(output()).toContain("ntfy takes alerts again");
});
