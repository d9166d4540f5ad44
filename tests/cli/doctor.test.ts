import { afterAll, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderChecks } from "../../src/cli/doctor.ts";
import { startNtfyStandIn } from "../_ntfy-standin.ts";
import { BIN, sandbox } from "./_run.ts";

// `logtriage doctor` on the compiled binary: every check reported, failures with their fix,
// exit 1 only when something failed.

const boxes: string[] = [];
afterAll(() => {
  for (const home of boxes) rmSync(home, { recursive: true, force: true });
});

async function doctor(
  configToml: string | null,
): Promise<{ code: number; stdout: string; checks: { name: string; status: string; detail: string; fix?: string }[] }> {
  const box = sandbox();
  boxes.push(box.home);
  if (configToml !== null) writeFileSync(join(box.configDir, "config.toml"), configToml);
  // Asynchronous: the ntfy stand-in answers from this very process.
  const p = Bun.spawn([BIN, "doctor", "--json"], { env: box.env, stdout: "pipe", stderr: "pipe" });
  const [stdout, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  return { code, stdout, checks: (JSON.parse(stdout) as { checks: never[] }).checks };
}

test("a reachable ntfy and a fresh HOME: no failure, exit 0; every check is there", async () => {
  const ntfy = await startNtfyStandIn();
  try {
    const r = await doctor(`[ntfy]\nurl = "${ntfy.url}/doctor"\n`);
    expect(r.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(["config", "journalctl", "/dev/kmsg", "coredumpctl", "smartctl", "PSI", "ntfy", "database"]),
    );
    const byName = Object.fromEntries(r.checks.map((c) => [c.name, c]));
    expect(byName["config"]?.status).toBe("ok");
    expect(byName["ntfy"]).toMatchObject({ status: "ok" });
    expect(byName["ntfy"]?.detail).toContain(ntfy.url);
    expect(byName["database"]?.detail).toContain("not created yet");
    expect(ntfy.messages).toHaveLength(0); // a dry request: nothing published
    const failed = r.checks.filter((c) => c.status === "fail");
    expect(r.code).toBe(failed.length ? 1 : 0);
  } finally {
    await ntfy.stop();
  }
});

test("a broken config and an unreachable ntfy: both reported with a fix, the rest still checked, exit 1", async () => {
  const ntfy = await startNtfyStandIn();
  const deadUrl = ntfy.url;
  await ntfy.stop();
  const broken = await doctor(`[cooldown]\nwindow = "5 minutes"\n`);
  const config = broken.checks.find((c) => c.name === "config");
  expect(config?.status).toBe("fail");
  expect(config?.detail).toContain(`config.toml:2: cooldown.window: expected a duration`);
  expect(broken.checks.length).toBeGreaterThan(5);
  expect(broken.code).toBe(1);

  const unreachable = await doctor(`[ntfy]\nurl = "${deadUrl}/doctor"\n`);
  const check = unreachable.checks.find((c) => c.name === "ntfy");
  expect(check).toMatchObject({ status: "fail", detail: `${deadUrl} refused the connection: is ntfy running and listening there?` });
  expect(check?.fix).toContain("outbox");
  expect(unreachable.code).toBe(1);
});

test("the text report: a line per check, fixes below, a verdict", () => {
  const text = renderChecks([
    { name: "config", status: "ok", detail: "valid" },
    { name: "journal", status: "fail", detail: "no access", fix: "sudo usermod -aG systemd-journal $USER" },
    { name: "PSI", status: "warn", detail: "missing" },
  ]);
  expect(text).toBe(
    [
      "✓ config   valid",
      "✗ journal  no access",
      "           fix: sudo usermod -aG systemd-journal $USER",
      "! PSI      missing",
      "",
      "1 problem, 1 warning",
    ].join("\n"),
  );
});
