import { dlopen, FFIType, ptr } from "bun:ffi";

// sd_notify(3) without libsystemd: one datagram per message to $NOTIFY_SOCKET, an AF_UNIX
// SOCK_DGRAM socket given as a path ("/run/user/1000/systemd/notify") or, with a leading "@",
// an abstract name. Node and Bun have no AF_UNIX datagram sockets, so the two libc calls go
// through bun:ffi; everything else (the address, the messages, the watchdog period) is pure.

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
/** A manager that went away must not kill us with SIGPIPE. */
const MSG_NOSIGNAL = 0x4000;
const SUN_PATH_MAX = 108;

/**
 * The sockaddr_un bytes and length for a $NOTIFY_SOCKET value; null when it is not one.
 * Abstract names ("@name") are sent with a leading NUL and no terminator (length counts
 * exactly the name), paths with a terminating NUL, as sd_notify does.
 */
export function notifySocketAddress(value: string): { bytes: Uint8Array; length: number } | null {
  if (value === "" || !(value.startsWith("/") || value.startsWith("@"))) return null;
  const abstract = value.startsWith("@");
  const name = new TextEncoder().encode(abstract ? value.slice(1) : value);
  // Either way one NUL besides the name: leading (abstract) or terminating (path).
  const pathBytes = name.length + 1;
  if (pathBytes > SUN_PATH_MAX) return null;
  const bytes = new Uint8Array(2 + SUN_PATH_MAX);
  new DataView(bytes.buffer).setUint16(0, AF_UNIX, true);
  // Abstract: sun_path[0] = 0 then the name; path: the name then a 0 (already zero-filled).
  bytes.set(name, abstract ? 3 : 2);
  return { bytes, length: abstract ? 2 + 1 + name.length : 2 + name.length + 1 };
}

/**
 * Half the watchdog period systemd asks for (sd_watchdog_enabled(3)): WATCHDOG_USEC, if
 * WATCHDOG_PID is unset or ours. Null when no watchdog is configured.
 */
export function watchdogPingMs(env: Record<string, string | undefined>, pid: number): number | null {
  const usec = Number(env["WATCHDOG_USEC"] ?? "");
  if (!Number.isFinite(usec) || usec <= 0) return null;
  const forPid = env["WATCHDOG_PID"];
  if (forPid !== undefined && forPid !== "" && Number(forPid) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

export interface SystemdNotifier {
  /** Sends one message ("READY=1", "WATCHDOG=1", "STATUS=…"); false when it could not. */
  send(message: string): boolean;
  close(): void;
}

function openLibc() {
  return dlopen("libc.so.6", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  });
}

/** A notifier for $NOTIFY_SOCKET, or null when the daemon does not run under Type=notify. */
export function openSystemdNotifier(env: Record<string, string | undefined> = process.env): SystemdNotifier | null {
  const value = env["NOTIFY_SOCKET"];
  if (value === undefined) return null;
  const address = notifySocketAddress(value);
  if (address === null) return null;
  const libc = openLibc();
  const fd = libc.symbols.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    libc.close();
    return null;
  }
  return {
    send(message) {
      const payload = Buffer.from(message, "utf8");
      return (
        Number(libc.symbols.sendto(fd, ptr(payload), payload.length, MSG_NOSIGNAL, ptr(address.bytes), address.length)) === payload.length
      );
    },
    close() {
      libc.symbols.close(fd);
      libc.close();
    },
  };
}
