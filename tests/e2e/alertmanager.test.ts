import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AlertmanagerClient, type AlertState } from "../../src/notify/alertmanager.ts";
import { BIN } from "../cli/_run.ts";
import { ALERTMANAGER, startAlertmanager, type RealAlertmanager } from "./_alertmanager.ts";
import { startDaemon, until, type DaemonUnderTest } from "./_daemon.ts";
import { ensureJournald, ensureUserManager, isRoot, memcgOomKill, type Journald, type UserManager } from "./_system.ts";

// A small fleet against a real Prometheus Alertmanager: three compiled daemons with their own
// instance ids watch the same real journal and post their incidents to one Alertmanager, which
// groups them per its route (by alertname) into one webhook notification. A failing real user
// unit: three alerts with the unit's labels, one grouped notification; `logtriage mute` on one
// instance makes a silence there, so when the incidents resolve the resolved notification
// leaves the silenced one out. A real OOM kill reaches Alertmanager (the time it takes is
// printed); one made while Alertmanager is stopped for a minute arrives once it is back.

const RUNTIME_UNITS = "/run/user/0/systemd/user";
const INSTANCES = ["lt-fleet-a", "lt-fleet-b", "lt-fleet-c"] as const;

describe.skipIf(!isRoot || !existsSync(ALERTMANAGER))(
  "fleet: three daemons into a real Alertmanager (root: real journald, systemd --user, OOM kills)",
  () => {
    let journald: Journald | null = null;
    let manager: UserManager;
    let am: RealAlertmanager;
    let client: AlertmanagerClient;
    const daemons: DaemonUnderTest[] = [];
    const unit = `lt-e2e-fleet-${process.pid}.service`;
    const systemctl = (...args: string[]) =>
      Bun.spawnSync(["systemctl", "--user", ...args], { env: manager.env, stdout: "pipe", stderr: "pipe" });
    const signal = new AbortController().signal;
    const alertsOf = async (labels: Record<string, string>): Promise<AlertState[]> => client.alerts(am.url, labels, signal);

    beforeAll(async () => {
      journald = await ensureJournald();
      manager = await ensureUserManager();
      am = await startAlertmanager({ groupBy: ["alertname"] });
      client = new AlertmanagerClient({
        urls: [am.url],
        auth: { bearerToken: null, bearerTokenFile: null, basic: null },
        tls: { caFile: null, insecureSkipVerify: false },
        timeoutMs: 5_000,
      });
      mkdirSync(RUNTIME_UNITS, { recursive: true });
      writeFileSync(join(RUNTIME_UNITS, unit), "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo fleet check failed >&2; exit 3'\n");
      expect(systemctl("daemon-reload").exitCode).toBe(0);
      for (const id of INSTANCES) {
        const daemon = await startDaemon(`
[instance]
id = "${id}"

[alertmanager]
urls = ["${am.url}"]
resend_interval = "2s"

[incidents]
resolve_unit = "3s"
`);
        daemons.push(daemon);
      }
      for (const daemon of daemons) await daemon.waitForOutput(/source journal/);
    }, 60_000);

    afterAll(async () => {
      for (const daemon of daemons) if (daemon.proc.exitCode === null) await daemon.stop();
      if (manager) {
        systemctl("stop", unit);
        systemctl("reset-failed", unit);
        rmSync(join(RUNTIME_UNITS, unit), { force: true });
        systemctl("daemon-reload");
        await manager.stop();
      }
      await am?.stop();
      await journald?.stop();
    });

    test("a failing unit: three alerts with its labels, one grouped notification; a silence from logtriage mute keeps the muted one out of the next", async () => {
      systemctl("start", unit);
      await until(
        "each instance's alert for the unit in Alertmanager",
        async () => (await alertsOf({ unit })).length === INSTANCES.length,
        30_000,
        200,
      );
      const firing = await alertsOf({ unit });
      expect(firing.map((a) => a.labels["instance"]).sort()).toEqual([...INSTANCES]);
      for (const a of firing) {
        expect(a.labels).toMatchObject({ tier: "T3", unit });
        expect(a.labels["alertname"]).toMatch(/^unit-/);
        expect(a.labels["incident"]).toMatch(/^[0-9a-f]+$/);
      }
      const alertname = firing[0]?.labels["alertname"] as string;
      await until(
        "one grouped webhook notification",
        () => am.received.some((n) => n.commonLabels["alertname"] === alertname && n.alerts.length === INSTANCES.length),
        15_000,
        100,
      ).catch((error: unknown) => {
        throw new Error(
          `${(error as Error).message}; the webhook got: ${JSON.stringify(am.received.map((n) => ({ status: n.status, group: n.commonLabels, alerts: n.alerts.map((x) => x.labels) })))}`,
        );
      });
      expect(am.received.filter((n) => n.commonLabels["alertname"] === alertname && n.status === "firing")).toHaveLength(1);

      // Mute instance a's incident through the CLI: the silence is made in Alertmanager.
      const [a] = daemons as [DaemonUnderTest];
      const incidentA = firing.find((x) => x.labels["instance"] === INSTANCES[0])?.labels["incident"] as string;
      const mute = Bun.spawnSync([BIN, "mute", incidentA], { env: a.box.env, stdout: "pipe", stderr: "pipe" });
      expect(mute.stderr.toString()).toBe("");
      expect(mute.exitCode).toBe(0);
      expect(mute.stdout.toString()).toContain("Silenced in Alertmanager");
      await until(
        "Alertmanager to show instance a's alert silenced",
        async () => (await alertsOf({ unit, instance: INSTANCES[0] })).every((x) => x.silencedBy.length > 0),
        10_000,
        100,
      );
      const listed = Bun.spawnSync([BIN, "incidents", "--json"], { env: a.box.env, stdout: "pipe", stderr: "pipe" });
      const mine = listed.stdout
        .toString()
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { id: string; muted: boolean; silencedBy: string[] })
        .find((i) => i.id === incidentA);
      expect(mine?.muted).toBe(true);
      expect(mine?.silencedBy.length).toBe(1);

      // The unit is well again: the incidents resolve (quiet for 3 s, systemd no longer says
      // failed), Alertmanager is told, and its resolved notification leaves the silenced one out.
      systemctl("reset-failed", unit);
      await until(
        "the resolved notification",
        () => am.received.some((n) => n.commonLabels["alertname"] === alertname && n.status === "resolved"),
        45_000,
        200,
      );
      const resolved = am.received.filter((n) => n.commonLabels["alertname"] === alertname && n.status === "resolved");
      const instances = resolved.flatMap((n) => n.alerts.map((x) => x.labels["instance"]));
      expect(instances).not.toContain(INSTANCES[0]);
      expect(new Set(instances)).toEqual(new Set(INSTANCES.slice(1)));
    }, 120_000);

    test("a real OOM kill reaches Alertmanager from every instance; one made while Alertmanager is stopped for a minute arrives when it is back", async () => {
      const killedAt = Date.now();
      await memcgOomKill(`lt_fleet_oom_${process.pid}`);
      const oomAlerts = async (process: string) => (await alertsOf({ process })).filter((x) => x.labels["tier"] === "T1");
      let visibleAt = 0;
      await until(
        "the OOM kill's alerts in Alertmanager",
        async () => {
          const n = (await oomAlerts("python3")).length;
          if (n > 0 && visibleAt === 0) visibleAt = Date.now();
          return n === INSTANCES.length;
        },
        30_000,
        20,
      );
      const oomName = (await oomAlerts("python3"))[0]?.labels["alertname"] as string;
      let deliveredAt = 0;
      await until(
        "the OOM kill's webhook notification",
        () => {
          if (am.received.some((n) => n.commonLabels["alertname"] === oomName && n.status === "firing")) deliveredAt ||= Date.now();
          return deliveredAt > 0;
        },
        15_000,
        20,
      );
      console.log(
        `OOM kill → first alert in Alertmanager's API: ${visibleAt - killedAt} ms; → webhook delivery (group_wait 1 s): ${deliveredAt - killedAt} ms`,
      );

      await am.pause();
      const whileDown = `lt_fleet_oom2_${process.pid}`;
      await memcgOomKill(whileDown);
      // A minute without Alertmanager: the daemons keep what they owe it and try again. The
      // incident even resolves meanwhile (quiet for resolve_unit); it is still told, firing
      // first, so Alertmanager notifies of it.
      await Bun.sleep(60_000);
      await am.start();
      await until(
        "the webhook to tell of the OOM kill made while Alertmanager was down, from every instance",
        () => {
          const told = am.received
            .flatMap((n) => n.alerts)
            .filter((x) => x.status === "firing" && (x.labels["unit"] ?? "").includes(whileDown));
          return new Set(told.map((x) => x.labels["instance"])).size === INSTANCES.length;
        },
        60_000,
        200,
      );
    }, 240_000);
  },
);
