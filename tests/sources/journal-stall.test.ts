import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JournalSource } from "../../src/sources/journal.ts";

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
