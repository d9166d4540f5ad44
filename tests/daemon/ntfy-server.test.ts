import { afterEach, expect, test } from "bun:test";
import { until as waitUntil } from "../_builders.ts";
import { cli } from "../cli/_run.ts";
import { boxWithQueuedAlert, startDaemonOn, stopDaemonsAndStandIns } from "./_ntfy-daemon.ts";

// The compiled daemon against a local ntfy playing a 2.16+ server, then an older one: after
// one alert with a sequence id, status and doctor say which it is, from the daemon's heartbeat.

afterEach(stopDaemonsAndStandIns);

const until = (what: string, check: () => boolean) => waitUntil(what, check, 30_000, 100);

async function daemonAgainst(sequenceIds: boolean): Promise<{
  status: () => string;
  statusJson: () => { outbox: { updates_in_place: boolean | null } };
  doctor: () => { name: string; status: string; detail: string; fix?: string }[];
}> {
  const { box, args } = await boxWithQueuedAlert({ instanceId: "server-box", ntfy: { sequenceIds }, sequenceId: "logtriage-inc1" });
  const before = cli(box, ["status", ...args]).stdout;
  // Nothing known before the daemon sent anything.
  expect(before).not.toContain("ntfy:  ");
  startDaemonOn({ box, args });
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
