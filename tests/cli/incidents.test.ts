import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Candidate } from "../../src/event.ts";
import { IncidentStep } from "../../src/daemon/incident-step.ts";
import { EventWriter } from "../../src/daemon/writer.ts";
import { incidentPolicy } from "../../src/incidents/policy.ts";
import { openStore } from "../../src/store/db.ts";
import { getIncident } from "../../src/store/incidents.ts";
import { triageFixture } from "../_fixtures.ts";
import { cli, jsonLines, sandbox } from "./_run.ts";

// `logtriage incidents`, `mute`, `unmute` with the compiled binary, over a database the daemon's
// own incident step filled from real captured journal lines.

const box = sandbox();
const dbPath = join(box.dataDir, "events.db");
afterAll(() => rmSync(box.home, { recursive: true, force: true }));

async function fill(): Promise<void> {
  mkdirSync(box.dataDir, { recursive: true });
  const db = openStore(dbPath);
  const config = {
    ntfy: { alertTiers: ["T1", "T2", "T3", "T4"], minSeverity: { T4: "high" } },
    incidents: { ignoreUnits: [], quietUnits: [], ignorePrograms: [], quietPrograms: [] },
  } as never;
  const step = new IncidentStep({
    instanceId: "box",
    policy: incidentPolicy(config),
    rules: { updateIntervalMs: 60_000 },
    windows: { unitMs: 300_000, programMs: 86_400_000, diskMs: 86_400_000, otherMs: 3_600_000 },
    onResolve: "update",
    toNotification: null,
    click: null,
  });
  const writer = new EventWriter({
    db,
    policy: { instanceId: "box", cooldownMs: 300_000, aggregateThreshold: 3 },
    alerts: null,
    incidents: step,
  });
  const nowUs = Date.now() * 1000;
  for (const f of ["real/unit-oom-killed-user-service.jsonl", "real/coredump-c-program.jsonl"]) {
    const { candidates } = await triageFixture(f);
    writer.commit(
      candidates.map((c: Candidate) => ({ ...c, timestampUs: nowUs })),
      null,
    );
  }
  db.close();
}

describe("incidents, mute, unmute", () => {
  test("lists incidents with their events; mute until it changes or for a while; unmute", async () => {
    await fill();
    const listed = cli(box, ["incidents", "--json"]);
    expect(listed.code).toBe(0);
    const rows = jsonLines(listed.stdout);
    expect(rows.map((r) => r["fingerprint"]).sort()).toEqual(["unit:lt-cap-oomsvc2.service", "unit:lt-crash-c.service"]);
    const oom = rows.find((r) => r["fingerprint"] === "unit:lt-cap-oomsvc2.service")!;
    expect(oom["tier"]).toBe("T1");
    expect(oom["state"]).toBe("open");
    expect(oom["events"]).toHaveLength(2);
    const id = oom["id"] as string;

    const muted = cli(box, ["mute", id.slice(0, 6), "--for", "24h"]);
    expect(muted.code).toBe(0);
    expect(muted.stdout).toContain(`Muted ${id}`);
    const db = openStore(dbPath, { readonly: true });
    const found = getIncident(db, id);
    db.close();
    expect(found.kind === "found" && found.incident.mute).toMatchObject({ severity: "critical", loop: false });
    expect(cli(box, ["incidents", "--open"]).stdout).toMatch(new RegExp(`${id}.*\\[muted\\]`));
    expect(jsonLines(cli(box, ["incidents", "--json"]).stdout).find((r) => r["id"] === id)!["muted"]).toBe(true);

    expect(cli(box, ["unmute", id]).stdout).toContain(`Unmuted ${id}`);
    expect(jsonLines(cli(box, ["incidents", "--json"]).stdout).find((r) => r["id"] === id)!["muted"]).toBe(false);
  });

  test("an unknown id or a bad --for is one clear line, exit 2", () => {
    const unknown = cli(box, ["mute", "ffffffff"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`no incident with id "ffffffff"`);
    const bad = cli(box, ["mute", "ffffffff", "--for", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`--for: expected a duration like 1h, 24h or 7d, got "soon"`);
  });
});

describe("digest by incident", () => {
  test("a daily schedule gives a daily digest; --json counts the incidents", async () => {
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(box.configDir, "config.toml"), `[instance]\nid = "box"\n[digest]\nschedule = "09:00"\n`);
    const r = cli(box, ["digest", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      title: string;
      text: string;
      incidents: Record<string, { new: number; stillOpen: number; active: number }>;
    };
    expect(out.title).toStartWith("📊 logtriage daily digest (");
    expect(out.incidents["box"]).toMatchObject({ active: 2, new: 2, stillOpen: 2 });
    expect(out.text).toContain("Incidents:        2 new, 0 recurring, 2 still open, 0 resolved");
    rmSync(join(box.configDir, "config.toml"));
  });
});
