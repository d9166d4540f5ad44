import { expect, test } from "bun:test";
import { settleAfterBursts, trimAfterBurst } from "../../src/daemon/settle.ts";

test("after a burst and a quiet spell the memory is trimmed once; no burst trims nothing", async () => {
  let entries = 0;
  const trims: number[] = [];
  const timer = settleAfterBursts({
    entriesRead: () => entries,
    burstEntries: 1000,
    quietMs: 20,
    trickleRate: 0,
    minGapMs: 0,
    relockAfterMs: 0,
    onTrim: (_r, n) => trims.push(n),
  });
  try {
    entries = 500;
    await Bun.sleep(100);
    expect(trims).toEqual([]);
    entries = 5000;
    // The burst just happened: not quiet yet at the next look, quiet at the one after.
    const deadline = Date.now() + 2000;
    while (trims.length === 0 && Date.now() < deadline) await Bun.sleep(10);
    expect(trims).toEqual([5000]);
    await Bun.sleep(100);
    expect(trims).toEqual([5000]);
  } finally {
    clearInterval(timer);
  }
});

test("the trim runs on the real libc: every mapping of the executable advised (Linux 5.4+)", async () => {
  const r = await trimAfterBurst(0);
  expect(r.error).toBeNull();
  expect(r.ranges).toBeGreaterThan(0);
});

test("the caches are released before the trim; a release that fails is reported, the trim still runs", async () => {
  let released = 0;
  const ok = await trimAfterBurst(0, () => released++);
  expect(released).toBe(1);
  expect(ok.error).toBeNull();
  const failed = await trimAfterBurst(0, () => {
    throw new Error("database is locked");
  });
  expect(failed.error).toBe("caches not released: database is locked");
  expect(failed.ranges).toBeGreaterThan(0);
});
