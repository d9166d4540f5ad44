import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PressureFacts } from "../../src/event.ts";
import { events, startDaemon, until, type DaemonUnderTest } from "./_daemon.ts";
import { isRoot } from "./_system.ts";

// Real memory pressure, read by the compiled daemon's PSI monitor: a python3 in a 64 MiB
// cgroup v1 memory limit writes a 300 MB file and then reads it through mmap over and over.
// Its page cache cannot stay resident inside the limit, so every pass refaults it, and the
// kernel counts those stalls in /proc/pressure/memory (captured in the fixtures: some and
// full avg10 climb about a point a second). The daemon must see one episode and store one
// T5 event for it.

const MEMCG = "/sys/fs/cgroup/memory";
const psiAvailable = existsSync("/proc/pressure/memory") && existsSync(MEMCG);

describe.skipIf(!isRoot || !psiAvailable)("PSI monitor end to end (root: a cgroup thrashing its page cache)", () => {
  let daemon: DaemonUnderTest | null = null;
  // Page cache must be on a disk: tmpfs pages are not evictable without swap.
  const work = mkdtempSync("/var/tmp/logtriage-psi-");
  const cgroup = join(MEMCG, `lt_psi_${process.pid}`);

  afterAll(async () => {
    if (daemon && daemon.proc.exitCode === null) await daemon.crash();
    rmSync(work, { recursive: true, force: true });
    if (existsSync(cgroup)) rmdirSync(cgroup);
  });

  test("a real pressure episode becomes one T5 event with its duration and peak", async () => {
    daemon = await startDaemon(`
[instance]
id = "psi-box"

[sources]
use = "kmsg"

[psi]
poll_interval = "1s"
warn_some_avg10 = 4.0
warn_full_avg10 = 4.0
`);
    await daemon.waitForOutput(/source kmsg/);

    mkdirSync(cgroup);
    writeFileSync(join(cgroup, "memory.limit_in_bytes"), String(64 * 1024 * 1024));
    const file = join(work, "thrash.bin");
    const thrash = Bun.spawn(
      [
        "sh",
        "-c",
        `echo $$ > ${join(cgroup, "cgroup.procs")}; exec /usr/bin/python3 -c '
import mmap, os, time
with open("${file}", "wb") as f:
    block = os.urandom(1 << 20)
    for _ in range(300): f.write(block)
f = open("${file}", "rb"); m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
end = time.time() + 40
s = 0
while time.time() < end:
    for i in range(0, len(m), 4096): s += m[i]
'`,
      ],
      { stdout: "ignore", stderr: "pipe" },
    );
    const t5 = () => events((daemon as DaemonUnderTest).dbPath).filter((e) => e.tier === "T5");
    // The episode starts once avg10 passes 4% twice in a row (1 s readings; avg10 climbs about
    // a point a second here, so at 7% the daemon has read it over the line at least twice)...
    await until("PSI well over 4% (the daemon has read it above the line more than twice)", () => readAvg10() >= 7, 60_000, 250);
    thrash.kill("SIGKILL");
    await thrash.exited;
    // ...and ends two readings after avg10 has decayed below it again.
    await until("the T5 event of the episode", () => t5().length > 0, 60_000, 500);
    const [event] = t5();
    expect(t5()).toHaveLength(1);
    expect(event?.rule).toBe("psi-memory-pressure");
    const facts = JSON.parse(event?.facts_json ?? "{}") as { kind: string; pressure: PressureFacts };
    expect(facts.kind).toBe("memory-pressure");
    expect(facts.pressure.ended).toBe(true);
    expect(Math.max(facts.pressure.peakSomeAvg10, facts.pressure.peakFullAvg10 ?? 0)).toBeGreaterThanOrEqual(4);
    expect(facts.pressure.endUs).toBeGreaterThan(facts.pressure.startUs);
    expect(facts.pressure.readings).toBeGreaterThanOrEqual(4);
    expect(facts.pressure.topAtPeak.length).toBeGreaterThan(0);
    expect(event?.summary).toMatch(/^Memory pressure: \d+ s, peak some \d+%/);
    const stop = await daemon.stop();
    expect(stop.code).toBe(0);
  }, 150_000);
});

function readAvg10(): number {
  const text = readFileSync("/proc/pressure/memory", "utf8");
  const values = [...text.matchAll(/avg10=([\d.]+)/g)].map((m) => Number(m[1]));
  return Math.max(...values);
}
