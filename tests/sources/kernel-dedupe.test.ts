import { describe, expect, test } from "bun:test";
import type { Entry } from "../../src/event.ts";
import {
  decideJournalCopy,
  KernelLedger,
  parseCoverage,
  planFastPath,
  serializeCoverage,
  withJournalLedger,
  withKmsgLedger,
} from "../../src/sources/kernel-dedupe.ts";
import { parseKmsgRecord } from "../../src/parse/kmsg.ts";
import { newSourceStats, type Source, type SourceBatch } from "../../src/sources/source.ts";

const BOOT = "2723e04c-26bb-402a-aad6-492f0c317071";
const BOOT_J = "2723e04c26bb402aaad6492f0c317071";

function kmsgEntry(seq: number, us: number): Entry {
  return parseKmsgRecord(`6,${seq},${us},-;line ${seq}`, BOOT) as Entry;
}

function journalKernelEntry(us: number, bootId = BOOT_J): Entry {
  return {
    ...kmsgEntry(0, us),
    origin: "journal",
    cursor: `s=x;i=${us}`,
    bootId,
    fields: { _SOURCE_MONOTONIC_TIMESTAMP: String(us), _BOOT_ID: bootId, _TRANSPORT: "kernel" },
  };
}

function sourceOf(batches: SourceBatch[]): Source {
  const stats = newSourceStats();
  stats.running = true;
  return {
    name: "kmsg",
    stats,
    async *batches() {
      for (const b of batches) yield b;
    },
  };
}

async function collect(source: Source): Promise<SourceBatch[]> {
  const out: SourceBatch[] = [];
  for await (const b of source.batches(new AbortController().signal)) out.push(b);
  return out;
}

/** The kmsg path reads and commits `records` ([seq, µs]) as one batch. */
async function kmsgCommits(ledger: KernelLedger, records: [number, number][]): Promise<void> {
  const position = `kmsg:${BOOT}:${records.at(-1)?.[0]}`;
  await collect(withKmsgLedger(sourceOf([{ entries: records.map(([s, u]) => kmsgEntry(s, u)), position }]), ledger));
  ledger.kmsgRow(position);
  ledger.kmsgCommitted(position);
}

describe("the kernel ledger: which path stores a kernel record", () => {
  test("a record the kmsg path committed is dropped from the journal; one it lost (a seq gap) is kept", async () => {
    const ledger = new KernelLedger({ bootId: BOOT, savedCoverage: null, savedClaim: null });
    // seq 11..12 were overwritten before the kmsg path read them.
    await kmsgCommits(ledger, [
      [10, 1000],
      [13, 1300],
      [14, 1400],
    ]);
    expect(ledger.journalDecision(journalKernelEntry(1000))).toBe("drop");
    expect(ledger.journalDecision(journalKernelEntry(1100))).toBe("keep");
    expect(ledger.journalDecision(journalKernelEntry(1200))).toBe("keep");
    expect(ledger.journalDecision(journalKernelEntry(1400))).toBe("drop");
    // Newer than anything the kmsg path decided on, on the running boot: wait for it.
    expect(ledger.journalDecision(journalKernelEntry(1500))).toBe("wait");
    // Another boot's record the kmsg path never saw: the journal's.
    expect(ledger.journalDecision(journalKernelEntry(1500, "0".repeat(32)))).toBe("keep");
  });

  test("read but not committed: the journal waits (a kill -9 now would have the kmsg path read it again)", async () => {
    const ledger = new KernelLedger({ bootId: BOOT, savedCoverage: null, savedClaim: null });
    await collect(withKmsgLedger(sourceOf([{ entries: [kmsgEntry(5, 500)], position: `kmsg:${BOOT}:5` }]), ledger));
    expect(ledger.journalDecision(journalKernelEntry(500))).toBe("wait");
    ledger.kmsgCommitted(`kmsg:${BOOT}:5`);
    expect(ledger.journalDecision(journalKernelEntry(500))).toBe("drop");
  });

  test("a first start at the tail: what was in the buffer before is the journal's", async () => {
    const ledger = new KernelLedger({ bootId: BOOT, savedCoverage: null, savedClaim: null });
    ledger.kmsgTail(2000);
    ledger.kmsgBatchEnd(`kmsg:${BOOT}:20`);
    ledger.kmsgCommitted(`kmsg:${BOOT}:20`);
    expect(ledger.journalDecision(journalKernelEntry(1999))).toBe("keep");
    expect(ledger.journalDecision(journalKernelEntry(2001))).toBe("wait");
  });

  test("the saved row restores what was committed (a restart after kill -9)", async () => {
    const first = new KernelLedger({ bootId: BOOT, savedCoverage: null, savedClaim: null });
    await kmsgCommits(first, [
      [1, 100],
      [2, 200],
    ]);
    const row = first.kmsgRow(`kmsg:${BOOT}:2`).position;
    const second = new KernelLedger({ bootId: BOOT, savedCoverage: row, savedClaim: null });
    expect(second.journalDecision(journalKernelEntry(150))).toBe("drop");
    expect(second.journalDecision(journalKernelEntry(250))).toBe("wait");
    expect(serializeCoverage(parseCoverage(row))).toBe(row);
    expect(parseCoverage("not json").size).toBe(0);
  });

  test("the kmsg reader down: the journal takes the record and the kmsg path skips it later", async () => {
    const ledger = new KernelLedger({ bootId: BOOT, savedCoverage: null, savedClaim: null });
    await kmsgCommits(ledger, [[1, 100]]);
    const journal = sourceOf([{ entries: [journalKernelEntry(300)], position: "s=x;i=300" }]);
    const kept = await collect(withJournalLedger(journal, ledger, { kmsgRunning: () => false }));
    expect(kept[0]?.entries.length).toBe(1);
    expect(ledger.journalRow()?.position).toBe(`${BOOT_J}:300`);
    const later = await collect(
      withKmsgLedger(sourceOf([{ entries: [kmsgEntry(2, 300), kmsgEntry(3, 400)], position: `kmsg:${BOOT}:3` }]), ledger),
    );
    expect(later[0]?.entries.map((e) => e.monotonicUs)).toEqual([400]);
    // The skipped record breaks the run, so the journal's copy of it stays the one stored.
    ledger.kmsgCommitted(`kmsg:${BOOT}:3`);
    expect(ledger.journalDecision(journalKernelEntry(300))).toBe("keep");
    expect(ledger.journalDecision(journalKernelEntry(400))).toBe("drop");
  });

  test("a waiting journal entry is released by the kmsg path's commit", async () => {
    const ledger = new KernelLedger({ bootId: BOOT, savedCoverage: null, savedClaim: null });
    await kmsgCommits(ledger, [[1, 100]]);
    const journal = sourceOf([
      { entries: [journalKernelEntry(200), { ...journalKernelEntry(0), transport: "journal" }], position: "s=x;i=200" },
    ]);
    const reading = collect(withJournalLedger(journal, ledger, { kmsgRunning: () => true, maxWaitMs: 10_000 }));
    await kmsgCommits(ledger, [[2, 200]]);
    const out = await reading;
    expect(out[0]?.entries.map((e) => e.transport)).toEqual(["journal"]);
    expect(ledger.counters.journalDropped).toBe(1);
  });

  test("pure decisions and the plan", () => {
    expect(decideJournalCopy(new Map(), BOOT_J, 5, BOOT_J)).toBe("wait");
    expect(decideJournalCopy(new Map(), BOOT_J, 5, null)).toBe("keep");
    expect(planFastPath("auto", "journal", null).on).toBe(true);
    expect(planFastPath("journal", "journal", null).on).toBe(false);
    expect(
      planFastPath("auto", "journal", "/dev/kmsg is not readable by this user (kernel.dmesg_restrict=1): run as root or use the journal")
        .reason,
    ).toContain("dmesg_restrict");
    expect(planFastPath("auto", "kmsg", null).on).toBe(false);
  });
});

test("a kmsg path that stops committing costs one wait, not one per record", async () => {
  const ledger = new KernelLedger({ bootId: BOOT, savedCoverage: null, savedClaim: null });
  await kmsgCommits(ledger, [[1, 100]]);
  const journal = sourceOf([
    { entries: [journalKernelEntry(200), journalKernelEntry(300), journalKernelEntry(400)], position: "s=x;i=400" },
  ]);
  const out = await collect(withJournalLedger(journal, ledger, { kmsgRunning: () => true, maxWaitMs: 200 }));
  expect(out[0]?.entries.length).toBe(3);
  expect(ledger.counters.journalClaimed).toBe(3);
  // The first record waited and ran out; the two after it did not wait.
  expect(ledger.counters.journalWaitsTimedOut).toBe(1);
});
