import { accessSync, constants, statfsSync } from "node:fs";
import { dirname } from "node:path";
import { StoreError } from "./errors.ts";

// SQLite's failures in words a user can act on, each naming the file and the fix. bun:sqlite
// throws an `SQLiteError` whose `code` is SQLite's primary or extended result code name
// ("SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_FULL"…; sqlite.org/rescode.html) and whose
// message is SQLite's own short text ("database is locked"), which names no file.

/** The database this process opened last: SQLite's errors do not say which file they are about. */
let lastOpenedPath: string | null = null;

export function rememberOpenedDatabase(path: string): void {
  lastOpenedPath = path;
}

export function lastOpenedDatabase(): string | null {
  return lastOpenedPath;
}

function sqliteCode(error: unknown): string | null {
  if (typeof error !== "object" || error === null) return null;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("SQLITE_") ? code : null;
}

/** Whether the filesystem holding `path` has no block left for this user (ENOSPC behind an I/O error). */
function filesystemFull(path: string): boolean {
  try {
    return statfsSync(dirname(path)).bavail === 0;
  } catch (error) {
    // Cannot tell: the I/O error is then reported as what SQLite called it.
    void error;
    return false;
  }
}

/** Whether `path`'s directory is on a read-only mount (SQLite then cannot create its -wal/-shm). */
function readOnlyMount(path: string): boolean {
  try {
    accessSync(dirname(path), constants.W_OK);
    return false;
  } catch (error) {
    return (error as { code?: string }).code === "EROFS";
  }
}

/** SQLite's primary code for an extended one: "SQLITE_BUSY_SNAPSHOT" → "SQLITE_BUSY". */
function primary(code: string): string {
  const m = /^SQLITE_[A-Z]+/.exec(code);
  return m ? m[0] : code;
}

/**
 * A StoreError naming `path` and the fix for a SQLite failure; null when `error` is not one
 * this knows (the caller keeps its own handling for those).
 */
export function explainSqliteError(error: unknown, path: string | null = lastOpenedPath): StoreError | null {
  const code = sqliteCode(error);
  if (code === null) return null;
  const file = path ?? "the event database";
  const detail = `${(error as Error).message}, ${code}`;
  const make = (text: string) => new StoreError(text, file, { cause: error });
  // A full disk often surfaces as an I/O error: growing the -shm file (SQLITE_IOERR_SHMSIZE)
  // or writing the -wal fails with ENOSPC before SQLite itself sees SQLITE_FULL.
  let kind = primary(code);
  if (kind === "SQLITE_IOERR" && path !== null && filesystemFull(path)) kind = "SQLITE_FULL";
  if ((kind === "SQLITE_CANTOPEN" || kind === "SQLITE_IOERR") && path !== null && readOnlyMount(path)) kind = "SQLITE_READONLY";
  switch (kind) {
    case "SQLITE_BUSY":
    case "SQLITE_LOCKED":
      return make(
        `${file} stayed locked by another process for longer than the 5 s busy timeout (${detail}): a long write by the daemon or another logtriage; try again, and see 'fuser -v ${file}' if it persists`,
      );
    case "SQLITE_FULL":
      return make(
        `${file}: the disk is full (${detail}); nothing half-written was kept. Free space on its filesystem (df -h '${dirname(file)}'), or lower [db] retention, or move it with --db PATH / [db] path`,
      );
    case "SQLITE_READONLY":
    case "SQLITE_PERM":
    case "SQLITE_AUTH":
      return make(
        `${file} cannot be written by this user (${detail}): check the owner and mode of the file and of its directory (ls -l '${dirname(file)}'; SQLite needs to create ${file}-wal and -shm there), or pass --db PATH`,
      );
    case "SQLITE_CORRUPT":
    case "SQLITE_NOTADB":
      return make(
        `${file} is not a readable logtriage database (${detail}): damaged, or another kind of file. It was left untouched; move it aside (mv '${file}' '${file}.bad') to start a new one, or pass --db PATH; 'sqlite3 ${file}.bad .recover' may save its events`,
      );
    case "SQLITE_IOERR":
      return make(`the disk failed reading or writing ${file} (${detail}): check the kernel log (dmesg) and the filesystem`);
    case "SQLITE_CANTOPEN":
      return make(
        `cannot open ${file} (${detail}): check that its directory exists and this user may enter and write it, or pass --db PATH`,
      );
    default:
      return make(`event database ${file}: ${detail}`);
  }
}
