import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { openStore } from "../../src/store/db.ts";
import { writeHeartbeat } from "../../src/store/daemon-state.ts";
import { newSourceStats } from "../../src/sources/source.ts";
import { startNtfyStandIn } from "../_ntfy-standin.ts";
import { BIN, sandbox, type Sandbox } from "./_run.ts";

// `logtriage doctor` on the compiled binary, for what matters when something goes wrong: ntfy
// credentials and topic access (asked without publishing), a damaged database, the digest
// schedule, and whether the daemon can see at all.

type CheckRow = { name: string; status: string; detail: string; fix?: string };

const boxes: string[] = [];
afterAll(() => {
  for (const home of boxes) rmSync(home, { recursive: true, force: true });
});

function box(configToml: string): Sandbox {
  const b = sandbox();
  boxes.push(b.home);
  writeFileSync(join(b.configDir, "config.toml"), configToml);
  return b;
}

async function doctor(b: Sandbox, args: string[] = [], wrap: string[] = []): Promise<{ code: number; checks: Record<string, CheckRow> }> {
  // Asynchronous: the ntfy stand-in answers from this very process.
  const p = Bun.spawn([...wrap, BIN, "doctor", "--json", ...args], { env: b.env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (!stdout.startsWith("{")) throw new Error(`doctor printed no JSON (exit ${code}): ${stderr}`);
  const checks = (JSON.parse(stdout) as { checks: CheckRow[] }).checks;
  return { code, checks: Object.fromEntries(checks.map((c) => [c.name, c])) };
}

describe("ntfy: login and topic access, nothing published", () => {
  test.each([
    ["the right token", `token = "tk_right"`, { login: "ok", topic: "ok" }],
    ["a wrong token", `token = "tk_wrong"`, { login: "fail", topic: "fail" }],
    ["no credentials on a server that needs them", "", { login: "ok", topic: "warn" }],
  ])("%s", async (_name, credentials, expected) => {
    const ntfy = await startNtfyStandIn({ token: "tk_right" });
    try {
      const r = await doctor(box(`[ntfy]\nurl = "${ntfy.url}/alerts"\n${credentials}\n[digest]\nenabled = false\n`));
      expect(r.checks["ntfy login"]?.status).toBe(expected.login);
      expect(r.checks["ntfy topic"]?.status).toBe(expected.topic);
      if (expected.login === "fail") expect(r.checks["ntfy login"]?.detail).toContain("refused the token (401 unauthorized)");
      if (expected.topic === "warn") {
        expect(r.checks["ntfy login"]?.detail).toContain("anonymous");
        expect(r.checks["ntfy topic"]?.detail).toContain("may not read it (403)");
        expect(r.checks["ntfy topic"]?.fix).toContain("test-ntfy");
      }
      if (expected.login === "ok" && expected.topic === "ok") expect(r.checks["ntfy login"]?.detail).toContain("standin-token-owner");
      expect(ntfy.messages).toHaveLength(0);
      expect(ntfy.requests.map((q) => `${q.method} ${q.path}`)).toEqual(expect.arrayContaining(["GET /v1/account", "GET /alerts/auth"]));
      expect(r.code).toBe(Object.values(r.checks).some((c) => c.status === "fail") ? 1 : 0);
    } finally {
      await ntfy.stop();
    }
  });
});

describe("database integrity", () => {
  function storeWithEvents(path: string): void {
    const db = openStore(path);
    db.run("CREATE TABLE filler (id INTEGER PRIMARY KEY, text TEXT)");
    db.run("CREATE INDEX filler_text ON filler (text)");
    const insert = db.prepare("INSERT INTO filler (text) VALUES (?)");
    for (let i = 0; i < 2000; i++) insert.run(`row ${i} ${"x".repeat(200)}`);
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
  }

  test("a sound database: integrity ok", async () => {
    const b = box("[digest]\nenabled = false\n");
    const path = join(b.dataDir, "sound.db");
    storeWithEvents(path);
    const r = await doctor(b, ["--db", path]);
    expect(r.checks["database"]?.status).toBe("ok");
    expect(r.checks["database"]?.detail).toContain("integrity ok");
  });

  test("pages overwritten in the middle of the file: damaged, with the fix", async () => {
    const b = box("[digest]\nenabled = false\n");
    const path = join(b.dataDir, "damaged.db");
    storeWithEvents(path);
    const pageSize = (() => {
      const db = new Database(path, { readonly: true });
      try {
        return (db.query("PRAGMA page_size").get() as { page_size: number }).page_size;
      } finally {
        db.close();
      }
    })();
    const pages = Math.floor(statSync(path).size / pageSize);
    // Garbage over a run of pages past the schema (page 1): the header still opens, the tree does not add up.
    const fd = openSync(path, "r+");
    const garbage = Buffer.alloc(pageSize * 4, 0xa5);
    writeSync(fd, garbage, 0, garbage.length, pageSize * Math.floor(pages / 2));
    closeSync(fd);
    const r = await doctor(b, ["--db", path]);
    expect(r.checks["database"]?.status).toBe("fail");
    expect(r.checks["database"]?.detail).toContain("is damaged");
    expect(r.checks["database"]?.fix).toContain(".recover");
    expect(r.code).toBe(1);
  });

  test("a file that is not a database at all", async () => {
    const b = box("[digest]\nenabled = false\n");
    const path = join(b.dataDir, "garbage.db");
    mkdirSync(b.dataDir, { recursive: true });
    writeFileSync(path, Buffer.alloc(8192, 0x41));
    const r = await doctor(b, ["--db", path]);
    expect(r.checks["database"]?.status).toBe("fail");
    expect(r.checks["database"]?.fix).toContain(".recover");
  });
});

describe("digest schedule, through systemd-analyze calendar", () => {
  test.skipIf(!Bun.which("systemd-analyze"))(
    "a valid schedule says when it runs next; an invalid one fails with systemd's words",
    async () => {
      const good = await doctor(box(`[digest]\nschedule = "Sun 09:00"\n`));
      expect(good.checks["digest"]?.status).toBe("ok");
      expect(good.checks["digest"]?.detail).toMatch(/schedule "Sun 09:00": next Sun \d{4}-\d\d-\d\d 09:00:00/);
      const bad = await doctor(box(`[digest]\nschedule = "every sunday at nine"\n`));
      expect(bad.checks["digest"]?.status).toBe("fail");
      expect(bad.checks["digest"]?.detail).toContain("is not a systemd calendar spec");
      expect(bad.code).toBe(1);
    },
  );
});

describe("sight: would the daemon see, and does the running one", () => {
  test("the running daemon's blindness (from its heartbeat row) is a failure with its fix", async () => {
    const b = box("[digest]\nenabled = false\n");
    const path = join(b.dataDir, "events.db");
    const db = openStore(path);
    const nowUs = Date.now() * 1000;
    // This test process stands for the daemon: a live pid with a fresh heartbeat is "running".
    writeHeartbeat(db, process.pid, nowUs, nowUs, {
      version: "test",
      instance: "box",
      source: { name: "journal", reason: "r", stats: newSourceStats(), lastEntryUs: null, lagUs: null, committed: null },
      psi: null,
      notifications: "off",
      heldCandidates: 0,
      blind: [{ subject: "journald", cause: "journald (pid 77) stopped", fix: "start systemd-journald", sinceUs: nowUs }],
    });
    db.close();
    const r = await doctor(b, ["--db", path]);
    expect(r.checks["sight (running)"]).toMatchObject({
      status: "fail",
      detail: "the running daemon is blind: journald (pid 77) stopped",
      fix: "start systemd-journald",
    });
  });

  test.skipIf(process.getuid?.() !== 0 || !Bun.which("setpriv"))(
    "an unprivileged user outside systemd-journal with kernel.dmesg_restrict=1: blind, and told both fixes",
    async () => {
      const restrict = (await Bun.file("/proc/sys/kernel/dmesg_restrict").text()).trim();
      if (restrict !== "1") return expect(restrict).toBe("0"); // the kernel lets anyone read /dev/kmsg here: nothing to show
      const b = box("[digest]\nenabled = false\n");
      // nobody must reach its HOME and the binary; the sandbox is private to root otherwise.
      for (const dir of [b.home, ...readdirSync(b.home, { recursive: true }).map((p) => join(b.home, String(p)))])
        chmodSync(dir, statSync(dir).isDirectory() ? 0o777 : 0o666);
      const r = await doctor(b, [], ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]);
      expect(r.checks["sight"]?.status).toBe("fail");
      expect(r.checks["sight"]?.detail).toContain("a daemon started now would be blind");
      expect(r.checks["sight"]?.fix).toContain("kernel.dmesg_restrict=0");
      expect(r.code).toBe(1);
    },
  );
});
