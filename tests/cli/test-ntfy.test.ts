import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startNtfyStandIn, type NtfyStandIn } from "../_ntfy-standin.ts";
import { BIN, sandbox, type CliResult, type Sandbox } from "./_run.ts";

// `logtriage test-ntfy`, the compiled binary, against the local ntfy stand-in. The binary is
// spawned asynchronously: the stand-in answers from this process's event loop, which a
// spawnSync would block.

const box = sandbox();
let ntfy: NtfyStandIn;
beforeAll(async () => {
  ntfy = await startNtfyStandIn({ token: "tk_right" });
});
afterAll(async () => {
  await ntfy.stop();
  rmSync(box.home, { recursive: true, force: true });
});

const configPath = join(box.configDir, "config.toml");

function writeConfig(ntfyTable: string): void {
  writeFileSync(configPath, `[instance]\nid = "nas-01"\n\n[ntfy]\n${ntfyTable}\n`);
}

async function run(args: string[], sb: Sandbox = box): Promise<CliResult> {
  const proc = Bun.spawn([BIN, ...args], { env: sb.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

test("success: the message arrives with the instance in the title, 'sent to' on stdout, exit 0", async () => {
  writeConfig(`url = "${ntfy.topicUrl("alerts")}"\ntoken = "tk_right"`);
  const before = ntfy.messages.length;
  const r = await run(["test-ntfy"]);
  expect([r.code, r.stdout, r.stderr]).toEqual([0, `sent to ${ntfy.url}/alerts\n`, ""]);
  const received = ntfy.messages.slice(before);
  expect(received).toHaveLength(1);
  expect(received[0]?.title).toBe("🔔 [nas-01] logtriage test notification");
  expect(received[0]?.message).toStartWith("logtriage test notification from nas-01.\n");
  expect(received[0]?.authorization).toBe("Bearer tk_right");
});

test("a rejected token: the reason in one line on stderr, exit 1, no stack trace", async () => {
  writeConfig(`url = "${ntfy.topicUrl("alerts")}"\ntoken = "tk_wrong"`);
  const r = await run(["test-ntfy"]);
  expect(r.code).toBe(1);
  expect(r.stdout).toBe("");
  expect(r.stderr).toBe(
    `logtriage: ${ntfy.url} rejected the credentials for topic "alerts" (HTTP 401: unauthorized, ntfy code 40101): check [ntfy] token / token_file / user+password\n`,
  );
});

test("nothing listening: exit 1 with the reason", async () => {
  writeConfig(`url = "http://127.0.0.1:9/alerts"\ntimeout = "3s"`);
  const r = await run(["test-ntfy"]);
  expect([r.code, r.stderr]).toEqual([1, "logtriage: http://127.0.0.1:9 refused the connection: is ntfy running and listening there?\n"]);
});

test("no [ntfy] url: says where to set it, exit 2", async () => {
  writeConfig(`url = ""`);
  const r = await run(["test-ntfy"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toBe(`logtriage: no ntfy topic configured: set [ntfy] url in ${configPath}, e.g. url = "https://ntfy.sh/my-topic"\n`);
});

test("no config file at all: names the default config path to create", async () => {
  const bare = sandbox();
  try {
    const r = await run(["test-ntfy"], bare);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`set [ntfy] url in ${join(bare.configDir, "config.toml")}`);
  } finally {
    rmSync(bare.home, { recursive: true, force: true });
  }
});

test("a url without a topic: exit 2, naming the file, line and the expected form", async () => {
  writeConfig(`url = "https://ntfy.sh/"`);
  const r = await run(["test-ntfy"]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(
    /^logtriage: .*config\.toml:\d+: ntfy\.url: expected an ntfy topic URL like "https:\/\/ntfy\.sh\/my-topic", or "" for no notifications, got "https:\/\/ntfy\.sh\/"\n$/,
  );
});
