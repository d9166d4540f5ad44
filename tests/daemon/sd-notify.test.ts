import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasIpcLock, memlockLimit, lockMemory } from "../../src/daemon/mlock.ts";
import { notifySocketAddress, openSystemdNotifier, watchdogPingMs } from "../../src/daemon/sd-notify.ts";

// sd_notify against a real AF_UNIX datagram socket (python3 binds it: Bun has no unix
// datagram sockets), by path and by abstract name, as systemd hands them out.

const dir = mkdtempSync(join(tmpdir(), "logtriage-notify-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("NOTIFY_SOCKET values: path with a terminating NUL, abstract with a leading one", () => {
  const path = notifySocketAddress("/run/user/1000/systemd/notify");
  expect(path?.length).toBe(2 + "/run/user/1000/systemd/notify".length + 1);
  expect(Array.from(path?.bytes.slice(0, 3) ?? [])).toEqual([1, 0, "/".charCodeAt(0)]);
  const abstract = notifySocketAddress("@/org/freedesktop/systemd1/notify/123");
  expect(abstract?.length).toBe(2 + 1 + "/org/freedesktop/systemd1/notify/123".length);
  expect(abstract?.bytes[2]).toBe(0);
  expect(notifySocketAddress("")).toBeNull();
  expect(notifySocketAddress("relative/path")).toBeNull();
  expect(notifySocketAddress(`/${"x".repeat(200)}`)).toBeNull();
});

test("the watchdog is pinged at half WATCHDOG_USEC, and only for the pid it names", () => {
  expect(watchdogPingMs({ WATCHDOG_USEC: "60000000" }, 42)).toBe(30_000);
  expect(watchdogPingMs({ WATCHDOG_USEC: "60000000", WATCHDOG_PID: "42" }, 42)).toBe(30_000);
  expect(watchdogPingMs({ WATCHDOG_USEC: "60000000", WATCHDOG_PID: "7" }, 42)).toBeNull();
  expect(watchdogPingMs({}, 42)).toBeNull();
  expect(watchdogPingMs({ WATCHDOG_USEC: "0" }, 42)).toBeNull();
});

/** A datagram receiver: prints each datagram on a line, until `count` have come. */
function receiver(address: string, count: number) {
  const script = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
a = sys.argv[1]
s.bind("\\0" + a[1:] if a.startswith("@") else a)
print("bound", flush=True)
for _ in range(int(sys.argv[2])):
    print(s.recv(4096).decode(), flush=True)
`;
  return Bun.spawn(["python3", "-c", script, address, String(count)], { stdout: "pipe", stderr: "pipe" });
}

async function roundTrip(address: string): Promise<string[]> {
  const r = receiver(address, 3);
  const reader = r.stdout.getReader();
  let text = "";
  while (!text.includes("bound")) text += new TextDecoder().decode((await reader.read()).value);
  const notifier = openSystemdNotifier({ NOTIFY_SOCKET: address });
  expect(notifier).not.toBeNull();
  for (const m of ["READY=1", "STATUS=journal: 12 records read, 0 new events this run", "WATCHDOG=1"]) expect(notifier?.send(m)).toBe(true);
  notifier?.close();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await r.exited;
  return text.split("\n").filter((l) => l !== "" && l !== "bound");
}

test("messages arrive on a path socket", async () => {
  expect(await roundTrip(join(dir, "notify"))).toEqual(["READY=1", "STATUS=journal: 12 records read, 0 new events this run", "WATCHDOG=1"]);
});

test("messages arrive on an abstract socket", async () => {
  expect(await roundTrip(`@logtriage-test-${process.pid}`)).toEqual([
    "READY=1",
    "STATUS=journal: 12 records read, 0 new events this run",
    "WATCHDOG=1",
  ]);
});

test("no NOTIFY_SOCKET: no notifier (run by hand)", () => {
  expect(openSystemdNotifier({})).toBeNull();
});

test("RLIMIT_MEMLOCK is read from /proc/self/limits; a limited one means no locking, said in one line", () => {
  expect(memlockLimit("Max locked memory         8388608              8388608              bytes     ")).toBe(8_388_608);
  expect(memlockLimit("Max locked memory         unlimited            unlimited            bytes     ")).toBe("unlimited");
  expect(memlockLimit(readFileSync("/proc/self/limits", "utf8"))).not.toBeNull();
  const noCaps = "CapEff:\t0000000000000000\n";
  expect(hasIpcLock("CapEff:\t000001ffffffffff\n")).toBe(true);
  expect(hasIpcLock(noCaps)).toBe(false);
  expect(lockMemory("Max locked memory         8388608              8388608              bytes     ", noCaps)).toEqual({
    locked: false,
    reason: "RLIMIT_MEMLOCK is 8192 kB; memory not locked (the systemd unit sets LimitMEMLOCK=infinity)",
  });
});
