import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cursorRealtimeUs, JournalSource } from "../../src/sources/journal.ts";

// The blindness check needs a journalctl that hangs while the journal moves on, which a real
// one will not do on demand: this stand-in script follows journalctl's command line. With
// --follow it prints nothing and never exits (a wedged follower); without it (the probe) it
// prints one entry newer than anything the follower delivered.

const dir = mkdtempSync(join(tmpdir(), "logtriage-stall-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fakeJournalctl = join(dir, "journalctl");
writeFileSync(
  fakeJournalctl,
  `#!/bin/sh
case " $* " in
  *" --follow "*) exec sleep 1000 ;;
  *) echo '{"__CURSOR":"s=newer","__REALTIME_TIMESTAMP":"1000000","MESSAGE":"x"}' ;;
esac
`,
);
chmodSync(fakeJournalctl, 0o755);

test("a follower that goes quiet while the journal has newer entries is restarted, and says why", async () => {
  const warnings: string[] = [];
  const source = new JournalSource({
    after: "s=older",
    matches: null,
    journalctl: fakeJournalctl,
    log: { debug() {}, info() {}, warn: (m: string) => warnings.push(m) },
    stallCheckMs: 200,
    backoffInitialMs: 50,
  });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 1_500);
  for await (const _ of source.batches(controller.signal)) {
    // the wedged follower yields nothing
  }
  expect(source.stats.restarts).toBeGreaterThanOrEqual(1);
  expect(warnings[0]).toContain("journalctl stopped delivering entries the journal holds (stalled)");
});

test("a quiet follower that is caught up is left alone", async () => {
  const source = new JournalSource({
    after: "s=newer",
    matches: null,
    journalctl: fakeJournalctl,
    log: { debug() {}, info() {}, warn() {} },
    stallCheckMs: 200,
  });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 1_000);
  for await (const _ of source.batches(controller.signal)) {
    // nothing
  }
  expect(source.stats.restarts).toBe(0);
});

// journalctl killed mid-record leaves a cut line whose __CURSOR may be complete. Seen in CI:
// one line of 200 lost when the source resumed after that cursor.
const cutJournalctl = join(dir, "journalctl-cut");
writeFileSync(
  cutJournalctl,
  `#!/bin/sh
line() { printf '{"__CURSOR":"s=%s","__REALTIME_TIMESTAMP":"1700000000000000","_TRANSPORT":"journal","SYSLOG_IDENTIFIER":"t","MESSAGE":"line %s"}' "$1" "$1"; }
case " $* " in
  *" --cursor=s=0 "*) line 1; echo; printf '{"__CURSOR":"s=2","MESSAGE":"li'; exit 1 ;;
  *" --cursor=s=1 "*) line 1; echo; line 2; echo; exec sleep 1000 ;;
  *) exec sleep 1000 ;;
esac
`,
);
chmodSync(cutJournalctl, 0o755);

test("a record cut off by journalctl's death is not counted as read: the restart prints it again", async () => {
  const source = new JournalSource({
    after: "s=0",
    matches: null,
    journalctl: cutJournalctl,
    log: { debug() {}, info() {}, warn() {} },
    backoffInitialMs: 20,
  });
  const controller = new AbortController();
  const messages: string[] = [];
  setTimeout(() => controller.abort(), 3_000);
  for await (const batch of source.batches(controller.signal)) {
    for (const e of batch.entries) messages.push(e.message);
    if (messages.length === 2) controller.abort();
  }
  expect(messages).toEqual(["line 1", "line 2"]);
  expect(source.stats.malformed).toBe(0);
});

// A busy journal: the newest entry is always a fresh one, so the probe asks for the newest entry
// at least 5 s old (--reverse --until) and compares its time with the last entry read (the
// cursor's t= field). This stand-in answers the probe with an entry later than the follower's
// position, as the journal does when other programs keep logging past a wedged follower.
const busyJournalctl = join(dir, "journalctl-busy");
writeFileSync(
  busyJournalctl,
  `#!/bin/sh
case " $* " in
  *" --follow "*) exec sleep 1000 ;;
  *" --reverse "*"--until=@"*) echo '{"__CURSOR":"s=a;i=9;t=5f5e100a","__REALTIME_TIMESTAMP":"1600000010","MESSAGE":"x"}' ;;
  *) echo '{"__CURSOR":"s=a;i=99;t=ffffffffff","__REALTIME_TIMESTAMP":"1099511627775","MESSAGE":"fresh"}' ;;
esac
`,
);
chmodSync(busyJournalctl, 0o755);

test("a cursor's realtime is its t= field", () => {
  expect(
    cursorRealtimeUs(
      "s=4e46dc0c6ab249479a1a03d859e60c2a;i=ff140;b=2723e04c26bb402aaad6492f0c317071;m=14bcaf814;t=661ee2c32dac9;x=b66b3a1f9d3b7334",
    ),
  ).toBe(0x661ee2c32dac9);
  expect(cursorRealtimeUs("s=older")).toBeNull();
});

async function runWith(
  after: string,
  options: { stallCheckMs?: number; restartAfterMs?: number },
  until: (source: JournalSource, warnings: string[]) => boolean,
): Promise<{ source: JournalSource; warnings: string[] }> {
  const warnings: string[] = [];
  const source = new JournalSource({
    after,
    matches: null,
    journalctl: busyJournalctl,
    log: { debug() {}, info() {}, warn: (m: string) => void warnings.push(m) },
    ...(options.stallCheckMs === undefined ? {} : { stallCheckMs: options.stallCheckMs }),
    backoffInitialMs: 50,
  });
  const controller = new AbortController();
  const reading = (async () => {
    for await (const _ of source.batches(controller.signal)) {
      // the wedged follower yields nothing
    }
  })();
  if (options.restartAfterMs !== undefined) {
    await waitFor(() => source.childPid !== null, 5_000);
    source.restartReader("journald is back (pid 1)");
  }
  await waitFor(() => until(source, warnings), 15_000).catch(() => {});
  controller.abort();
  await reading;
  return { source, warnings };
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await Bun.sleep(20);
  }
}

test("on a busy journal, an entry older than 5 s past the position means a stall", async () => {
  // Position at t=0x5f5e1000 (1600000000 µs), before the probe's entry.
  const { source, warnings } = await runWith("s=a;i=8;t=5f5e1000", { stallCheckMs: 200 }, (s) => s.stats.restarts >= 1);
  expect(source.stats.restarts).toBeGreaterThanOrEqual(1);
  expect(warnings[0]).toContain("(stalled)");
});

test("on a busy journal, a follower past the newest 5-s-old entry is left alone although newer entries exist", async () => {
  const probes: number[] = [];
  const { source } = await runWith("s=a;i=9;t=5f5e100b", { stallCheckMs: 200 }, (s) => (probes.push(s.stats.restarts), probes.length > 60));
  expect(source.stats.restarts).toBe(0);
});

test("after journald came back, the reader is checked within seconds, not after the 10-minute quiet period", async () => {
  const { source, warnings } = await runWith("s=a;i=8;t=5f5e1000", { restartAfterMs: 0 }, (_s, w) =>
    w.some((line) => line.includes("(stalled)")),
  );
  expect(warnings[0]).toContain("journald is back (pid 1)");
  expect(warnings.some((line) => line.includes("(stalled)"))).toBe(true);
  expect(source.stats.restarts).toBeGreaterThanOrEqual(1);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// A follower that delivers one entry and then nothing, while the journal holds a newer one.
const oneThenWedged = join(dir, "journalctl-one");
writeFileSync(
  oneThenWedged,
  `#!/bin/sh
case " $* " in
  *" --follow "*) echo '{"__CURSOR":"s=first","__REALTIME_TIMESTAMP":"500000","MESSAGE":"x"}'; exec sleep 1000 ;;
  *) echo '{"__CURSOR":"s=newer","__REALTIME_TIMESTAMP":"1000000","MESSAGE":"x"}' ;;
esac
`,
);
chmodSync(oneThenWedged, 0o755);

test("while the pipeline works on a batch, journalctl is not silent: no stall is seen until it asks for more", async () => {
  const source = new JournalSource({
    after: "s=older",
    matches: null,
    journalctl: oneThenWedged,
    log: { debug() {}, info() {}, warn() {} },
    stallCheckMs: 200,
    backoffInitialMs: 50,
  });
  const controller = new AbortController();
  const aliveAfterBusy: boolean[] = [];
  let batches = 0;
  for await (const _ of source.batches(controller.signal)) {
    batches++;
    if (batches === 1) {
      const follower = source.childPid as number;
      // A slow commit: ten stall periods long. The follower must not be killed meanwhile.
      await Bun.sleep(2_000);
      aliveAfterBusy.push(isAlive(follower));
      // Asking for more now: the wedged follower is a stall after its own quiet period.
      const deadline = Date.now() + 5_000;
      void (async () => {
        while (source.stats.restarts === 0 && Date.now() < deadline) await Bun.sleep(20);
        controller.abort();
      })();
    }
  }
  expect(aliveAfterBusy).toEqual([true]);
  expect(source.stats.restarts).toBeGreaterThanOrEqual(1);
});
