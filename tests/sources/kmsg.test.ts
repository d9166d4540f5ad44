import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bundleForOtherUsers, copyForOtherUsers } from "../_other-user.ts";
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry } from "../../src/event.ts";
import {
  createKmsgSource,
  isKmsgReadable,
  lostBetween,
  parseBootRealtimeUs,
  parseKmsgPosition,
  planKmsgStart,
  recordSeq,
  type KmsgSourceOptions,
} from "../../src/sources/kmsg.ts";
import type { Source, SourceBatch } from "../../src/sources/source.ts";

// These tests read and write the machine's real /dev/kmsg: writing "<3>name[pid]: text\n" to
// it as root adds a userspace record (facility LOG_USER) to the kernel's ring buffer. Other
// processes may log at the same time, so every assertion looks only at records carrying this
// run's tag. Two tests overwrite the oldest records of the ring buffer on purpose (see there).

const DEVICE = "/dev/kmsg";
const isRoot = process.getuid?.() === 0;
const canUseKmsg = isRoot && existsSync(DEVICE);
// Said once, so a skipped run is not mistaken for a passing one.
const skipReason = !isRoot
  ? "not root (only root may write test records to /dev/kmsg)"
  : !existsSync(DEVICE)
    ? `${DEVICE} does not exist`
    : null;
if (skipReason !== null) console.warn(`tests/sources/kmsg.test.ts: live /dev/kmsg tests skipped: ${skipReason}`);
const IDENTIFIER = "lt-kmsg-test";
const RUN = Math.random().toString(36).slice(2, 10);
const POLL_MS = 20;
const BOOT_ID = canUseKmsg ? readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() : "";

let seqCounter = 0;

/** Write one record; a fresh open each time, since /dev/kmsg rate-limits writes per open file. */
function writeMarker(label: string, level = 3): string {
  const text = `marker-${RUN}-${label}-${seqCounter++}`;
  writeFileSync(DEVICE, `<${level}>${IDENTIFIER}[${process.pid}]: ${text}\n`);
  return text;
}

function ours(entries: Entry[]): string[] {
  return entries.filter((e) => e.identifier === IDENTIFIER && e.message.startsWith(`marker-${RUN}-`)).map((e) => e.message);
}

interface Logged {
  warn: string[];
  info: string[];
  debug: string[];
}

function recorder(): { log: KmsgSourceOptions["log"]; logged: Logged } {
  const logged: Logged = { warn: [], info: [], debug: [] };
  return {
    logged,
    log: { warn: (m) => logged.warn.push(m), info: (m) => logged.info.push(m), debug: (m) => logged.debug.push(m) },
  };
}

/** Pulls batches by hand, so a test decides when the source reads (and when it falls behind). */
class Puller {
  readonly controller = new AbortController();
  readonly iterator: AsyncIterator<SourceBatch>;
  readonly entries: Entry[] = [];
  position: string | null = null;
  private pending: Promise<IteratorResult<SourceBatch>> | null = null;

  constructor(readonly source: Source) {
    this.iterator = source.batches(this.controller.signal)[Symbol.asyncIterator]();
  }

  /** The next batch, or null when none came within timeoutMs (the read stays pending). */
  async next(timeoutMs = 5000): Promise<SourceBatch | null> {
    this.pending ??= this.iterator.next();
    const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), timeoutMs));
    const r = await Promise.race([this.pending, timeout]);
    if (r === "timeout") return null;
    this.pending = null;
    if (r.done) throw new Error("source ended before abort");
    this.entries.push(...r.value.entries);
    this.position = r.value.position;
    return r.value;
  }

  /** Read until `done` holds for our markers, then `settleMs` more to catch duplicates. */
  async until(done: (markers: string[]) => boolean, settleMs = POLL_MS * 5, timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (!done(ours(this.entries))) {
      if (Date.now() > deadline) throw new Error(`timed out; markers so far: ${ours(this.entries).join(", ")}`);
      await this.next(deadline - Date.now());
    }
    const settleUntil = Date.now() + settleMs;
    while (Date.now() < settleUntil) await this.next(Math.max(1, settleUntil - Date.now()));
    return ours(this.entries);
  }

  async stop(): Promise<void> {
    this.controller.abort();
    const r = await (this.pending ?? this.iterator.next());
    this.pending = null;
    if (!r.done) await this.iterator.return?.();
  }
}

/** File descriptors of this process that point at `path`. */
function openFdsTo(path: string): number {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      // The fd readdir itself used is gone by the time we look.
      return false;
    }
  }).length;
}

/** Seq of the oldest record the ring buffer still holds (a fresh open starts there). */
function oldestSeq(): number {
  const fd = openSync(DEVICE, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buffer = Buffer.alloc(8192);
    const n = readSync(fd, buffer, 0, buffer.length, null);
    const seq = recordSeq(buffer.toString("latin1", 0, n));
    if (seq === null) throw new Error("unreadable first record");
    return seq;
  } finally {
    closeSync(fd);
  }
}

/** Write filler records until the record with `seq` is no longer in the ring buffer. */
function overwriteThrough(seq: number): number {
  let written = 0;
  // ~850-byte records: a 128 KiB buffer (CONFIG_LOG_BUF_SHIFT=17) wraps after ~150 of them.
  while (oldestSeq() <= seq) {
    if (written > 100_000) throw new Error("ring buffer never wrapped");
    writeMarker(`filler-${"f".repeat(800)}`, 7);
    written++;
  }
  return written;
}

describe("kmsg pure helpers", () => {
  test("positions parse; anything else is null", () => {
    expect(parseKmsgPosition("kmsg:1b4e28ba-2fa1-11d2-883f-0016d3cca427:42")).toEqual({
      bootId: "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
      seq: 42,
    });
    expect(parseKmsgPosition("kmsg:unknown:0")).toEqual({ bootId: "unknown", seq: 0 });
    expect(parseKmsgPosition("s=abc;i=1")).toBeNull();
    expect(parseKmsgPosition("kmsg:boot:-1")).toBeNull();
    expect(parseKmsgPosition("kmsg:boot:99999999999999999999")).toBeNull();
  });

  test("start plan: first start, resume, other boot, unknown boot, malformed", () => {
    expect(planKmsgStart(null, "b1")).toEqual({ kind: "tail", malformed: false });
    expect(planKmsgStart("kmsg:b1:7", "b1")).toEqual({ kind: "resume", afterSeq: 7 });
    expect(planKmsgStart("kmsg:b0:7", "b1")).toEqual({ kind: "other-boot", previousBootId: "b0" });
    expect(planKmsgStart("kmsg:unknown:7", "b1")).toEqual({ kind: "other-boot", previousBootId: "unknown" });
    expect(planKmsgStart("kmsg:b1:7", null)).toEqual({ kind: "other-boot", previousBootId: "b1" });
    expect(planKmsgStart("garbage", "b1")).toEqual({ kind: "tail", malformed: true });
  });

  // The EPIPE gap is also provoked for real below; this pins the arithmetic.
  test("lost records between two seqs", () => {
    expect(lostBetween(10, 11)).toBe(0);
    expect(lostBetween(10, 15)).toBe(4);
    expect(lostBetween(-1, 0)).toBe(0);
    expect(lostBetween(-1, 223)).toBe(223);
    expect(lostBetween(10, 10)).toBe(0);
  });

  test("record seq and boot wall clock", () => {
    expect(recordSeq("6,1234,5678901234,-;python3[4215]: segfault at 0")).toBe(1234);
    expect(recordSeq("not a record")).toBeNull();
    expect(parseBootRealtimeUs("350735.47 1371852.80\n", 1_700_000_000_000)).toBe(1_700_000_000_000_000 - 350_735_470_000);
    expect(parseBootRealtimeUs("", 1)).toBeNull();
    expect(parseBootRealtimeUs("garbage 1.0\n", 1)).toBeNull();
  });
});

describe("isKmsgReadable", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "lt-kmsg-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("a missing device names the path and the way out", () => {
    const path = join(dir, "no-such-kmsg");
    expect(isKmsgReadable(path)).toBe(
      `${path} does not exist (no kernel log device here, e.g. a container without /dev/kmsg): use the journal`,
    );
  });

  test.skipIf(!canUseKmsg)("/dev/kmsg is readable as root", () => {
    expect(isKmsgReadable()).toBeNull();
  });

  // Permission errors need an unprivileged process: root ignores file modes and holds
  // CAP_SYSLOG. setpriv drops to nobody (and with it every capability) for a one-line probe.
  const setpriv = Bun.which("setpriv");
  async function probeAsNobody(path: string): Promise<string | null> {
    // The module and bun itself from a world-readable copy: the clone may be in a 0700 folder.
    const module = await bundleForOtherUsers(join(import.meta.dir, "../../src/sources/kmsg.ts"));
    const script = `import { isKmsgReadable } from ${JSON.stringify(module)}; console.log(JSON.stringify(isKmsgReadable(${JSON.stringify(path)})));`;
    const p = Bun.spawnSync(
      [setpriv as string, "--reuid=65534", "--regid=65534", "--clear-groups", copyForOtherUsers(process.execPath), "-e", script],
      { cwd: "/", env: { HOME: dir, PATH: process.env["PATH"] ?? "/usr/bin:/bin" }, stdout: "pipe", stderr: "pipe" },
    );
    if (p.exitCode !== 0) throw new Error(`probe failed: ${p.stderr.toString()}`);
    return JSON.parse(p.stdout.toString()) as string | null;
  }

  test.skipIf(!isRoot || setpriv === null)("a file this user may not read: file permissions", async () => {
    const path = join(dir, "kmsg-000");
    writeFileSync(path, "");
    chmodSync(path, 0o000);
    chmodSync(dir, 0o755);
    expect(await probeAsNobody(path)).toBe(`${path} is not readable by this user (file permissions): run as root or use the journal`);
  });

  test.skipIf(!canUseKmsg || setpriv === null)("/dev/kmsg for an unprivileged user follows kernel.dmesg_restrict", async () => {
    const restricted = readFileSync("/proc/sys/kernel/dmesg_restrict", "utf8").trim() === "1";
    expect(await probeAsNobody(DEVICE)).toBe(
      restricted ? "/dev/kmsg is not readable by this user (kernel.dmesg_restrict=1): run as root or use the journal" : null,
    );
  });
});

describe.skipIf(!canUseKmsg)("kmsg source on the real /dev/kmsg (root)", () => {
  function source(after: string | null, extra: Partial<KmsgSourceOptions> = {}) {
    const { log, logged } = recorder();
    const s = createKmsgSource({ after, pollIntervalMs: POLL_MS, log, ...extra });
    return { source: s, logged, puller: new Puller(s) };
  }

  test("first start yields only records written after it, and reports the tail position at once", async () => {
    const before = writeMarker("before");
    const { source: s, puller, logged } = source(null);
    const first = await puller.next();
    expect(first?.entries).toEqual([]);
    const tail = parseKmsgPosition(first?.position ?? "");
    expect(tail?.bootId).toBe(BOOT_ID);
    const after = writeMarker("after");
    const markers = await puller.until((m) => m.includes(after));
    await puller.stop();
    expect(markers).toEqual([after]);
    expect(markers).not.toContain(before);
    const entry = puller.entries.find((e) => e.message === after);
    expect(entry?.priority).toBe(3);
    expect(entry?.pid).toBe(process.pid);
    expect(entry?.bootId).toBe(BOOT_ID);
    // Wall clock from /proc/uptime: within a few seconds of now (uptime has 10 ms resolution).
    expect(Math.abs((entry?.realtimeUs ?? 0) - Date.now() * 1000)).toBeLessThan(5_000_000);
    expect(Number(parseKmsgPosition(entry?.cursor ?? "")?.seq)).toBeGreaterThan(tail?.seq ?? Infinity);
    expect(s.stats.recordsRead).toBeGreaterThanOrEqual(1);
    expect(s.stats.lastReadUs).not.toBeNull();
    expect(logged.warn).toEqual([]);
  });

  test("resuming from a saved position yields exactly the records after it, in order, once", async () => {
    const first = source(null);
    await first.puller.next();
    const early = [writeMarker("n1"), writeMarker("n2"), writeMarker("n3")];
    expect(await first.puller.until((m) => m.length >= 3)).toEqual(early);
    await first.puller.stop();
    const saved = first.puller.position;
    expect(saved).not.toBeNull();

    const late = [writeMarker("m1"), writeMarker("m2")];
    const second = source(saved);
    expect(await second.puller.until((m) => m.length >= 2)).toEqual(late);
    await second.puller.stop();
    const seqs = second.puller.entries.map((e) => Number(e.fields["_KMSG_SEQ"]));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs[0]).toBe((parseKmsgPosition(saved ?? "")?.seq ?? NaN) + 1);
    expect(second.logged.warn).toEqual([]);
  });

  test("a position from another boot reads this boot's whole buffer", async () => {
    const earlier = writeMarker("other-boot");
    const oldest = oldestSeq();
    const { source: s, puller, logged } = source("kmsg:00000000-0000-0000-0000-000000000000:999999");
    await puller.until((m) => m.includes(earlier));
    await puller.stop();
    expect(Number(puller.entries[0]?.fields["_KMSG_SEQ"])).toBe(oldest);
    expect(logged.info.some((m) => m.includes("from boot 00000000-0000-0000-0000-000000000000"))).toBe(true);
    // Records of this boot older than the oldest one left were overwritten unread.
    expect(s.stats.lost).toBe(oldest);
  });

  test("a malformed position warns and starts at the end", async () => {
    const earlier = writeMarker("malformed-before");
    const { puller, logged } = source("s=journal-cursor;i=42");
    expect((await puller.next())?.entries).toEqual([]);
    const later = writeMarker("malformed-after");
    expect(await puller.until((m) => m.includes(later))).toEqual([later]);
    await puller.stop();
    expect(puller.entries.some((e) => e.message === earlier)).toBe(false);
    expect(logged.warn).toEqual([
      'kmsg: saved position "s=journal-cursor;i=42" is not kmsg:<boot id>:<seq>; starting at the end of the kernel log',
    ]);
  });

  test("abort ends the iterator within a second and closes the device", async () => {
    // Earlier tests' sources are stopped, but Bun may still be closing its copy of their
    // wake-up fd (see below).
    const settleBy = performance.now() + 1000;
    while (openFdsTo(DEVICE) !== 0 && performance.now() < settleBy) await Bun.sleep(5);
    const fdsBefore = openFdsTo(DEVICE);
    const { puller } = source(null, { pollIntervalMs: 60_000 });
    await puller.next();
    expect(openFdsTo(DEVICE)).toBe(fdsBefore + 1);
    // The source now sleeps in its 60 s poll wait.
    const pending = puller.iterator.next();
    await Bun.sleep(50);
    const t0 = performance.now();
    puller.controller.abort();
    const r = await pending;
    const elapsedMs = performance.now() - t0;
    expect(r.done).toBe(true);
    expect(elapsedMs).toBeLessThan(1000);
    // The wake-up open is streamed by Bun, which closes its own copy of that fd on its I/O
    // thread just after the stream is cancelled.
    const closeBy = performance.now() + 1000;
    while (openFdsTo(DEVICE) !== fdsBefore && performance.now() < closeBy) await Bun.sleep(5);
    expect(openFdsTo(DEVICE)).toBe(fdsBefore);
  });

  // Overwrites the oldest records of the ring buffer, as a long burst of kernel messages would.
  test("a stale position older than the buffer counts the overwritten records as lost", async () => {
    const { puller: probe } = source(null);
    const tail = parseKmsgPosition((await probe.next())?.position ?? "");
    await probe.stop();
    if (tail === null) throw new Error("no tail position");
    overwriteThrough(tail.seq + 1);
    const marker = writeMarker("stale");
    const oldest = oldestSeq();
    const { source: s, puller, logged } = source(`kmsg:${BOOT_ID}:${tail.seq}`);
    await puller.until((m) => m.includes(marker));
    await puller.stop();
    expect(Number(puller.entries[0]?.fields["_KMSG_SEQ"])).toBe(oldest);
    expect(s.stats.lost).toBe(oldest - tail.seq - 1);
    expect(s.stats.lost).toBeGreaterThan(0);
    expect(logged.warn).toEqual([
      `kmsg: lost ${oldest - tail.seq - 1} kernel log record(s) (seq ${tail.seq + 1}…${oldest - 1}): the ring buffer overwrote them before logtriage read them`,
    ]);
  });

  // A real EPIPE: the source holds the device open at its tail but is not pulled while the
  // ring buffer wraps past its position, exactly what a stalled pipeline under a storm sees.
  test("falling behind the ring buffer (EPIPE) counts the gap, warns once and reads on", async () => {
    const { source: s, puller, logged } = source(null);
    const tail = parseKmsgPosition((await puller.next())?.position ?? "");
    if (tail === null) throw new Error("no tail position");
    overwriteThrough(tail.seq + 1);
    const marker = writeMarker("after-epipe");
    await puller.until((m) => m.includes(marker));
    await puller.stop();
    const firstSeq = Number(puller.entries[0]?.fields["_KMSG_SEQ"]);
    expect(firstSeq).toBeGreaterThan(tail.seq + 1);
    expect(s.stats.lost).toBe(firstSeq - tail.seq - 1);
    expect(logged.debug.some((m) => m.startsWith(`kmsg: read() gave EPIPE after seq ${tail.seq}`))).toBe(true);
    expect(logged.warn).toEqual([
      `kmsg: lost ${firstSeq - tail.seq - 1} kernel log record(s) (seq ${tail.seq + 1}…${firstSeq - 1}): logtriage fell behind and the ring buffer overwrote them`,
    ]);
    expect(s.stats.restarts).toBe(0);
  });

  test("a device that cannot be opened is retried with backoff until it appears", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lt-kmsg-"));
    try {
      const path = join(dir, "kmsg");
      const { source: s, puller, logged } = source(null, { devicePath: path, backoffInitialMs: 10, backoffMaxMs: 40 });
      // No batch while the device is missing; the iterator keeps retrying instead of throwing.
      expect(await puller.next(300)).toBeNull();
      expect(s.stats.restarts).toBeGreaterThanOrEqual(2);
      expect(s.stats.lastError).toBe(
        `${path} does not exist (no kernel log device here, e.g. a container without /dev/kmsg): use the journal`,
      );
      expect(logged.warn.slice(0, 3)).toEqual([10, 20, 40].map((ms) => `kmsg: ${s.stats.lastError}; retrying in ${ms}ms`));
      symlinkSync(DEVICE, path);
      const first = await puller.next();
      expect(parseKmsgPosition(first?.position ?? "")?.bootId).toBe(BOOT_ID);
      const marker = writeMarker("after-appearing");
      expect(await puller.until((m) => m.includes(marker))).toEqual([marker]);
      expect(s.stats.lastError).toBeNull();
      await puller.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a read error reopens with capped backoff and never ends the iterator", async () => {
    // A directory opens fine with O_RDONLY but read() fails with EISDIR.
    const dir = mkdtempSync(join(tmpdir(), "lt-kmsg-"));
    try {
      const { source: s, puller, logged } = source(null, { devicePath: dir, backoffInitialMs: 10, backoffMaxMs: 40 });
      expect(await puller.next(400)).toBeNull();
      await puller.stop();
      expect(s.stats.restarts).toBeGreaterThanOrEqual(3);
      expect(s.stats.lastError).toStartWith(`reading ${dir} failed: EISDIR`);
      // Capped exponential: 10, 20, 40, then 40 ms again.
      const waits = logged.warn.map((m) => /reopening in (\w+)$/.exec(m)?.[1]);
      expect(waits.slice(0, 4)).toEqual(["10ms", "20ms", "40ms", "40ms"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
