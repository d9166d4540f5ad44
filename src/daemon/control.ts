import type { Database } from "bun:sqlite";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { signMute, verifyControl, type ControlVerdict } from "../incidents/control.ts";
import type { NtfyAction } from "../text/alert.ts";
import type { NtfyTarget } from "../parse/ntfy-url.ts";
import { getIncident, setMute } from "../store/incidents.ts";
import { loadMonitorState, saveMonitorState } from "../store/monitor-state.ts";

// The control topic, the daemon's side: the HMAC key (generated at first start, kept 0600
// beside the database), the "Mute 24 h" button each alert carries, and the subscriber that
// reads the topic's JSON stream (GET /<topic>/json, docs.ntfy.sh/subscribe/api/) and acts on
// the messages that pass incidents/control.ts. A refusal is logged once per kind of refusal,
// so a stranger publishing junk to the topic cannot fill the log.

const MUTE_BUTTON_MS = 24 * 3_600_000;

/** The key, created (32 random bytes, hex, mode 0600) when missing. */
export function loadOrCreateControlKey(path: string): Buffer {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const fd = openSync(path, "wx", 0o600);
    try {
      writeSync(fd, `${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex")}\n`);
    } finally {
      closeSync(fd);
    }
  }
  // A key others can read lets them mute alerts: make it ours alone whatever umask made it.
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  const hex = readFileSync(path, "utf8").trim();
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new Error(`${path} is not a logtriage control key (64 hex digits); remove it and a new one is made at the next start`);
  return Buffer.from(hex, "hex");
}

export function controlKeyPath(dbPath: string): string {
  return `${dirname(dbPath)}/control.key`;
}

/** The buttons of an incident's alert: "Mute 24 h", signed for that incident. */
export function muteButton(key: Buffer, target: NtfyTarget, controlTopic: string, incidentId: string, nowUs: number): NtfyAction {
  const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString("hex");
  return {
    action: "http",
    label: "Mute 24 h",
    url: `${target.serverUrl}/${controlTopic}`,
    method: "POST",
    body: signMute(key, { incidentId, forMs: MUTE_BUTTON_MS, issuedUs: nowUs, nonce }),
    clear: true,
  };
}

export interface ControlLog {
  info(message: string): void;
  warn(message: string): void;
}

/** Acts on one control message's text; returns what became of it. */
export function applyControl(
  db: Database,
  key: Buffer,
  text: string,
  nowUs: number,
): ControlVerdict | { ok: false; reason: "no such incident" } {
  const verdict = verifyControl(key, text, nowUs, (nonce) => loadMonitorState(db, `control-nonce:${nonce}`) !== null);
  if (!verdict.ok) return verdict;
  const found = getIncident(db, verdict.mute.incidentId);
  if (found.kind !== "found") return { ok: false, reason: "no such incident" };
  const inc = found.incident;
  db.transaction(() => {
    saveMonitorState(db, `control-nonce:${verdict.mute.nonce}`, { incident: inc.id }, nowUs);
    setMute(db, inc.id, {
      untilUs: verdict.mute.forMs === null ? null : nowUs + verdict.mute.forMs * 1000,
      severity: inc.severity,
      loop: inc.loop,
    });
  })();
  return verdict;
}

export class ControlSubscriber {
  private readonly refusedKinds = new Set<string>();
  constructor(
    private readonly db: Database,
    private readonly key: Buffer,
    private readonly target: NtfyTarget,
    private readonly topic: string,
    private readonly authorization: () => Promise<string | null>,
    private readonly log: ControlLog,
  ) {}

  /** Reads the topic until aborted, reconnecting (from the last message seen) when the stream ends or fails. */
  async run(signal: AbortSignal): Promise<void> {
    let since: string | null = null;
    let backoffMs = 1_000;
    let saidDown = false;
    while (!signal.aborted) {
      try {
        const headers: Record<string, string> = {};
        const auth = await this.authorization();
        if (auth !== null) headers["Authorization"] = auth;
        const url = `${this.target.serverUrl}/${this.topic}/json${since ? `?since=${encodeURIComponent(since)}` : ""}`;
        const response = await fetch(url, { headers, signal, redirect: "manual" });
        if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status}`);
        if (saidDown) this.log.info(`control topic ${this.topic}: subscribed again`);
        saidDown = false;
        backoffMs = 1_000;
        let buffered = "";
        const decoder = new TextDecoder();
        for await (const chunk of response.body) {
          buffered += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            const id = this.handleLine(line);
            if (id !== null) since = id;
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        if (!saidDown)
          this.log.warn(
            `control topic ${this.topic}: ${error instanceof Error ? error.message : String(error)}; mute buttons wait until it answers (retrying)`,
          );
        saidDown = true;
      }
      if (signal.aborted) return;
      await new Promise((resolve) => {
        const t = setTimeout(resolve, backoffMs);
        signal.addEventListener("abort", () => (clearTimeout(t), resolve(undefined)), { once: true });
      });
      backoffMs = Math.min(backoffMs * 2, 60_000);
    }
  }

  /** One line of the JSON stream; returns the message id to resume from. */
  handleLine(line: string): string | null {
    let event: { id?: unknown; event?: unknown; message?: unknown };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return null;
    }
    if (event.event !== "message" || typeof event.message !== "string") return null;
    const result = applyControl(this.db, this.key, event.message, Date.now() * 1000);
    if (result.ok)
      this.log.info(
        `control topic: incident ${result.mute.incidentId} muted ${result.mute.forMs === null ? "until it changes" : `for ${Math.round(result.mute.forMs / 3_600_000)} h`} from the phone`,
      );
    else if (!this.refusedKinds.has(result.reason)) {
      this.refusedKinds.add(result.reason);
      this.log.warn(`control topic: refused a message (${result.reason}); further ones refused for the same reason are not logged`);
    }
    return typeof event.id === "string" ? event.id : null;
  }
}
