import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { JournalSource, journalMatches } from "../../src/sources/journal.ts";
import type { SourceBatch } from "../../src/sources/source.ts";
import { Classifier } from "../../src/classify/classifier.ts";
import { ALL_GROUPS } from "../_fixtures.ts";
import { ensureJournald, isRoot, type Journald } from "./_system.ts";

// The journal source against a real journald and a real journalctl: start at the end, resume
// by cursor, survive its journalctl being killed — without losing or repeating an entry.

const quiet = { debug() {}, info() {}, warn() {} };

/** Log `lines` to the journal under `identifier` at priority err, one systemd-cat each call. */
function logLines(identifier: string, lines: string[]): void {
  const p = Bun.spawnSync(["systemd-cat", "-t", identifier, "-p", "err"], { stdin: new TextEncoder().encode(`${lines.join("\n")}\n`) });
  if (p.exitCode !== 0) throw new Error(`systemd-cat failed: ${p.stderr.toString()}`);
}

/** Collects the messages of `identifier` the source yields, until `done` or a timeout. */
async function collect(
  source: JournalSource,
  identifier: string,
  done: (got: string[]) => boolean,
  options: { timeoutMs?: number; during?: (got: string[]) => Promise<void> } = {},
) {
  const controller = new AbortController();
  const got: string[] = [];
  let last: SourceBatch | null = null;
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 15_000);
  const reading = (async () => {
    for await (const batch of source.batches(controller.signal)) {
      last = batch;
      for (const e of batch.entries) if (e.identifier === identifier) got.push(e.message);
      if (done(got)) controller.abort();
    }
  })();
  await options.during?.(got);
  await reading;
  clearTimeout(timer);
  return { got, position: (last as SourceBatch | null)?.position ?? null };
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await Bun.sleep(20);
}

describe.skipIf(!isRoot)("journal source (root: real journald)", () => {
  let journald: Journald;
  beforeAll(async () => {
    journald = await ensureJournald();
  });
  afterAll(async () => {
    await journald?.stop();
  });

  test("the server-side matches cover kernel lines, errors, the rules' MESSAGE_IDs and identifiers", () => {
    const matches = journalMatches(new Classifier({ enabledGroups: new Set(["core"]) }).rawPrefilter);
    expect(matches?.slice(0, 2)).toEqual(["_TRANSPORT=kernel", "+"]);
    expect(matches).toContain("PRIORITY=3");
    expect(matches).toContain("MESSAGE_ID=d9b373ed55a64feb8242e02dbe79a49c");
    expect(matches).toContain("SYSLOG_IDENTIFIER=systemd");
    // Every group on (the default for every role): still filtered, the ZFS event daemon's lines by its name.
    expect(journalMatches(new Classifier({ enabledGroups: ALL_GROUPS }).rawPrefilter)).toContain("SYSLOG_IDENTIFIER=zed");
    // journalctl accepts them.
    const p = Bun.spawnSync(["journalctl", "--lines=1", "--output=json", "--no-pager", ...(matches ?? [])]);
    expect(p.exitCode).toBe(0);
  });

  test("a first start begins at the journal's end; a restart resumes exactly after its position", async () => {
    const id = `lt-src-${process.pid}-a`;
    logLines(id, ["before start"]);
    // A first start reads what the journal received from the moment it started: "before start" must be in before that.
    await until(() =>
      Bun.spawnSync(["journalctl", "--quiet", "-o", "cat", `SYSLOG_IDENTIFIER=${id}`])
        .stdout.toString()
        .includes("before start"),
    );
    const first = new JournalSource({ after: null, matches: null, log: quiet });
    const run1 = await collect(first, id, (got) => got.length >= 3, {
      during: async () => {
        await Bun.sleep(500);
        logLines(id, ["one", "two", "three"]);
      },
    });
    expect(run1.got).toEqual(["one", "two", "three"]);
    expect(run1.position).toMatch(/^s=/);
    logLines(id, ["four", "five"]);
    const second = new JournalSource({
      after: run1.position,
      matches: journalMatches(new Classifier({ enabledGroups: new Set(["core"]) }).rawPrefilter),
      log: quiet,
    });
    const run2 = await collect(second, id, (got) => got.length >= 2);
    expect(run2.got).toEqual(["four", "five"]);
  });

  test("resuming from an entry the matches exclude loses nothing after it (journalctl < 255 skipped one: systemd#30288)", async () => {
    const id = `lt-src-${process.pid}-d`;
    const matches = [`SYSLOG_IDENTIFIER=${id}`];
    // The position: an entry the matches do not cover (as the journal's tail at a first start).
    logLines(`lt-src-${process.pid}-other`, ["not ours"]);
    await until(() =>
      Bun.spawnSync(["journalctl", "--quiet", "-o", "cat", `SYSLOG_IDENTIFIER=lt-src-${process.pid}-other`])
        .stdout.toString()
        .includes("not ours"),
    );
    const tail = await new JournalSource({ after: null, matches: null, log: quiet }).tailCursor();
    expect(tail).toMatch(/^s=/);
    logLines(id, ["first after the position", "second"]);
    const fromForeign = await collect(new JournalSource({ after: tail, matches, log: quiet }), id, (got) => got.length >= 2, {
      timeoutMs: 5_000,
    });
    expect(fromForeign.got).toEqual(["first after the position", "second"]);
    // From an entry the matches do cover: that entry is not read again.
    const fromOwn = await collect(new JournalSource({ after: fromForeign.position, matches, log: quiet }), id, (got) => got.length >= 1, {
      timeoutMs: 5_000,
      during: async () => {
        await Bun.sleep(300);
        logLines(id, ["third"]);
      },
    });
    expect(fromOwn.got).toEqual(["third"]);
  });

  test("resuming with more than ten entries waiting reads them all while the journal stays quiet (journalctl -f showed ten: systemd#4739)", async () => {
    const id = `lt-src-${process.pid}-e`;
    const position = await new JournalSource({ after: null, matches: null, log: quiet }).tailCursor();
    expect(position).toMatch(/^s=/);
    const lines = Array.from({ length: 40 }, (_, i) => `waiting ${i}`);
    logLines(id, lines);
    await until(() =>
      Bun.spawnSync(["journalctl", "--quiet", "-o", "cat", `SYSLOG_IDENTIFIER=${id}`])
        .stdout.toString()
        .includes("waiting 39"),
    );
    // journald tells readers of a write up to 250 ms after it (POST_CHANGE_TIMER_INTERVAL_USEC);
    // once that has passed and nothing more is logged, a reader that waits for the journal to
    // change before printing past the tenth entry stops there. (A later write would only hide it.)
    await Bun.sleep(1_000);
    const run = await collect(
      new JournalSource({ after: position, matches: [`SYSLOG_IDENTIFIER=${id}`], log: quiet }),
      id,
      (got) => got.length >= 40,
      {
        timeoutMs: 10_000,
      },
    );
    expect(run.got).toEqual(lines);
  }, 20_000);

  test("with no position, --backfill's time reads back history instead of starting at the end", async () => {
    const id = `lt-src-${process.pid}-c`;
    logLines(id, ["from before the start"]);
    const source = new JournalSource({ after: null, sinceUs: Date.now() * 1000 - 60_000_000, matches: null, log: quiet });
    const run = await collect(source, id, (got) => got.length >= 1);
    expect(run.got).toEqual(["from before the start"]);
  });

  test("killing journalctl: the source restarts it and no entry is lost or repeated", async () => {
    const id = `lt-src-${process.pid}-b`;
    const warnings: string[] = [];
    const source = new JournalSource({
      after: null,
      matches: null,
      log: { ...quiet, warn: (m: string) => warnings.push(m) },
      backoffInitialMs: 100,
    });
    const want = Array.from({ length: 200 }, (_, i) => `line ${i}`);
    const run = await collect(source, id, (got) => got.length >= 200, {
      timeoutMs: 30_000,
      during: async (got) => {
        await until(() => source.childPid !== null);
        await Bun.sleep(300);
        logLines(id, want.slice(0, 100));
        await until(() => got.length >= 50);
        const pid = source.childPid;
        expect(pid).not.toBeNull();
        process.kill(pid as number, "SIGKILL");
        logLines(id, want.slice(100));
      },
    });
    expect(run.got).toEqual(want);
    expect(source.stats.restarts).toBe(1);
    expect(warnings.join("\n")).toContain("journalctl exited with signal SIGKILL");
  });

  test("a journalctl that cannot start is reported and retried, not thrown", async () => {
    const warnings: string[] = [];
    const source = new JournalSource({
      after: "s=bogus",
      matches: null,
      journalctl: "/nonexistent/journalctl",
      log: { ...quiet, warn: (m: string) => warnings.push(m) },
      backoffInitialMs: 50,
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 400);
    for await (const _ of source.batches(controller.signal)) {
      // nothing can come
    }
    expect(source.stats.restarts).toBeGreaterThanOrEqual(2);
    expect(source.stats.lastError).toContain("/nonexistent/journalctl");
    expect(warnings[0]).toContain("restarting it in");
  });
});
