import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";
import { BIN, cli } from "../cli/_run.ts";
import { events, startDaemon, until, type DaemonUnderTest } from "./_daemon.ts";
import { isRoot, memcgOomKill, pythonNamed, segfault } from "./_system.ts";

// The daemon without journald: the kernel log read straight from /dev/kmsg (containers,
// minimal VMs). Real OOM kill and segfault, alerts to the ntfy stand-in, resume after restart.

describe.skipIf(!isRoot)("daemon on /dev/kmsg (root: real kernel log)", () => {
  let ntfy: NtfyStandIn;
  let daemon: DaemonUnderTest;
  let work: string;

  beforeAll(async () => {
    ntfy = await startNtfyStandIn({ rateLimit: null });
    work = mkdtempSync(join(tmpdir(), "logtriage-e2e-kmsg-"));
    daemon = await startDaemon(`[instance]\nid = "kmsg-box"\n[sources]\nuse = "kmsg"\n[ntfy]\nurl = "${ntfy.url}/kmsg"\n`);
    await daemon.waitForOutput(/source kmsg/);
    // The first start skips what the ring buffer already holds; give it a moment to get there.
    await until("the daemon's heartbeat", () => cli(daemon.box, ["status", "--json"]).stdout.includes('"name":"kmsg"'));
  });

  afterAll(async () => {
    if (daemon && daemon.proc.exitCode === null) await daemon.crash();
    await ntfy?.stop();
    if (daemon) rmSync(daemon.box.home, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("the start summary names the forced source", () => {
    expect(daemon.output()).toContain("source kmsg — forced by [sources] use; /dev/kmsg is readable");
  });

  test("a real segfault and a real OOM kill from /dev/kmsg: events and alerts", async () => {
    const pid = await segfault(work);
    await until("the crash event", () => events(daemon.dbPath).some((e) => e.tier === "T2" && e.pid === pid), 5_000);
    const victim = `lt-km-${process.pid}`; // a comm is cut to 15 characters
    await memcgOomKill(`lt_kmsg_${process.pid}`, pythonNamed(work, victim));
    await until("the OOM alert", () => ntfy.messages.some((m) => m.title.includes(victim)), 5_000);
    expect(ntfy.messages.some((m) => m.title.includes("[kmsg-box]") && m.title.includes("python3"))).toBe(true);
    expect(events(daemon.dbPath).filter((e) => e.tier === "T1").length).toBe(1);
  });

  test("a second daemon on the same database refuses to start, naming the first", () => {
    const second = Bun.spawnSync([BIN, "daemon"], { env: daemon.box.env, stdout: "pipe", stderr: "pipe", timeout: 15_000 });
    expect(second.exitCode).toBe(1);
    expect(second.stderr.toString()).toContain(`another logtriage daemon (pid ${daemon.proc.pid}) is running with ${daemon.dbPath}`);
    expect(second.stderr.toString()).not.toContain("    at ");
  });

  test("stopped, the kernel logs a crash, started again: the daemon resumes by sequence number and stores it once", async () => {
    expect((await daemon.stop()).code).toBe(0);
    // Another name: a second python3 crash within the cooldown would fold into the first event.
    const pid = await segfault(work, pythonNamed(work, "lt-km-crash"));
    await daemon.restart();
    await until("the crash from while it was down", () => events(daemon.dbPath).some((e) => e.tier === "T2" && e.pid === pid), 10_000);
    await Bun.sleep(500);
    expect(events(daemon.dbPath).filter((e) => e.tier === "T2" && e.pid === pid).length).toBe(1);
    expect((await daemon.stop()).code).toBe(0);
  });
});
