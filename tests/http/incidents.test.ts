import { describe, expect, test } from "bun:test";
import { recordPosted, recordSilences } from "../../src/store/alertmanager-sync.ts";
import { storedUnitIncident } from "../_builders.ts";
import { useServedStore } from "./_server.ts";

// /incidents and /incidents/ID on the real Bun.serve, from a real SQLite store: the list in the
// incidents JSON shape, one incident with its events in full, Alertmanager's silences shown as
// a mute, and a clear 404/400 for what is not there.

const NOW_US = Date.UTC(2026, 10, 23, 9, 0, 0) * 1000;
const S = 1_000_000;
const served = useServedStore("incidents", NOW_US);

function seed(unit: string, atUs: number, resolved: boolean): string {
  return storedUnitIncident(served.db, `${unit.startsWith("a") ? "aa" : "bb"}${"0".repeat(30)}`, unit, atUs, { resolved }).id;
}

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(new URL(path, served.url()));
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

describe("/incidents", () => {
  test("lists incidents, open ones with ?open; an Alertmanager silence shows as muted", async () => {
    const open = seed("app.service", NOW_US - 3600 * S, false);
    seed("backup.service", NOW_US - 7200 * S, true);
    recordPosted(served.db, open, { alertname: "unit-failed", instance: "nas" }, "firing", NOW_US);
    recordSilences(served.db, open, ["5f9ad3c1-0000-4000-8000-000000000001"]);
    const all = await get("/incidents");
    expect(all.status).toBe(200);
    const incidents = all.body["incidents"] as { id: string; state: string; muted: boolean; silencedBy: string[]; events: string[] }[];
    expect(incidents.map((i) => i.state).sort()).toEqual(["open", "resolved"]);
    const listed = incidents.find((i) => i.id === open);
    expect(listed?.muted).toBe(true);
    expect(listed?.silencedBy).toEqual(["5f9ad3c1-0000-4000-8000-000000000001"]);
    expect(listed?.events).toHaveLength(1);
    const onlyOpen = await get("/incidents?open");
    expect((onlyOpen.body["incidents"] as { id: string }[]).map((i) => i.id)).toEqual([open]);
  });

  test("one incident by id prefix, with its events in full", async () => {
    const id = seed("app.service", NOW_US - 3600 * S, false);
    const one = await get(`/incidents/${id.slice(0, 6)}`);
    expect(one.status).toBe(200);
    expect(one.body["id"]).toBe(id);
    const events = one.body["events"] as { rule: string; unit: string }[];
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ rule: "unit-failed", unit: "app.service" });
  });

  test("an unknown id is 404, a bad parameter 400 naming what it takes", async () => {
    seed("app.service", NOW_US, false);
    expect((await get("/incidents/ffff")).status).toBe(404);
    const bad = await get("/incidents?tier=T1");
    expect(bad.status).toBe(400);
    expect(String(bad.body["error"])).toContain("/incidents takes open, since and limit");
  });
});
