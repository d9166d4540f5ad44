import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { until } from "./_daemon.ts";

// A real Prometheus Alertmanager (Debian's prometheus-alertmanager) on loopback with its own
// storage in a temporary folder, routing everything to a webhook receiver served here. The
// route waits the least Alertmanager allows, so a test sees a grouped notification within
// about a second of the alerts arriving.

export const ALERTMANAGER = "/usr/bin/prometheus-alertmanager";

/** One notification as Alertmanager's webhook sends it (webhook_config, version 4). */
export interface WebhookNotification {
  status: "firing" | "resolved";
  groupKey: string;
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string }[];
  commonLabels: Record<string, string>;
}

export interface RealAlertmanager {
  url: string;
  /** Every notification the webhook received, in order. */
  received: WebhookNotification[];
  stop(): Promise<void>;
  /** Stop Alertmanager only (the webhook stays), as in an outage; `start` brings it back on the same port and storage. */
  pause(): Promise<void>;
  start(): Promise<void>;
}

function freePort(): number {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
  const port = server.port as number;
  server.stop(true);
  return port;
}

/** `groupBy`: the labels Alertmanager groups notifications by. */
export async function startAlertmanager(options: { groupBy?: string[] } = {}): Promise<RealAlertmanager> {
  const dir = mkdtempSync(join(tmpdir(), "logtriage-am-"));
  const received: WebhookNotification[] = [];
  const hook = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      received.push((await request.json()) as WebhookNotification);
      return new Response("ok");
    },
  });
  const groupBy = JSON.stringify(options.groupBy ?? ["instance"]);
  writeFileSync(
    join(dir, "am.yml"),
    [
      "route:",
      "  receiver: hook",
      `  group_by: ${groupBy}`,
      "  group_wait: 1s",
      "  group_interval: 1s",
      "  repeat_interval: 1h",
      "receivers:",
      "  - name: hook",
      "    webhook_configs:",
      `      - url: "http://127.0.0.1:${hook.port}/hook"`,
      "        send_resolved: true",
      "",
    ].join("\n"),
  );
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  let proc: ReturnType<typeof Bun.spawn> | null = null;
  const start = async () => {
    proc = Bun.spawn(
      [
        ALERTMANAGER,
        `--config.file=${join(dir, "am.yml")}`,
        `--storage.path=${join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        // An empty cluster address turns gossip off: one Alertmanager, nothing on the network.
        "--cluster.listen-address=",
        "--log.level=warn",
      ],
      { stdout: "ignore", stderr: "pipe" },
    );
    const started = proc;
    await until(
      "Alertmanager to be ready",
      async () => {
        if (started.exitCode !== null)
          throw new Error(
            `prometheus-alertmanager exited with ${started.exitCode}: ${await new Response(started.stderr as ReadableStream).text()}`,
          );
        try {
          return (await fetch(`${url}/-/ready`)).ok;
        } catch {
          return false; // not listening yet
        }
      },
      20_000,
      100,
    );
  };
  const pause = async () => {
    const running = proc;
    if (running === null) return;
    running.kill("SIGTERM");
    await running.exited;
    proc = null;
  };
  await start();
  return {
    url,
    received,
    pause,
    start,
    async stop() {
      await pause();
      hook.stop(true);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
