import { afterAll, expect, test } from "bun:test";
import { readFileSync, realpathSync, rmSync } from "node:fs";
import { mappingsOf } from "../../src/daemon/trim.ts";
import { startDaemon, until, type DaemonUnderTest } from "../e2e/_daemon.ts";
import { BIN } from "../cli/_run.ts";

// The start-up trim, measured on the compiled daemon: MADV_PAGEOUT only gives back pages no
// other process maps, and the daemon is the one process mapping its binary (bun test's own
// executable is shared with every other bun running, so it cannot be measured on itself).

test("mappingsOf picks the executable's ranges from /proc/self/maps text", () => {
  const maps = [
    "00400000-00500000 r--p 00000000 fd:01 42                                 /usr/local/bin/logtriage",
    "00500000-05000000 r-xp 00100000 fd:01 42                                 /usr/local/bin/logtriage",
    "05000000-05001000 rw-p 00000000 00:00 0                                  [heap]",
    "7f0000000000-7f0000001000 r--p 00000000 fd:01 7                          /usr/lib/x86_64-linux-gnu/libc.so.6",
    "7f0000002000-7f0000003000 r--p 00000000 fd:01 8                          /usr/local/bin/logtriage (deleted)",
  ].join("\n");
  expect(mappingsOf(maps, "/usr/local/bin/logtriage")).toEqual([
    [0x400000n, 0x500000n],
    [0x500000n, 0x5000000n],
  ]);
});

/** Resident kB of `pid`'s mappings of `file`, from /proc/PID/smaps. */
function residentKbOf(pid: number, file: string): number {
  let kb = 0;
  let inFile = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) inFile = header[1] === file;
    else if (inFile && line.startsWith("Rss:")) kb += Number(/(\d+)/.exec(line)?.[1] ?? 0);
  }
  return kb;
}

let daemon: DaemonUnderTest | null = null;
afterAll(async () => {
  if (daemon) {
    await daemon.stop();
    rmSync(daemon.box.home, { recursive: true, force: true });
  }
});

test("two seconds after start the daemon pages out its binary's start-up pages", async () => {
  // kmsg: no journald needed; without permission the daemon runs on with no source, as here.
  daemon = await startDaemon(`[sources]\nuse = "kmsg"\n`);
  const exe = realpathSync(BIN);
  await daemon.waitForOutput(/daemon: instance/);
  const beforeKb = residentKbOf(daemon.proc.pid, exe);
  expect(beforeKb).toBeGreaterThan(10_000);
  // The trim runs two seconds after start; on a loaded machine the idle loop may take longer to
  // settle, so wait for the pages to go (or fail after 20 s) rather than look once at 3 s.
  // What the idle loop touched since is back; most of start-up's pages are not.
  const pid = daemon.proc.pid;
  let afterKb = beforeKb;
  await until("the start-up pages to be given back", () => (afterKb = residentKbOf(pid, exe)) < beforeKb / 2, 20_000, 250).catch(
    () => undefined,
  );
  expect(afterKb).toBeLessThan(beforeKb / 2);
});
