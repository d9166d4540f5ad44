import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { digestNtfyConfig, parseTimeBound } from "../../src/cli/digest.ts";
import { DEFAULT_PRIORITY_MAP } from "../../src/config/defaults.ts";
import type { Config } from "../../src/config/schema.ts";
import type { Candidate, Facts } from "../../src/event.ts";
import { openStore } from "../../src/store/db.ts";
import { commitEvent } from "../../src/store/events.ts";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";
import { BIN, sandbox, type CliResult, type Sandbox } from "./_run.ts";

// `logtriage digest`, the compiled binary, on two instances' databases seeded through the
// store's own commitEvent (cooldown folding included), and with --send against the local
// ntfy stand-in. The sandbox runs in TZ=UTC, so "2026-02-10" is midnight UTC. Spawned
// asynchronously: the stand-in answers from this process's event loop.

const box = sandbox();
const configPath = join(box.configDir, "config.toml");
const wsDb = join(box.home, "workstation.db");
const nasDb = join(box.home, "nas.db");
const PERIOD = ["--since", "2026-02-10", "--until", "2026-02-16"];
let ntfy: NtfyStandIn;

function at(day: number, hour = 12, minute = 0, second = 0): number {
  return Date.UTC(2026, 1, day, hour, minute, second) * 1000;
}

function candidate(over: Partial<Candidate> & Pick<Candidate, "tier" | "summary" | "timestampUs">): Candidate {
  return { severity: "high", rule: "seed", process: null, pid: null, unit: null, facts: { kind: "plain" }, entries: [], ...over };
}

function oomFacts(victim: string, largest: string, largestRssKb: number): Facts {
  return {
    kind: "oom-kill",
    oom: {
      trigger: { name: largest, pid: 100, gfpMask: null, order: 0, oomScoreAdj: 0 },
      victim: { name: victim, pid: 200, uid: 1000, totalVmKb: null, anonRssKb: 3_000_000, fileRssKb: 0, shmemRssKb: 0, oomScoreAdj: 0 },
      constraint: "CONSTRAINT_NONE",
      memcg: null,
      taskMemcg: null,
      memTotalKb: 16_000_000,
      memFreeKb: 100_000,
      memcgUsageKb: null,
      memcgLimitKb: null,
      topTasks: [
        { pid: 100, uid: 1000, name: largest, rssKb: largestRssKb, totalVmKb: null, oomScoreAdj: 0 },
        { pid: 200, uid: 1000, name: victim, rssKb: 3_000_000, totalVmKb: null, oomScoreAdj: 0 },
      ],
      complete: true,
    },
  };
}

function seed(path: string, instanceId: string, candidates: Candidate[]): void {
  const db = openStore(path);
  const policy = { instanceId, cooldownMs: 5 * 60_000, aggregateThreshold: 3 };
  db.transaction(() => {
    for (const c of candidates) commitEvent(db, c, policy);
  })();
  db.close();
}

function writeConfig(text: string): void {
  writeFileSync(configPath, `[instance]\nid = "workstation"\n\n${text}\n`);
}

async function run(args: string[], sb: Sandbox = box): Promise<CliResult> {
  const proc = Bun.spawn([BIN, ...args], { env: sb.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  ntfy = await startNtfyStandIn();
  seed(wsDb, "workstation", [
    // Before the previous period (Feb 3-9): the workstation was watched all through it.
    candidate({ tier: "T2", summary: "Crash: old (SIGSEGV)", process: "old", timestampUs: at(1) }),
    candidate({
      tier: "T1",
      summary: "OOM kill: gimp",
      process: "gimp",
      timestampUs: at(5),
      facts: oomFacts("gimp", "electron", 7_000_000),
    }),
    // The period.
    candidate({
      tier: "T1",
      summary: "OOM kill: firefox (pid 200)",
      process: "firefox",
      timestampUs: at(11),
      facts: oomFacts("firefox", "electron", 8_493_466),
    }),
    // Three vlc crashes within the 5 min cooldown: one stored event, a crash loop of 3.
    candidate({ tier: "T2", summary: "Crash: vlc (SIGSEGV)", process: "vlc", timestampUs: at(12, 16, 45) }),
    candidate({ tier: "T2", summary: "Crash: vlc (SIGSEGV)", process: "vlc", timestampUs: at(12, 16, 47) }),
    candidate({ tier: "T2", summary: "Crash: vlc (SIGSEGV)", process: "vlc", timestampUs: at(12, 16, 49) }),
    candidate({ tier: "T2", summary: "Crash: gimp (SIGABRT)", process: "gimp", timestampUs: at(14) }),
    candidate({ tier: "T3", summary: "docker.service failed", unit: "docker.service", timestampUs: at(10, 8) }),
    // A pressure episode: page allocation failures 40 s apart fold into one event.
    candidate({
      tier: "T5",
      severity: "warning",
      summary: "Memory pressure: page allocation failure in firefox (order 4)",
      process: "firefox",
      timestampUs: at(13, 14, 31, 0),
    }),
    candidate({
      tier: "T5",
      severity: "warning",
      summary: "Memory pressure: page allocation failure in firefox (order 4)",
      process: "firefox",
      timestampUs: at(13, 14, 31, 40),
    }),
    // After --until 2026-02-16 (which includes the 16th): not in this digest.
    candidate({ tier: "T2", summary: "Crash: late (SIGSEGV)", process: "late", timestampUs: at(17, 0, 0, 1) }),
  ]);
  seed(nasDb, "nas", [
    candidate({ tier: "T3", summary: "smbd.service failed", unit: "smbd.service", timestampUs: at(11, 3) }),
    candidate({
      tier: "T4",
      summary: "I/O error on /dev/sdc",
      timestampUs: at(14, 2),
      facts: { kind: "kernel", device: "sdc", lines: [] },
    }),
    candidate({
      tier: "T3",
      summary: "zfs-scrub.service failed",
      unit: "zfs-scrub.service",
      timestampUs: at(16, 23, 59),
      facts: { kind: "unit", unit: "zfs-scrub.service", result: "exit-code", exitCode: "exited", exitStatus: "1", restartCount: null },
    }),
  ]);
});

afterAll(async () => {
  await ntfy.stop();
  rmSync(box.home, { recursive: true, force: true });
});

const EXPECTED = `📊 logtriage weekly digest (Feb 10-16)

=== workstation ===
OOM Kills:        1 (firefox ×1)
Process Crashes:  4 (vlc ×3, gimp ×1)
Service Failures: 1 (docker.service ×1)
HW/Kernel Errors: 0
Memory Pressure:  1 warning episode (avg duration: 40s)
Top memory offender: electron (avg 8.1 GB, triggered 1 OOM)
Trend vs previous 7d: Process Crashes 0→4, Service Failures 0→1, Memory Pressure 0→1

=== nas ===
OOM Kills:        0
Process Crashes:  0
Service Failures: 2 (smbd.service ×1, zfs-scrub.service ×1)
HW/Kernel Errors: 1 (I/O error on /dev/sdc)
Memory Pressure:  0

Longest incident: [workstation] Crash loop: vlc — 3× process crash within 5 min of each other (latest: Crash: vlc (SIGSEGV))
`;

describe("printing", () => {
  test("two databases, --db twice: both instances, own first, the period's events only", async () => {
    writeConfig("");
    const r = await run(["digest", "--db", wsDb, "--db", nasDb, ...PERIOD]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // The trend names only what changed: one OOM kill in each week.
    expect(r.stdout).toBe(EXPECTED);
  });

  test("a database given twice, or a copy beside its original, counts its events once", async () => {
    writeConfig("");
    const copy = join(box.home, "workstation-copy.db");
    copyFileSync(wsDb, copy);
    const r = await run(["digest", "--db", wsDb, "--db", nasDb, "--db", wsDb, "--db", copy, ...PERIOD]);
    expect(r.stdout).toBe(EXPECTED);
  });

  test("without --db: the configured database", async () => {
    writeConfig(`[db]\npath = "${nasDb}"`);
    const r = await run(["digest", ...PERIOD]);
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("📊 logtriage weekly digest (Feb 10-16)\n\n=== nas ===\n");
    // The nas has no events before this period: no trend line.
    expect(r.stdout).toEndWith(
      "Memory Pressure:  0\n\nLongest incident: [nas] zfs-scrub.service failed\n  → zfs-scrub.service failed with result 'exit-code'.\n",
    );
  });

  test("a period with nothing in it: zeros, no longest incident", async () => {
    writeConfig("");
    const r = await run(["digest", "--db", nasDb, "--since", "2026-03-01", "--until", "2026-03-07"]);
    expect(r.code).toBe(0);
    // The nas has events from before Feb 22, so the week before was watched too: a trend line.
    expect(r.stdout).toBe(
      "📊 logtriage weekly digest (Mar 1-7)\n\n=== nas ===\nOOM Kills:        0\nProcess Crashes:  0\nService Failures: 0\nHW/Kernel Errors: 0\nMemory Pressure:  0\nTrend vs previous 7d: unchanged\n",
    );
  });

  test("a database with no events and no daemon record: alone, it is this instance; beside others, it is named on stderr", async () => {
    const empty = join(box.home, "empty.db");
    openStore(empty).close();
    writeConfig("");
    const alone = await run(["digest", "--db", empty, ...PERIOD]);
    expect([alone.code, alone.stderr]).toEqual([0, ""]);
    expect(alone.stdout).toStartWith("📊 logtriage weekly digest (Feb 10-16)\n\n=== workstation ===\nOOM Kills:        0\n");
    const beside = await run(["digest", "--db", nasDb, "--db", empty, ...PERIOD]);
    expect(beside.code).toBe(0);
    expect(beside.stderr).toBe(`logtriage: ${empty} holds no events and no daemon record, so no instance to show for it\n`);
    expect(beside.stdout).toStartWith("📊 logtriage weekly digest (Feb 10-16)\n\n=== nas ===\n");
  });

  test.each([
    [["--since", "last week"], `logtriage: --since: expected a duration like 7d or a date like 2026-02-10, got "last week"\n`],
    [["--since", "2026-02-30"], `logtriage: --since: expected a duration like 7d or a date like 2026-02-10, got "2026-02-30"\n`],
    [["--until", "soon"], `logtriage: --until: expected a date like 2026-02-16, a date and time, or a duration like 1d, got "soon"\n`],
    [
      ["--since", "2026-02-16", "--until", "2026-02-10"],
      "logtriage: --since (2026-02-16T00:00:00.000Z) must be before --until (2026-02-11T00:00:00.000Z)\n",
    ],
  ])("bad %p: exit 2, one line", async (args, stderr) => {
    writeConfig("");
    const r = await run(["digest", "--db", wsDb, ...args]);
    expect([r.code, r.stdout, r.stderr]).toEqual([2, "", stderr]);
  });

  test("a database that does not exist: exit 1, one line", async () => {
    writeConfig("");
    const missing = join(box.home, "nope.db");
    const r = await run(["digest", "--db", missing]);
    expect([r.code, r.stderr]).toEqual([
      1,
      `logtriage: no event database at ${missing} yet: the daemon (or 'logtriage replay --store') creates it.\n`,
    ]);
  });
});

describe("--send", () => {
  test("posts the digest at low priority with the chart tag, the period in the title", async () => {
    writeConfig(`[ntfy]\nurl = "${ntfy.topicUrl("alerts")}"`);
    const before = ntfy.messages.length;
    const r = await run(["digest", "--db", wsDb, "--db", nasDb, ...PERIOD, "--send"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`digest sent to ${ntfy.url}/alerts\n`);
    const sent = ntfy.messages.slice(before);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.topic).toBe("alerts");
    expect(sent[0]?.title).toBe("📊 logtriage weekly digest (Feb 10-16)");
    expect(sent[0]?.priority).toBe(2);
    expect(sent[0]?.tags).toEqual(["chart"]);
    // ntfy trims the message; the stdout has the title, a blank line, the body and a newline.
    expect(sent[0]?.message).toBe(r.stdout.split("\n\n").slice(1).join("\n\n").trimEnd());
  });

  test("[digest] topic as a bare name: that topic on [ntfy] url's server", async () => {
    writeConfig(`[ntfy]\nurl = "${ntfy.topicUrl("alerts")}"\n\n[digest]\ntopic = "weekly"`);
    const before = ntfy.messages.length;
    const r = await run(["digest", "--db", nasDb, ...PERIOD, "--send"]);
    expect([r.code, r.stderr]).toEqual([0, `digest sent to ${ntfy.url}/weekly\n`]);
    expect(ntfy.messages.slice(before).map((m) => m.topic)).toEqual(["weekly"]);
  });

  test("[digest] topic as a full URL works without [ntfy] url", async () => {
    writeConfig(`[digest]\ntopic = "${ntfy.topicUrl("digest-only")}"`);
    const before = ntfy.messages.length;
    const r = await run(["digest", "--db", nasDb, ...PERIOD, "--send"]);
    expect([r.code, r.stderr]).toEqual([0, `digest sent to ${ntfy.url}/digest-only\n`]);
    expect(ntfy.messages.slice(before).map((m) => m.topic)).toEqual(["digest-only"]);
  });

  test("no ntfy url: exit 2, saying where to set it, nothing printed or sent", async () => {
    writeConfig("");
    const before = ntfy.messages.length;
    const r = await run(["digest", "--db", nasDb, ...PERIOD, "--send"]);
    expect([r.code, r.stdout]).toEqual([2, ""]);
    expect(r.stderr).toBe(`logtriage: no ntfy topic configured: set [ntfy] url in ${configPath}, e.g. url = "https://ntfy.sh/my-topic"\n`);
    expect(ntfy.messages.length).toBe(before);
  });

  test("a digest over 4096 bytes goes out as several messages, each accepted, titled (i/n)", async () => {
    const fleetDb = join(box.home, "fleet.db");
    for (let i = 0; i < 40; i++) {
      seed(fleetDb, `host-${String(i).padStart(2, "0")}`, [
        candidate({ tier: "T2", summary: `Crash: worker-${i} (SIGSEGV)`, process: `worker-${i}`, timestampUs: at(12, 1, i) }),
      ]);
    }
    writeConfig(`[ntfy]\nurl = "${ntfy.topicUrl("alerts")}"`);
    const before = ntfy.messages.length;
    const r = await run(["digest", "--db", fleetDb, ...PERIOD, "--send"]);
    expect(r.stderr).toMatch(/^digest sent to \S+\/alerts in \d+ messages\n$/);
    expect(r.code).toBe(0);
    const sent = ntfy.messages.slice(before);
    expect(sent.length).toBeGreaterThan(1);
    expect(sent.map((m) => m.title)).toEqual(sent.map((_, i) => `📊 logtriage weekly digest (Feb 10-16) (${i + 1}/${sent.length})`));
    for (const m of sent) {
      expect(m.attachment).toBeNull();
      expect(m.message).toStartWith("=== host-");
    }
    expect(sent.map((m) => m.message).join("\n\n")).toBe(r.stdout.split("\n\n").slice(1).join("\n\n").trimEnd());
  });
});

describe("in process", () => {
  const now = Date.UTC(2026, 1, 16, 9, 0);
  test.each([
    ["7d", "since", now - 7 * 86_400_000],
    ["36h", "since", now - 36 * 3_600_000],
    ["2026-02-10", "since", new Date(2026, 1, 10).getTime()],
    ["2026-02-16", "until", new Date(2026, 1, 17).getTime()],
    ["2026-02-10T09:30", "since", new Date(2026, 1, 10, 9, 30).getTime()],
    ["2026-02-10 09:30:15", "since", new Date(2026, 1, 10, 9, 30, 15).getTime()],
    ["2026-02-10T09:30:00Z", "since", Date.UTC(2026, 1, 10, 9, 30)],
    ["2026-02-10T09:30:00+05:30", "since", Date.UTC(2026, 1, 10, 4, 0)],
    ["2026-13-01", "since", null],
    ["yesterday", "since", null],
    ["", "since", null],
  ] as const)("parseTimeBound(%p, %s)", (text, bound, expected) => {
    expect(parseTimeBound(text, now, bound)).toBe(expected);
  });

  const ntfyConfig: Config["ntfy"] = {
    url: "https://ntfy.example/alerts",
    priorityMap: { ...DEFAULT_PRIORITY_MAP },
    alertTiers: ["T1", "T2"],
    token: "tk_secret",
    tokenFile: null,
    user: null,
    password: null,
    click: null,
    timeoutMs: 10_000,
    maxAgeMs: 7 * 86_400_000,
    minSeverity: {},
    onResolve: "update",
    controlTopic: null,
    updateIntervalMs: 60_000,
  };

  test("digest topic: same url, a name on the same server, or a URL (credentials only to their own server)", () => {
    const pick = (topic: string, ntfy = ntfyConfig) => {
      const r = digestNtfyConfig(ntfy, topic, "/c.toml");
      return "error" in r ? r.error : [r.url, r.token];
    };
    expect(pick("")).toEqual(["https://ntfy.example/alerts", "tk_secret"]);
    expect(pick("weekly")).toEqual(["https://ntfy.example/weekly", "tk_secret"]);
    expect(pick("https://ntfy.example/weekly")).toEqual(["https://ntfy.example/weekly", "tk_secret"]);
    expect(pick("https://ntfy.sh/weekly")).toEqual(["https://ntfy.sh/weekly", null]);
    expect(pick("weekly", { ...ntfyConfig, url: "https://ntfy.example/sub/path/alerts" })).toEqual([
      "https://ntfy.example/sub/path/weekly",
      "tk_secret",
    ]);
    expect(pick("not a topic!")).toBe(
      `[digest] topic "not a topic!" in /c.toml is neither a topic name (1 to 64 letters, digits, "_" or "-") nor an ntfy topic URL like "https://ntfy.sh/my-topic"`,
    );
    expect(pick("weekly", { ...ntfyConfig, url: "" })).toBe(
      `no ntfy topic configured: set [ntfy] url in /c.toml, e.g. url = "https://ntfy.sh/my-topic" ([digest] topic "weekly" is a topic name on [ntfy] url's server)`,
    );
  });
});
