import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JournalSource } from "../../src/sources/journal.ts";

// A first start pins the journal's end with a probe (journalctl --show-cursor) before it
// follows. A line logged after the daemon started but before that probe ran is the journal's
// end by then: following from that cursor (which skips the cursor's own entry) lost it. This
// stand-in journalctl plays that race: the probe's cursor is of a line that came after the start.

const dir = mkdtempSync(join(tmpdir(), "logtriage-first-start-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fakeJournalctl = join(dir, "journalctl");
writeFileSync(
  fakeJournalctl,
  `#!/bin/sh
marker='{"__CURSOR":"s=marker","__REALTIME_TIMESTAMP":"1700000000000000","_TRANSPORT":"journal","SYSLOG_IDENTIFIER":"t","MESSAGE":"marker before"}'
case " $* " in
  *" --show-cursor "*) echo "-- cursor: s=marker" ;;
  *" --cursor=s=marker "*) echo "$marker"; exec sleep 1000 ;;
  *" --since="*) echo "$marker"; exec sleep 1000 ;;
  *) exec sleep 1000 ;;
esac
`,
);
chmodSync(fakeJournalctl, 0o755);

test("a first start reads a line logged while it was pinning the journal's end", async () => {
  const source = new JournalSource({ after: null, matches: null, journalctl: fakeJournalctl, log: { debug() {}, info() {}, warn() {} } });
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 3_000);
  const messages: string[] = [];
  const positions: (string | null)[] = [];
  for await (const batch of source.batches(controller.signal)) {
    positions.push(batch.position);
    for (const entry of batch.entries) messages.push(entry.message);
    if (messages.length > 0) controller.abort();
  }
  clearTimeout(timer);
  expect(messages).toEqual(["marker before"]);
  // The pinned cursor is committed first (a restart before any line resumes there), then the line's own.
  expect(positions).toEqual(["s=marker", "s=marker"]);
});
