import { closeSync, constants, openSync, readFileSync, readSync } from "node:fs";
import type { Entry } from "../event.ts";
import { kmsgCursor, parseKmsgRecord } from "../parse/kmsg.ts";
import type { SourceLog } from "./journal.ts";
import type { SourceStats } from "../event.ts";
import { newSourceStats, type Source, type SourceBatch } from "./source.ts";
import { sleep } from "../sleep.ts";
import { formatBackoff } from "../text/format.ts";
import { KmsgWaker } from "./kmsg-wake.ts";

// The kernel log read straight from /dev/kmsg, for machines without journald (containers,
// minimal VMs). Semantics from Documentation/ABI/testing/dev-kmsg:
// - every read() returns exactly one record, "prio,seq,usec,flags;message\n" plus continuation
//   lines that start with a space; a buffer too small for the record gives EINVAL;
// - a fresh open starts at the oldest record still in the ring buffer;
// - when the record at our position has been overwritten, read() fails with EPIPE once and the
//   next read() continues at the oldest record;
// - with O_NONBLOCK, read() fails with EAGAIN when there is nothing new.
// Sequence numbers restart at every boot, so a position is "kmsg:<boot id>:<seq>".
//
// Waiting: the fd is non-blocking and drained with readSync until EAGAIN; then the source
// sleeps until the kernel writes (sources/kmsg-wake.ts: a second open of the device, streamed,
// wakes it), with a drain at least once a minute anyway. The old way, kept as `wait: "poll"`
// and as the fallback when the waker cannot work, sleeps pollIntervalMs (250 ms) between
// drains. Measured idle, side by side for 120 s on the 2-core dev VM (kernel 6.18, Bun 1.4.5),
// utime+stime from /proc/self/stat: waiting 5 ticks (0.04% of a core), polling 32 ticks; and a
// real OOM kill's alert leaves 9 ms (p50) after the kernel's report instead of 135 ms.
// Streaming this fd itself would wait as well, but Bun reads into buffers it sizes (a record
// must fit one read()) and turns EPIPE into a stream error; so the reads stay ours.
// First start: lseek(fd, 0, SEEK_END) does work on /dev/kmsg (tried through bun:ffi), but it
// leaves the last record's seq unknown, and that seq is the position a first start reports; so
// we read to EAGAIN instead, at most a few thousand records once.

export const KMSG_DEVICE_PATH = "/dev/kmsg";
const BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id";
const UPTIME_PATH = "/proc/uptime";

// One read() returns one whole record or EINVAL. The kernel formats it into a buffer of
// PRINTK_MESSAGE_MAX = 2048 bytes on 6.x (kernel/printk/internal.h; CONSOLE_EXT_LOG_MAX = 8192
// on older kernels), so 8 KiB always fits. Checked here: a 100-byte read gives EINVAL.
const READ_BUFFER_BYTES = 8192;
/** A storm is handed on in pieces so the pipeline can commit while we keep reading. */
const DEFAULT_MAX_BATCH_RECORDS = 1000;
/** With the waker, a drain at least this often anyway, in case a wake-up was missed. */
const READABLE_SAFETY_DRAIN_MS = 60_000;

export interface KmsgSourceOptions {
  /** Resume after this position (`kmsg:<boot id>:<seq>`, the committed one); null: start at the end. */
  after: string | null;
  devicePath?: string;
  bootIdPath?: string;
  uptimePath?: string;
  /** Sleep between drains when the device has nothing new. Default 250 ms. */
  pollIntervalMs?: number;
  /**
   * "readable" (default): sleep until the kernel writes (sources/kmsg-wake.ts), with a drain
   * at least every minute as a safety net; "poll": drain every pollIntervalMs.
   */
  wait?: "readable" | "poll";
  /** Wait before reopening after an error, doubled each time up to backoffMaxMs. Default 1 s → 30 s. */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  maxBatchRecords?: number;
  /** A first start skipped the buffer up to this record (the kernel fast path's ledger wants its time). */
  onTail?: (seq: number, monotonicUs: number) => void;
  log: SourceLog;
}

export interface KmsgPosition {
  bootId: string;
  seq: number;
}

const POSITION = /^kmsg:([0-9A-Za-z-]+):(\d+)$/;
const RECORD_SEQ = /^\d+,(\d+),/;
const RECORD_SEQ_USEC = /^\d+,(\d+),(\d+)[,;]/;
const UNKNOWN_BOOT = "unknown";

/** `kmsg:<boot id>:<seq>` → its parts; null when it is not such a position. */
export function parseKmsgPosition(position: string): KmsgPosition | null {
  const m = POSITION.exec(position);
  if (!m) return null;
  const seq = Number(m[2]);
  return Number.isSafeInteger(seq) ? { bootId: m[1] as string, seq } : null;
}

/** The sequence number from a record's header ("6,1234,5678,-;..."), or null. */
export function recordSeq(record: string): number | null {
  const m = RECORD_SEQ.exec(record);
  return m ? Number(m[1]) : null;
}

/** Records the kernel numbered but we never saw, between the last one read and the next. */
export function lostBetween(lastSeq: number, nextSeq: number): number {
  return Math.max(0, nextSeq - lastSeq - 1);
}

export type KmsgStart =
  /** Skip what the buffer holds now and read what comes after. */
  | { kind: "tail"; malformed: boolean }
  /** Same boot: read the records after `afterSeq`. */
  | { kind: "resume"; afterSeq: number }
  /** The position belongs to another boot, whose records are gone: read all of this boot's. */
  | { kind: "other-boot"; previousBootId: string };

/**
 * Where to start reading, from the saved position and this boot's id. Without a readable boot
 * id (or with a position saved without one) "same boot" cannot be proven, so the whole buffer is
 * read: duplicates are better than silently skipping a boot's records.
 */
export function planKmsgStart(after: string | null, bootId: string | null): KmsgStart {
  if (after === null) return { kind: "tail", malformed: false };
  const position = parseKmsgPosition(after);
  if (position === null) return { kind: "tail", malformed: true };
  if (bootId === null || position.bootId === UNKNOWN_BOOT || position.bootId !== bootId)
    return { kind: "other-boot", previousBootId: position.bootId };
  return { kind: "resume", afterSeq: position.seq };
}

/** Wall clock (µs) of boot: now minus /proc/uptime's first field ("350735.47 1371852.80"). */
export function parseBootRealtimeUs(uptimeText: string, nowMs: number): number | null {
  const field = /^(\d+(?:\.\d+)?)\s/.exec(uptimeText)?.[1];
  return field === undefined ? null : Math.round(nowMs * 1000 - Number(field) * 1e6);
}

function errnoCode(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : null;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Why opening the device failed, in words a user can act on. */
function describeOpenError(devicePath: string, error: unknown): string {
  switch (errnoCode(error)) {
    case "ENOENT":
      return `${devicePath} does not exist (no kernel log device here, e.g. a container without /dev/kmsg): use the journal`;
    case "EPERM":
      // devkmsg_open() refuses readers without CAP_SYSLOG while kernel.dmesg_restrict=1
      // (or a security module denies syslog access).
      return `${devicePath} is not readable by this user (kernel.dmesg_restrict=1): run as root or use the journal`;
    case "EACCES":
      return `${devicePath} is not readable by this user (file permissions): run as root or use the journal`;
    default:
      return `${devicePath} cannot be opened: ${errorText(error)}`;
  }
}

function openDevice(devicePath: string): number {
  return openSync(devicePath, constants.O_RDONLY | constants.O_NONBLOCK);
}

/** Null when the kernel log device can be opened for reading, else why not, in words. */
export function isKmsgReadable(devicePath: string = KMSG_DEVICE_PATH): string | null {
  let fd: number;
  try {
    fd = openDevice(devicePath);
  } catch (error) {
    return describeOpenError(devicePath, error);
  }
  closeSync(fd);
  return null;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    // The caller says what is missing and goes on without it.
    return null;
  }
}

type ReadResult = { kind: "record"; text: string } | { kind: "empty" } | { kind: "overrun" };

function readRecord(fd: number, buffer: Buffer): ReadResult {
  try {
    const bytes = readSync(fd, buffer, 0, buffer.length, null);
    // The kernel escapes bytes outside printable ASCII as \xNN, so the record is ASCII.
    return { kind: "record", text: buffer.toString("latin1", 0, bytes).replace(/\n$/, "") };
  } catch (error) {
    const code = errnoCode(error);
    if (code === "EAGAIN") return { kind: "empty" };
    if (code === "EPIPE") return { kind: "overrun" };
    throw error;
  }
}

export function createKmsgSource(options: KmsgSourceOptions): Source {
  const devicePath = options.devicePath ?? KMSG_DEVICE_PATH;
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const backoffInitialMs = options.backoffInitialMs ?? 1000;
  const backoffMaxMs = options.backoffMaxMs ?? 30_000;
  const maxBatchRecords = options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS;
  const log = options.log;
  const stats: SourceStats = newSourceStats();

  const bootIdText = readText(options.bootIdPath ?? BOOT_ID_PATH);
  const bootId = bootIdText?.trim() || null;
  if (bootId === null)
    log.warn(
      `kmsg: cannot read the boot id from ${options.bootIdPath ?? BOOT_ID_PATH}; positions cannot be matched to this boot, so a restart rereads the whole buffer`,
    );

  const start = planKmsgStart(options.after, bootId);
  /** Seq of the last record consumed; records at or below it are ones we already had. Null: not yet at the end. */
  let lastSeq: number | null = null;
  let position: string | null = null;
  let atTail = false;
  switch (start.kind) {
    case "tail":
      if (start.malformed)
        log.warn(
          `kmsg: saved position ${JSON.stringify(options.after)} is not kmsg:<boot id>:<seq>; starting at the end of the kernel log`,
        );
      atTail = true;
      break;
    case "resume":
      lastSeq = start.afterSeq;
      position = options.after;
      break;
    case "other-boot":
      log.info(
        `kmsg: saved position is from boot ${start.previousBootId}, this is boot ${bootId ?? UNKNOWN_BOOT}; reading this boot's whole kernel log`,
      );
      // Seq numbers start at 0 every boot: whatever is older than the oldest record still in
      // the buffer was overwritten before we could read it.
      lastSeq = -1;
      break;
  }

  /** Skip every record the buffer holds now; note the last one's seq as our position. */
  function drainToTail(fd: number, buffer: Buffer): void {
    let lastUsec: number | null = null;
    for (;;) {
      const r = readRecord(fd, buffer);
      // An overrun while skipping costs nothing: those records were not wanted.
      if (r.kind === "overrun") continue;
      if (r.kind === "empty") break;
      const header = RECORD_SEQ_USEC.exec(r.text);
      if (header) {
        lastSeq = Number(header[1]);
        lastUsec = Number(header[2]);
      }
    }
    atTail = false;
    if (lastSeq !== null && lastUsec !== null) options.onTail?.(lastSeq, lastUsec);
    if (lastSeq !== null) position = kmsgCursor(bootId, lastSeq);
  }

  /**
   * Read up to maxBatchRecords new records. `end` says why it stopped: the device had nothing
   * more (EAGAIN), the batch is full, or read() failed — then the records read before the
   * failure are still handed on, since the position already counts them.
   */
  function readBatch(
    fd: number,
    buffer: Buffer,
    bootRealtimeUs: number | null,
  ): { entries: Entry[]; consumed: number; end: "drained" | "full" | { error: unknown } } {
    const entries: Entry[] = [];
    let consumed = 0;
    let overrun = false;
    while (consumed < maxBatchRecords) {
      let r: ReadResult;
      try {
        r = readRecord(fd, buffer);
      } catch (error) {
        return { entries, consumed, end: { error } };
      }
      if (r.kind === "empty") return { entries, consumed, end: "drained" };
      if (r.kind === "overrun") {
        // The gap is measured from the seq of the next record, the oldest one left.
        overrun = true;
        log.debug(`kmsg: read() gave EPIPE after seq ${lastSeq ?? "?"}: the ring buffer overwrote records we had not read`);
        continue;
      }
      const seq = recordSeq(r.text);
      if (seq !== null && lastSeq !== null && seq <= lastSeq) continue;
      consumed++;
      stats.recordsRead++;
      stats.lastReadUs = Date.now() * 1000;
      if (seq !== null) {
        if (lastSeq !== null) {
          const lost = lostBetween(lastSeq, seq);
          if (lost > 0) {
            stats.lost += lost;
            const why = overrun
              ? "logtriage fell behind and the ring buffer overwrote them"
              : "the ring buffer overwrote them before logtriage read them";
            log.warn(`kmsg: lost ${lost} kernel log record(s) (seq ${lastSeq + 1}…${seq - 1}): ${why}`);
          }
        }
        overrun = false;
        lastSeq = seq;
        position = kmsgCursor(bootId, seq);
      }
      const entry = parseKmsgRecord(r.text, bootId, bootRealtimeUs);
      if (entry === null) stats.malformed++;
      else entries.push(entry);
    }
    return { entries, consumed, end: "full" };
  }

  async function* batches(signal: AbortSignal): AsyncGenerator<SourceBatch> {
    const buffer = Buffer.alloc(READ_BUFFER_BYTES);
    let backoffMs = backoffInitialMs;
    let first = true;
    while (!signal.aborted) {
      if (!first) stats.restarts++;
      first = false;
      let fd: number;
      try {
        fd = openDevice(devicePath);
      } catch (error) {
        stats.lastError = describeOpenError(devicePath, error);
        log.warn(`kmsg: ${stats.lastError}; retrying in ${formatBackoff(backoffMs)}`);
        await sleep(backoffMs, signal);
        backoffMs = Math.min(backoffMs * 2, backoffMaxMs);
        continue;
      }
      stats.running = true;
      const waker = (options.wait ?? "readable") === "readable" ? new KmsgWaker(devicePath) : null;
      try {
        // Records carry time since boot; /proc/uptime and the clock now give the boot's wall
        // clock. Taken at every open, so a reopen picks up a clock step. (uptime counts time
        // suspended, kmsg's clock does not: after a suspend, times read early by that much.)
        const uptimeText = readText(options.uptimePath ?? UPTIME_PATH);
        const bootRealtimeUs = uptimeText === null ? null : parseBootRealtimeUs(uptimeText, Date.now());
        if (bootRealtimeUs === null)
          log.warn(`kmsg: cannot read the uptime from ${options.uptimePath ?? UPTIME_PATH}; entries carry no wall-clock time`);
        if (atTail) {
          drainToTail(fd, buffer);
          if (position !== null) yield { entries: [], position };
        }
        for (;;) {
          if (signal.aborted) return;
          const batch = readBatch(fd, buffer, bootRealtimeUs);
          if (batch.consumed > 0) yield { entries: batch.entries, position };
          if (typeof batch.end === "object") throw batch.end.error;
          // The device answered: whatever failed before is over.
          backoffMs = backoffInitialMs;
          stats.lastError = null;
          if (batch.end === "drained") {
            if (waker && waker.lastError === null) await waker.wait(READABLE_SAFETY_DRAIN_MS, signal);
            else {
              if (waker?.lastError)
                log.debug(`kmsg: ${waker.lastError}; polling every ${formatBackoff(pollIntervalMs)} until it works again`);
              await sleep(pollIntervalMs, signal);
              // Try the waker again on the next wait.
              if (waker) waker.lastError = null;
            }
          }
        }
      } catch (error) {
        stats.lastError = `reading ${devicePath} failed: ${errorText(error)}`;
        log.warn(`kmsg: ${stats.lastError}; reopening in ${formatBackoff(backoffMs)}`);
      } finally {
        stats.running = false;
        await waker?.stop();
        closeSync(fd);
      }
      await sleep(backoffMs, signal);
      backoffMs = Math.min(backoffMs * 2, backoffMaxMs);
    }
  }

  return { name: "kmsg", stats, batches };
}
