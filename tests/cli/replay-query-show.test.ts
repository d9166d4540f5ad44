import { afterAll, describe, expect, test } from "bun:test";
import { copyForOtherUsers } from "../_other-user.ts";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../src/store/db.ts";
import { saveEnrichment } from "../../src/store/enrichment.ts";
import { fixturePath } from "../_fixtures.ts";
import { BIN, cli, jsonLines, sandbox } from "./_run.ts";

const box = sandbox();
afterAll(() => rmSync(box.home, { recursive: true, force: true }));

describe("logtriage replay", () => {
  test("--json on a real OOM capture: the event with its oom object and cursors", () => {
    const r = cli(box, ["replay", fixturePath("real/oom-memcg-victim-not-hog.jsonl"), "--json"]);
    expect(r.code).toBe(0);
    const [e] = jsonLines(r.stdout).filter((x) => x["tier"] === "T1");
    expect(e?.["rule"]).toBe("kernel-memcg-oom-kill");
    expect(e?.["process"]).toBe("python3");
    expect(e?.["pid"]).toBe(4288);
    const oom = e?.["oom"] as Record<string, unknown>;
    expect(oom["constraint"]).toBe("CONSTRAINT_MEMCG");
    expect(oom["memcg"]).toBe("/lt_victim");
    expect((oom["victim"] as Record<string, unknown>)["oom_score_adj"]).toBe(1000);
    expect((oom["trigger"] as Record<string, unknown>)["pid"]).toBe(4291);
    const top = oom["top_tasks"] as Record<string, unknown>[];
    expect(top[0]?.["pid"]).toBe(4291);
    expect(top[0]?.["rss_kb"]).toBe(13883 * 4);
    expect(oom["mem_total_kb"]).toBeNull();
    expect((e?.["cursors"] as string[]).length).toBeGreaterThan(50);
    expect(r.stderr).toContain("(journal-json)");
  });

  // A failed unit logs its main process's exit, then "Failed with result": the daemon and
  // replay --store keep them as one event; replay without --store must show that same event once.
  test("a unit's exit and its failure line are one event with or without --store, as stored", () => {
    const files = ["unit-failed-user-service", "unit-fail-restart-limit", "unit-sigsegv", "timer-service-fails"].map((f) =>
      fixturePath(`real/${f}.jsonl`),
    );
    const shown = cli(box, ["replay", "--json", ...files]);
    expect(shown.code).toBe(0);
    const dbPath = join(box.home, "joined.db");
    const stored = cli(box, ["replay", "--store", "--db", dbPath, "--json", ...files]);
    expect(stored.code).toBe(0);
    const queried = jsonLines(cli(box, ["query", "--db", dbPath, "--last", "3650d", "--json"]).stdout);
    // Each event shown is a stored event or one more occurrence of one (the cooldown folds repeats
    // when storing); none is a line the store joined into another event.
    expect(stored.stdout).toBe(shown.stdout);
    const key = (e: Record<string, unknown>) => `${e["time"]} ${e["rule"]} ${e["unit"]}`;
    const shownKeys = new Set(jsonLines(shown.stdout).map(key));
    expect(queried.map(key).filter((k) => !shownKeys.has(k))).toEqual([]);
    expect(jsonLines(shown.stdout).length).toBe(queried.reduce((n, e) => n + (e["occurrences"] as number), 0));

    const one = jsonLines(cli(box, ["replay", "--json", fixturePath("real/unit-failed-user-service.jsonl")]).stdout);
    expect(one.map((e) => [e["rule"], e["unit"]])).toEqual([["unit-exit-failed", "lt-cap-fail.service"]]);
    expect(shown.stderr).toMatch(/\d+ more lines joined into the events they belong to/);
  });

  test("reads standard input with '-' and detects dmesg text", async () => {
    const text = await Bun.file(fixturePath("real/oom-memcg-v1-kernel6.dmesg.txt")).text();
    const r = cli(box, ["replay", "-", "--json"], text);
    expect(r.code).toBe(0);
    expect(jsonLines(r.stdout).map((e) => e["summary"])).toEqual([
      "OOM kill: python3 (pid 3546, 69.0 MB RSS), cgroup /lt_test hit its limit of 64.0 MB",
    ]);
    expect(r.stderr).toContain("(dmesg)");
  });

  test("kmsg records are detected too", () => {
    const r = cli(box, ["replay", fixturePath("real/segfault-python.kmsg.txt")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Crash: python3 (SIGSEGV) in libc.so.6");
    expect(r.stderr).toContain("(kmsg)");
  });

  test("bad lines are warned about (the first few), counted, and the valid entries still count", async () => {
    const real = (await Bun.file(fixturePath("real/segfault-python.jsonl")).text()).split("\n").filter(Boolean);
    const garbage = Array.from({ length: 8 }, (_, i) => `{"broken": ${i}`);
    const path = join(box.home, "mixed.jsonl");
    writeFileSync(path, [...garbage, ...real].join("\n"));
    const r = cli(box, ["replay", path]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Crash: python3 (SIGSEGV)");
    expect(r.stderr.match(/skipped, malformed JSON/g)?.length).toBe(5);
    expect(r.stderr).toContain("skipped 8 malformed JSON");
    expect(r.stderr).not.toContain("at ");
  });

  test("empty input: a warning, exit 0", () => {
    const r = cli(box, ["replay", "-"], "");
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("empty input");
  });

  test("a directory or a missing file: a clear message, exit 2, no stack trace", () => {
    const dir = cli(box, ["replay", box.home]);
    expect(dir.code).toBe(2);
    expect(dir.stderr).toContain("is a directory");
    const missing = cli(box, ["replay", join(box.home, "nope.jsonl")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no such file");
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });
});

test("replay: an unreadable file is skipped with the reason, exit 2 (run as nobody: root reads anything)", () => {
  const dir = join(box.home, "locked");
  mkdirSync(dir, { mode: 0o755 });
  const file = join(dir, "boot.jsonl");
  writeFileSync(file, "{}\n");
  chmodSync(file, 0o000);
  chmodSync(box.home, 0o755);
  const asNobody = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] : [];
  // A copy of the binary nobody can reach: the clone may sit in a 0700 folder.
  const proc = Bun.spawnSync([...asNobody, asNobody.length ? copyForOtherUsers(BIN) : BIN, "replay", file], {
    cwd: "/",
    env: box.env,
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(proc.exitCode).toBe(2);
  expect(proc.stderr.toString()).toContain(`${file}: permission denied`);
});

describe("replay --store, then query and show", () => {
  const db = join(box.home, "events.db");

  test("stores the events; cooldown folds a failing unit's repeats", () => {
    const r = cli(box, [
      "replay",
      "--store",
      "--db",
      db,
      fixturePath("real/oom-memcg-two-kills.jsonl"),
      fixturePath("real/unit-fail-restart-limit.jsonl"),
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/stored \d+ new, \d+ folded/);
  });

  test("query shows every event with the instance id; --tier filters", () => {
    const all = cli(box, ["query", "--db", db, "--last", "3650d"]);
    expect(all.code).toBe(0);
    const host = cli(box, ["status", "--json"]);
    const instance = (JSON.parse(host.stdout) as { instance: string }).instance;
    expect(all.stdout.split("\n").filter((l) => l.includes(`[${instance}]`)).length).toBeGreaterThanOrEqual(3);
    const t1 = jsonLines(cli(box, ["query", "--db", db, "--last", "3650d", "--tier", "T1", "--json"]).stdout);
    expect(t1.every((e) => e["tier"] === "T1")).toBe(true);
    // the second /lt_two kill (pid 3741) came within the cooldown window: an occurrence of the first
    expect(t1.map((e) => [e["pid"], e["occurrences"]]).sort()).toEqual([
      [3546, 1],
      [3739, 2],
    ]);
    const t3 = jsonLines(cli(box, ["query", "--db", db, "--last", "3650d", "--tier=T3", "--json"]).stdout);
    expect(t3).toHaveLength(1);
    expect(t3[0]?.["unit"]).toBe("lt-fail.service");
    // Three failed runs (each run's exit and result are one incident) and the start limit's own
    // 'Failed with result', which systemd logs once more when it gives up.
    expect(t3[0]?.["occurrences"]).toBe(4);
    expect(t3[0]?.["summary"]).toStartWith("Crash loop: lt-fail.service");
    const both = jsonLines(cli(box, ["query", "--db", db, "--last", "3650d", "--tier", "T1", "--tier", "T3", "--json"]).stdout);
    expect(both).toHaveLength(3);
  });

  test("--last bounds the window by event time", () => {
    const r = cli(box, ["query", "--db", db, "--last", "1s"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("No events in the last 1s");
  });

  test("show ID prefix: detail, report lines and raw fields", () => {
    const [first] = jsonLines(cli(box, ["query", "--db", db, "--last", "3650d", "--tier", "T1", "--json", "--limit", "1"]).stdout);
    const id = first?.["id"] as string;
    const r = cli(box, ["show", id.slice(0, 8), "--db", db]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("was killed by the kernel OOM killer");
    expect(r.stdout).toContain("Top tasks by RSS");
    expect(r.stdout).toContain("Tasks state (memory values in pages):");
    expect(r.stdout).toContain("_TRANSPORT=kernel");
    const missing = cli(box, ["show", "ffffffffffff", "--db", db]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("no event with id");
  });

  test("show: an enriched event's evidence, in words and in --json", () => {
    const [first] = jsonLines(cli(box, ["query", "--db", db, "--last", "3650d", "--tier", "T1", "--json", "--limit", "1"]).stdout);
    const id = first?.["id"] as string;
    const store = openStore(db);
    saveEnrichment(
      store,
      id,
      {
        completedUs: 1,
        sections: [
          {
            enricher: "oom",
            lines: ["Likely cause: lt_hog 412 MB"],
            evidence: { largestRssKb: 421_888 },
            missing: ["memory history is off"],
          },
        ],
      },
      null,
    );
    store.close();
    const text = cli(box, ["show", id, "--db", db]).stdout;
    expect(text).toContain("Likely cause: lt_hog 412 MB");
    expect(text).toContain("Not gathered:\n  - memory history is off");
    expect(text).toContain("Evidence (oom):\n  largestRssKb: 421888");
    const json = JSON.parse(cli(box, ["show", id, "--db", db, "--json"]).stdout) as { enrichment: { sections: { evidence: unknown }[] } };
    expect(json.enrichment.sections[0]?.evidence).toEqual({ largestRssKb: 421_888 });
  });

  test("usage mistakes: exit 2 with the fix", () => {
    const tier = cli(box, ["query", "--db", db, "--tier", "T9"]);
    expect(tier.code).toBe(2);
    expect(tier.stderr).toContain('--tier: expected T1, T2, T3, T4 or T5, got "T9"');
    const last = cli(box, ["query", "--db", db, "--last", "a week"]);
    expect(last.code).toBe(2);
    expect(last.stderr).toContain("--last: expected a duration");
    const typo = cli(box, ["query", "--db", db, "--teir", "T1"]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("did you mean --tier?");
    const cmd = cli(box, ["qeury"]);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toContain("did you mean 'query'?");
  });

  test("a corrupt database: exit 1, path named, file untouched", () => {
    const bad = join(box.home, "corrupt.db");
    writeFileSync(bad, "not sqlite at all\n".repeat(100));
    const r = cli(box, ["query", "--db", bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(bad);
    expect(r.stderr).toContain("not a readable logtriage database");
    expect(Bun.file(bad).size).toBe("not sqlite at all\n".length * 100);
  });
});

describe("top level", () => {
  test("--version names version and revision", () => {
    const r = cli(box, ["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^logtriage \d+\.\d+\.\d+ \(\S+\)\n$/);
  });

  test("--help on the root and on a command", () => {
    expect(cli(box, ["--help"]).stdout).toContain("replay");
    const help = cli(box, ["query", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--tier");
  });

  test("NO_COLOR: no escape codes", () => {
    const r = cli(box, ["replay", fixturePath("real/segfault-python.jsonl")]);
    expect(r.stdout).not.toContain("\x1b[");
  });
});
