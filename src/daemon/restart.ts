import { readdirSync } from "node:fs";
import { ptr } from "bun:ffi";
import { processLibc } from "./libc.ts";

// Restart in place: after a clean stop (every position and event committed, journalctl
// stopped, the database closed), the daemon replaces its own program image with a fresh copy
// of itself: execve(2) of its own binary with the same arguments. The pid stays, so systemd
// keeps its main process and its watchdog, and the same stdout and stderr go on.
//
// Two reasons to do it:
// - SIGHUP (`systemctl reload`): a fresh start reads the configuration anew, exactly as at
//   boot, instead of a second code path that patches a running daemon.
// - After a log storm: Bun's allocators keep the pages a storm grew the heap by (measured:
//   anonymous memory 9.8 MB idle, 16 MB after a 200,000-line storm and a full collection, and
//   it stays there). A fresh image starts at the idle figure again.

/** abort(reason) of the daemon's signal with this: stop cleanly, then restart in place. */
export class RestartInPlace {
  constructor(readonly why: string) {}
}

/** Set in the fresh image's environment: why it was started, and when (ms), for its first log line. */
export const RESTARTED_ENV = "LOGTRIAGE_RESTARTED";

/** The fresh image's argv: the binary itself, then the arguments the daemon was given. Pure. */
export function restartArgv(execPath: string, argv: readonly string[]): string[] {
  // A compiled binary's argv is ["bun", "/$bunfs/root/<name>", ...args]; under `bun file.ts`
  // it is [bun, file.ts, ...args] and the script must be run again.
  const compiled = argv[1]?.startsWith("/$bunfs/") ?? false;
  return [execPath, ...argv.slice(compiled ? 2 : 1)];
}

/** Parses RESTARTED_ENV ("<ms> <why>"); null when absent or malformed. Pure. */
export function restartedFrom(value: string | undefined): { atMs: number; why: string } | null {
  const m = /^(\d+) (.+)$/s.exec(value ?? "");
  return m ? { atMs: Number(m[1]), why: m[2] as string } : null;
}

const SYS_CLOSE_RANGE = 436; // the same number on x86_64 and arm64
const CLOSE_RANGE_CLOEXEC = 4;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/**
 * Marks every descriptor above stderr close-on-exec, so the fresh image starts with none of
 * the old one's: Bun and the daemon open theirs with O_CLOEXEC or close them on stop, and this
 * makes sure of it for anything that did not (a library's, a future one's).
 * close_range(CLOSE_RANGE_CLOEXEC) since Linux 5.11; before that, fcntl on each open one.
 */
function closeOnExec(libc: ReturnType<typeof processLibc>): void {
  if (libc.syscall(SYS_CLOSE_RANGE, 3, 0xffffffff, CLOSE_RANGE_CLOEXEC) === 0n) return;
  for (const name of readdirSync("/proc/self/fd")) {
    const fd = Number(name);
    if (fd > 2) libc.fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
}

function cString(s: string, keep: Buffer[]): bigint {
  const b = Buffer.from(`${s}\0`);
  keep.push(b);
  return BigInt(ptr(b));
}

function cStringArray(strings: readonly string[], keep: Buffer[]): BigUint64Array {
  const out = new BigUint64Array(strings.length + 1); // NULL-terminated
  strings.forEach((s, i) => {
    out[i] = cString(s, keep);
  });
  return out;
}

/**
 * Replaces this process with a fresh run of the same binary and arguments. Returns only when
 * execve(2) failed, with why; the caller has already stopped, so it should exit non-zero and
 * let the service manager start it again.
 */
export function execSelf(why: string, env: NodeJS.ProcessEnv = process.env): string {
  try {
    const libc = processLibc();
    const argv = restartArgv(process.execPath, process.argv);
    const envp = Object.entries({ ...env, [RESTARTED_ENV]: `${Date.now()} ${why}` })
      .filter((kv): kv is [string, string] => kv[1] !== undefined)
      .map(([k, v]) => `${k}=${v}`);
    const keep: Buffer[] = [];
    const path = Buffer.from(`${process.execPath}\0`);
    const argvArray = cStringArray(argv, keep);
    const envArray = cStringArray(envp, keep);
    closeOnExec(libc);
    libc.execve(ptr(path), ptr(argvArray), ptr(envArray));
    return `execve(${process.execPath}) failed`;
  } catch (error) {
    return `cannot restart in place: ${error instanceof Error ? error.message : String(error)}`;
  }
}
