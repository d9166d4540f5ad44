import { existsSync } from "node:fs";
import { defineCommand } from "citty";
import { openStore } from "../store/db.ts";
import { daemonStatus, readDaemonRow } from "../store/daemon-state.ts";
import { listUnsent, outboxCounts, requeueRefused } from "../store/outbox.ts";
import { commonArgs, loadCommandEnv } from "./_context.ts";
import { formatLocalTime, isoTime } from "../text/format.ts";
import { printableLines } from "./_printable.ts";

// `logtriage outbox`: the alerts that have not reached ntfy, and why. `--retry` puts the ones
// ntfy refused back into the queue, in their original order; a running daemon picks them up
// at its next look at the outbox (at most its idle poll).

const WHY: Record<string, string> = {
  enriching: "waiting for its context",
  pending: "waiting to be sent",
  refused: "refused by ntfy",
  failed: "refused by ntfy",
  expired: "dropped after [ntfy] max_age",
};

export const outboxCommand = defineCommand({
  meta: { name: "outbox", description: "List the alerts not yet delivered and why; --retry queues the refused ones again" },
  args: {
    ...commonArgs,
    json: { type: "boolean", description: "As one JSON object" },
    retry: { type: "boolean", description: "Put the alerts ntfy refused back into the queue" },
  },
  run({ args }) {
    const env = loadCommandEnv(args);
    if (!existsSync(env.dbPath)) {
      process.stdout.write(
        args.json
          ? `${JSON.stringify({ db: env.dbPath, paused: null, alerts: [] })}\n`
          : `no event database at ${env.dbPath} yet: nothing waits\n`,
      );
      return;
    }
    if (args.retry) {
      const db = openStore(env.dbPath);
      try {
        const n = requeueRefused(db);
        process.stdout.write(args.json ? `${JSON.stringify({ requeued: n })}\n` : `${n} refused alert(s) queued again\n`);
      } finally {
        db.close();
      }
      return;
    }
    const db = openStore(env.dbPath, { readonly: true });
    try {
      const alerts = listUnsent(db);
      const counts = outboxCounts(db);
      const row = readDaemonRow(db);
      const paused = daemonStatus(row, Date.now() * 1000) === "running" ? (row?.state.outbox?.paused ?? null) : null;
      if (args.json) {
        const out = {
          db: env.dbPath,
          paused: paused && { since: isoTime(paused.sinceMs * 1000), status: paused.status, reason: paused.reason },
          counts: { pending: counts.pending, refused: counts.failed, expired: counts.expired, sent: counts.sent },
          alerts: alerts.map((a) => ({
            id: a.id,
            event: a.eventId,
            created: isoTime(a.createdUs),
            state: a.state === "failed" ? "refused" : a.state,
            attempts: a.attempts,
            last_error: a.lastError,
            title: a.title,
          })),
        };
        process.stdout.write(`${JSON.stringify(out)}\n`);
        return;
      }
      const lines: string[] = [];
      if (paused) lines.push(`The outbox is PAUSED since ${formatLocalTime(paused.sinceMs * 1000)}: ${paused.reason}`, "");
      if (alerts.length === 0) lines.push("nothing waits: every alert was delivered");
      for (const a of alerts) {
        lines.push(
          `#${a.id} ${formatLocalTime(a.createdUs)}  ${WHY[a.state] ?? a.state}${a.attempts ? ` (${a.attempts} attempt(s))` : ""}  ${JSON.stringify(a.title)}`,
        );
        if (a.lastError) lines.push(`    ${a.lastError}`);
      }
      if (counts.failed) lines.push("", "'logtriage outbox --retry' queues the refused alerts again.");
      // Titles and errors come from logs and servers: shown escaped, never interpreted.
      process.stdout.write(`${printableLines(lines.join("\n"))}\n`);
    } finally {
      db.close();
    }
  },
});
