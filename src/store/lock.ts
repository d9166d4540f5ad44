import { dlopen, FFIType, read } from "bun:ffi";
import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { StoreError } from "./errors.ts";

// One daemon per database. The heartbeat row alone cannot decide it: two daemons started at
// the same moment both find no live heartbeat and both run, each reading and storing the same
// entries. An exclusive flock(2) can be held by one process only, the kernel drops it when the
// holder exits (even by kill -9), and a second try fails at once with EWOULDBLOCK.
//
// The lock is on a file beside the database, "<db>.lock", not on the database itself: SQLite
// holds POSIX (fcntl) locks on the database, and closing any other descriptor of that file in
// this process would silently release them (sqlite.org/lockingv3.html, "How To Corrupt", 2.2).

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;
/** Linux's O_CLOEXEC (node:fs does not export it): journalctl and other children must not inherit the lock. */
const O_CLOEXEC = 0o2000000;

function openLibc() {
  return dlopen("libc.so.6", {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}

let libc: ReturnType<typeof openLibc> | null = null;

export interface DatabaseLock {
  readonly path: string;
  release(): void;
}

export function lockPathFor(dbPath: string): string {
  return `${dbPath}.lock`;
}

/**
 * Take the daemon's lock on `dbPath` or throw a StoreError naming the holder. Null when this
 * libc offers no flock through bun:ffi (not glibc): the caller keeps its heartbeat check.
 */
export function lockDatabase(dbPath: string, pid = process.pid): DatabaseLock | null {
  if (dbPath === ":memory:") return null;
  try {
    libc ??= openLibc();
  } catch (error) {
    // No glibc to call: the heartbeat check still refuses a second daemon started later.
    void error;
    return null;
  }
  const path = lockPathFor(dbPath);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | O_CLOEXEC, 0o600);
  } catch (error) {
    throw new StoreError(
      `cannot create the daemon's lock file ${path} (${error instanceof Error ? error.message : String(error)}): its directory must be writable by this user, or pass --db PATH`,
      dbPath,
      { cause: error },
    );
  }
  if (libc.symbols.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errnoPtr = libc.symbols.__errno_location();
    const errno = errnoPtr === null ? 0 : read.i32(errnoPtr);
    closeSync(fd);
    if (errno !== EWOULDBLOCK)
      throw new StoreError(
        `cannot lock ${path} (errno ${errno}): is it on a filesystem without flock (some network mounts)? Put the database on a local disk with --db PATH`,
        dbPath,
      );
    const holder = readHolder(path);
    throw new StoreError(
      `another logtriage daemon${holder === null ? "" : ` (pid ${holder})`} is running with ${dbPath} (it holds ${path}): stop it first (systemctl --user stop logtriage${holder === null ? "" : `, or kill ${holder}`}), or give this one another --db`,
      dbPath,
    );
  }
  // Who holds it, for the second daemon's message; the lock, not this text, decides.
  ftruncateSync(fd, 0);
  writeSync(fd, `${pid}\n`, 0);
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      closeSync(fd);
    },
  };
}

function readHolder(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch (error) {
    // Unreadable: the message goes without the pid.
    void error;
    return null;
  }
}
