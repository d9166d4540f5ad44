import { describe, expect, test } from "bun:test";
import type { Candidate } from "../../src/event.ts";
import { diskName, fingerprintOf, isRecovery, mayJoinGpuIncident } from "../../src/incidents/fingerprint.ts";
import {
  decideAlert,
  formatLasted,
  joinIncident,
  markAlerted,
  muteHolds,
  narrowToUnit,
  openIncident,
  quietResolution,
  resolveIncident,
  resolvedLine,
  withDecision,
  type IncidentEvent,
} from "../../src/incidents/lifecycle.ts";
import { incidentPolicy } from "../../src/incidents/policy.ts";
import { triageFixture } from "../_fixtures.ts";

// The pure half of incidents: what an event is about, and what an incident becomes. Time is
// an argument everywhere, so these run without a clock.

const S = 1_000_000;
const rules = { updateIntervalMs: 60_000 };
const windows = { unitMs: 5 * 60_000, programMs: 24 * 3_600_000, diskMs: 24 * 3_600_000, otherMs: 3_600_000 };

function candidate(over: Partial<Candidate>): Candidate {
  return {
    tier: "T3",
    severity: "medium",
    rule: "unit-failed",
    summary: "x",
    process: null,
    pid: null,
    unit: null,
    timestampUs: 0,
    facts: { kind: "plain" },
    entries: [],
    ...over,
  };
}

function ev(over: Partial<IncidentEvent> = {}): IncidentEvent {
  return {
    eventId: "e1",
    tier: "T3",
    severity: "medium",
    summary: "Unit failed: a.service",
    timestampUs: 1000 * S,
    occurrences: 1,
    loop: false,
    alertable: true,
    ...over,
  };
}

const fp = { kind: "unit" as const, subject: "a.service", key: "unit:a.service" };

describe("fingerprint", () => {
  test("a unit's kernel OOM report and its failure lines (the killed main process, the failed result) share one (real capture)", async () => {
    const { candidates } = await triageFixture("real/unit-oom-killed-user-service.jsonl");
    // cgroup v1: systemd sees only a SIGKILL, so its exit line and its result are T3 lines of
    // their own; the incident joins them to the kernel's report through the unit.
    expect(candidates.map((c) => c.tier)).toEqual(["T1", "T3", "T3"]);
    expect(new Set(candidates.map((c) => fingerprintOf(c).key))).toEqual(new Set(["unit:lt-cap-oomsvc2.service"]));
  });

  test("a mass restart is one incident of its own, not any of its units' (real capture)", async () => {
    const { candidates } = await triageFixture("real/mass-restart-five-units.jsonl");
    expect(candidates.map((c) => fingerprintOf(c).key)).toEqual(["restarts:mass"]);
    // A mass restart in a later burst meets the same open incident.
    expect(fingerprintOf(candidate({ rule: "mass-restart", summary: "Mass restart: 3 units restarted within 1 min: x, y, z" })).key).toBe(
      "restarts:mass",
    );
  });

  test("subjects: probe, disk (SMART and kernel errors meet), GPU, program, pressure", () => {
    const probe = candidate({ facts: { kind: "probe", probe: { service: "web", state: "unhealthy" } as never } });
    expect(fingerprintOf(probe).key).toBe("probe:web");
    expect(isRecovery(candidate({ facts: { kind: "probe", probe: { service: "web", state: "healthy" } as never } }))).toBe(true);
    const smart = candidate({
      tier: "T4",
      rule: "smart-change",
      facts: { kind: "smart", disk: { device: "/dev/sda" } as never, changes: [] },
    });
    const io = candidate({ tier: "T4", rule: "block-io-error", facts: { kind: "kernel", device: "sda3", lines: [] } });
    expect(fingerprintOf(smart).key).toBe("disk:sda");
    expect(fingerprintOf(io).key).toBe("disk:sda");
    expect(diskName("nvme0n1p2")).toBe("nvme0n1");
    expect(
      fingerprintOf(candidate({ tier: "T4", rule: "i915-gpu-hang", facts: { kind: "kernel", device: "0000:00:02.0", lines: [] } })).key,
    ).toBe("gpu:0000:00:02.0");
    expect(fingerprintOf(candidate({ tier: "T2", rule: "kernel-segfault", process: "crashme" })).key).toBe("program:crashme");
    // A crash in a scope is its program's (two programs in one session are two incidents); an
    // OOM kill there stays the scope's, where the kernel's report and systemd's notice meet.
    expect(fingerprintOf(candidate({ tier: "T2", rule: "coredump", process: "firefox", unit: "session-3.scope" })).key).toBe(
      "program:firefox",
    );
    expect(fingerprintOf(candidate({ tier: "T2", rule: "coredump", process: "crashme", unit: "crashme.service" })).key).toBe(
      "unit:crashme.service",
    );
    expect(fingerprintOf(candidate({ tier: "T1", rule: "oom-kill", process: "firefox", unit: "session-3.scope" })).key).toBe(
      "unit:session-3.scope",
    );
    expect(fingerprintOf(candidate({ tier: "T5", facts: { kind: "memory-pressure", pressure: {} as never } })).key).toBe("pressure:memory");
    expect(mayJoinGpuIncident(candidate({ tier: "T2", process: "gnome-shell" }))).toBe(true);
    expect(mayJoinGpuIncident(candidate({ tier: "T2", process: "crashme" }))).toBe(false);
  });
});

describe("lifecycle", () => {
  test("first alert, then nothing until it escalates", () => {
    let inc = openIncident("i1", "vm", fp, ev());
    expect(decideAlert(inc, rules, 1000 * S)).toEqual({ action: "open" });
    inc = markAlerted(inc, 1000 * S);
    inc = joinIncident(inc, ev({ occurrences: 2, timestampUs: 1010 * S }));
    expect(decideAlert(inc, rules, 1010 * S).action).toBe("none");
  });

  test("becoming a loop within the update interval is held back, then sent", () => {
    let inc = markAlerted(openIncident("i1", "vm", fp, ev()), 1000 * S);
    inc = joinIncident(inc, ev({ occurrences: 3, loop: true, timestampUs: 1030 * S }));
    const held = decideAlert(inc, rules, 1030 * S);
    expect(held).toEqual({ action: "defer", reason: "became a loop" });
    inc = withDecision(inc, held, 1030 * S);
    expect(inc.updateDue).toBe(true);
    expect(decideAlert(inc, rules, 1060 * S)).toEqual({ action: "update", reason: "became a loop" });
    inc = withDecision(inc, decideAlert(inc, rules, 1060 * S), 1060 * S);
    expect(inc.updateDue).toBe(false);
    // More of the same loop is no news until it is ten times as many.
    inc = joinIncident(inc, ev({ occurrences: 20, loop: true, timestampUs: 1200 * S }));
    expect(decideAlert(inc, rules, 1200 * S).action).toBe("none");
    inc = joinIncident(inc, ev({ occurrences: 30, loop: true, timestampUs: 1300 * S }));
    expect(decideAlert(inc, rules, 1300 * S)).toEqual({ action: "update", reason: "30 occurrences" });
  });

  test("a rise in severity updates at once and the more severe event leads", () => {
    let inc = markAlerted(openIncident("i1", "vm", fp, ev()), 1000 * S);
    inc = joinIncident(inc, ev({ eventId: "e2", tier: "T1", severity: "critical", summary: "OOM kill", timestampUs: 1001 * S }));
    expect(inc.leadEventId).toBe("e2");
    expect(inc.tier).toBe("T1");
    expect(decideAlert(inc, rules, 1001 * S)).toEqual({ action: "update", reason: "severity medium → critical" });
    // A less severe line about it later neither leads nor escalates.
    inc = markAlerted(inc, 1001 * S);
    inc = joinIncident(inc, ev({ eventId: "e3", timestampUs: 1002 * S }));
    expect(inc.leadEventId).toBe("e2");
    expect(decideAlert(inc, rules, 1002 * S).action).toBe("none");
  });

  test("a mute holds until its time runs out or the incident changes", () => {
    let inc = openIncident("i1", "vm", fp, ev());
    inc = { ...inc, mute: { untilUs: null, severity: "medium", loop: false } };
    expect(decideAlert(inc, rules, 1000 * S)).toEqual({ action: "none", why: "muted" });
    expect(muteHolds(joinIncident(inc, ev({ loop: true, occurrences: 3 })), 1000 * S)).toBe(false);
    expect(muteHolds(joinIncident(inc, ev({ severity: "high" })), 1000 * S)).toBe(false);
    const timed = { ...inc, mute: { untilUs: 2000 * S, severity: "medium" as const, loop: false } };
    expect(muteHolds(timed, 1999 * S)).toBe(true);
    expect(muteHolds(timed, 2000 * S)).toBe(false);
  });

  test("not alertable (quiet, or below the tier's least severity): stored, never alerted", () => {
    expect(decideAlert(openIncident("i1", "vm", fp, ev({ alertable: false })), rules, 0)).toEqual({
      action: "none",
      why: "not alerted by the policy",
    });
  });

  test("resolution: quiet past the window, said with how long it lasted", () => {
    const inc = joinIncident(openIncident("i1", "vm", fp, ev()), ev({ occurrences: 3, loop: true, timestampUs: 1100 * S }));
    expect(quietResolution(inc, 1100 * S + 299 * S, windows)).toBeNull();
    const why = quietResolution(inc, 1400 * S, windows);
    expect(why).toBe("restart loop quiet for 5 min");
    // Over since its last event (the daemon resolves at lastSeenUs): 100 s after the first.
    const resolved = resolveIncident(inc, inc.lastSeenUs, why as string);
    expect(resolved.state).toBe("resolved");
    expect(resolvedLine(resolved)).toBe("Resolved after 1 min 40 s: restart loop quiet for 5 min");
    expect(decideAlert(resolved, rules, 1400 * S).action).toBe("none");
    const probe = openIncident("i2", "vm", { kind: "probe", subject: "web", key: "probe:web" }, ev());
    expect(quietResolution(probe, 1_000_000 * S, windows)).toBeNull();
    const disk = openIncident("i3", "vm", { kind: "disk", subject: "sda", key: "disk:sda" }, ev());
    expect(quietResolution(disk, 1000 * S + 86_400 * S, windows)).toBe("no new errors for 1 d");
  });

  test("a program's incident becomes its unit's when a line names the unit", () => {
    const inc = openIncident("i1", "vm", { kind: "program", subject: "crashme", key: "program:crashme" }, ev());
    expect(narrowToUnit(inc, "lt-crash.service").fingerprint).toBe("unit:lt-crash.service");
    expect(narrowToUnit(inc, null)).toBe(inc);
    // A login session's or terminal's scope is not the program's unit.
    expect(narrowToUnit(inc, "session-3.scope")).toBe(inc);
  });

  test.each([
    [42 * S, "42 s"],
    [7 * 60 * S, "7 min"],
    [90 * S, "1 min 30 s"],
    [17 * 60 * S + 59 * S, "17 min"],
    [185 * 60 * S, "3 h 5 min"],
    [52 * 3600 * S, "2 d 4 h"],
  ])("formatLasted(%p) = %p", (us, words) => {
    expect(formatLasted(us)).toBe(words);
  });
});

describe("policy", () => {
  const config = {
    ntfy: { alertTiers: ["T1", "T2", "T3", "T4"], minSeverity: { T4: "high" } },
    incidents: { ignoreUnits: ["flaky@*.service"], quietUnits: ["backup.service"], ignorePrograms: ["steam"], quietPrograms: [] },
  } as never;
  const policy = incidentPolicy(config);

  test("T4 alerts from high up; T5 and T4 warnings go to the digest only", () => {
    expect(policy.alerts(candidate({ tier: "T4", severity: "high" }))).toBe(true);
    expect(policy.alerts(candidate({ tier: "T4", severity: "critical" }))).toBe(true);
    expect(policy.alerts(candidate({ tier: "T4", severity: "warning" }))).toBe(false);
    expect(policy.alerts(candidate({ tier: "T5", severity: "high" }))).toBe(false);
    expect(policy.alerts(candidate({ tier: "T3", severity: "medium", unit: "web.service" }))).toBe(true);
  });

  test("ignore drops, with * as a wildcard; quiet stores without alerting", () => {
    expect(policy.ignores(candidate({ unit: "flaky@3.service" }))).toBe(true);
    expect(policy.ignores(candidate({ process: "steam" }))).toBe(true);
    expect(policy.ignores(candidate({ unit: "flaky.service" }))).toBe(false);
    expect(policy.alerts(candidate({ unit: "backup.service" }))).toBe(false);
  });
});
