import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isJournaldRunning } from "../../src/sources/registry.ts";
import { journalAfter, journalCursor } from "../e2e/_system.ts";
import { until } from "../_builders.ts";

// install.sh against the real thing. Without a user manager (any user): option handling, the
// checksum refusals, downloads from a local release stand-in, the files it writes. As root:
// an unprivileged user of its own with a real `systemd --user` (started as user@.service
// would: delegated cgroup, oom_score_adj 100), into which install.sh installs, upgrades,
// refuses a bad checksum, uninstalls and purges — all as that user.

const REPO = join(import.meta.dir, "..", "..");
const BUILT = join(REPO, "dist", "logtriage");
const INSTALL_SH = join(REPO, "install.sh");
const UNITS = ["logtriage.service", "logtriage-digest.service", "logtriage-digest.timer"] as const;
const ASSET = `logtriage-linux-${process.arch}`;
const isRoot = process.getuid?.() === 0;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// Async spawn: the download tests serve files from this process, so it must not block.
async function run(argv: string[], env: Record<string, string>, cwd = tmpdir()): Promise<Run> {
  const proc = Bun.spawn(argv, { env, cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, stdout, stderr };
}

function sha256(path: string): string {
  return new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex");
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

/** Every path under `dir` whose name starts with "logtriage" (units and their .wants links). */
function logtriageFilesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).filter((p) => p.split("/").pop()?.startsWith("logtriage"));
}

/** The shipped default config with every `# key = value` line switched on. */
function uncommented(toml: string): string {
  return toml.replace(/^# ([a-z_]+ = )/gm, "$1");
}

test("install.sh passes shellcheck", async () => {
  const shellcheck = Bun.which("shellcheck");
  if (shellcheck === null) {
    console.warn("shellcheck is not installed (apt-get install shellcheck; .ci/run installs it): install.sh not checked");
    return;
  }
  const r = await run([shellcheck, "--shell=sh", INSTALL_SH], { PATH: process.env["PATH"] ?? "/usr/bin:/bin" });
  expect(r.stdout + r.stderr).toBe("");
  expect(r.code).toBe(0);
});

describe("install.sh without a user manager", () => {
  const made: string[] = [];
  let server: ReturnType<typeof Bun.serve> | undefined;

  function sandbox(): { home: string; env: Record<string, string> } {
    const home = mkdtempSync(join(tmpdir(), "lt-install-"));
    made.push(home);
    const runtime = join(home, "run");
    mkdirSync(runtime, { mode: 0o700 });
    // An XDG_RUNTIME_DIR with no manager in it: install.sh must say what to run later.
    return { home, env: { PATH: "/usr/bin:/bin", HOME: home, XDG_RUNTIME_DIR: runtime, NO_COLOR: "1" } };
  }

  const install = (env: Record<string, string>, ...args: string[]) => run(["sh", INSTALL_SH, ...args], env);

  beforeAll(() => {
    if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: npm run build first`);
  });

  afterAll(async () => {
    await server?.stop(true);
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });

  test("--help prints the usage; an unknown option is refused with it", async () => {
    const { env } = sandbox();
    const help = await install(env, "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: install.sh [--system] [--uninstall [--purge]]");
    expect(help.stdout).toContain("LOGTRIAGE_SHA256SUMS");
    const bad = await install(env, "--sytem");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("unknown option: --sytem");
    expect(bad.stderr).toContain("Usage:");
  });

  test("an architecture without a build is refused before anything is written", async () => {
    const { home, env } = sandbox();
    const fakeBin = join(home, "fake-bin");
    mkdirSync(fakeBin);
    writeFileSync(join(fakeBin, "uname"), `#!/bin/sh\ncase "$1" in -m) echo riscv64 ;; *) echo Linux ;; esac\n`, { mode: 0o755 });
    const r = await install({ ...env, PATH: `${fakeBin}:${env["PATH"]}`, LOGTRIAGE_BINARY: BUILT });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no logtriage build for riscv64: releases exist for x86_64 and aarch64");
    expect(readdirSync(home).sort()).toEqual(["fake-bin", "run"]);
  });

  // As root this is checked as the unprivileged user of the live tests below.
  test.skipIf(isRoot)("--system needs root", async () => {
    const { env } = sandbox();
    const r = await install({ ...env, LOGTRIAGE_BINARY: BUILT }, "--system");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("run it as root");
  });

  test("a local binary: installed, unit files as in the repository, a 0600 config that parses; commands to run later", async () => {
    const { home, env } = sandbox();
    const r = await install({ ...env, LOGTRIAGE_BINARY: BUILT });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `Could not verify ${BUILT} against a published checksum (no LOGTRIAGE_SHA256SUMS): its SHA-256 is ${sha256(BUILT)}.`,
    );
    expect(r.stdout).toContain(
      "No systemd manager reachable from here; to start logtriage later run:\n  systemctl --user daemon-reload\n  systemctl --user enable --now logtriage.service logtriage-digest.timer\n",
    );
    const bin = join(home, ".local", "bin", "logtriage");
    expect(sha256(bin)).toBe(sha256(BUILT));
    expect(mode(bin)).toBe(0o755);
    for (const unit of UNITS)
      expect(readFileSync(join(home, ".config", "systemd", "user", unit), "utf8")).toBe(readFileSync(join(REPO, unit), "utf8"));
    const config = join(home, ".config", "logtriage", "config.toml");
    expect(mode(config)).toBe(0o600);
    expect(r.stdout).toContain(`then check it with: ${bin} test-ntfy`);

    // The file parses, and so does every commented default switched on: the shipped copy
    // keeps up with the config schema.
    const status = await run([bin, "status", "--config", config], env);
    expect(status.stderr).toBe("");
    expect(status.code).toBe(0);
    const allOn = join(home, "all-on.toml");
    const text = readFileSync(config, "utf8");
    writeFileSync(allOn, uncommented(text));
    expect(uncommented(text)).toContain('url = "https://ntfy.sh/your-secret-topic"');
    // The API token is generated into the 0600 file, live (not commented), under [http]: turning
    // the API on with listen = … never opens it without one.
    const token = /^\[http\][^[]*^token = "([0-9a-f]{48})"$/m.exec(text);
    expect(token).not.toBeNull();
    expect(uncommented(text)).toContain('listen = "127.0.0.1:9876"');
    const statusAllOn = await run([bin, "status", "--config", allOn], env);
    expect(statusAllOn.stderr).toBe("");
    expect(statusAllOn.code).toBe(0);

    const again = await install({ ...env, LOGTRIAGE_BINARY: BUILT });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`Kept ${config}.`);
    expect(readFileSync(config, "utf8")).toBe(text);
    expect(readdirSync(join(home, ".local", "bin"))).toEqual(["logtriage"]);
  });

  test("the digest schedule comes from the config; a bad one falls back with a warning; enabled = false leaves the timer off", async () => {
    const { home, env } = sandbox();
    const configDir = join(home, ".config", "logtriage");
    mkdirSync(configDir, { recursive: true });
    const timer = join(home, ".config", "systemd", "user", "logtriage-digest.timer");

    writeFileSync(join(configDir, "config.toml"), `[digest] # weekly\nschedule = 'Mon *-*-* 08:30' # before work\n`);
    const r = await install({ ...env, LOGTRIAGE_BINARY: BUILT });
    expect(r.code).toBe(0);
    expect(readFileSync(timer, "utf8")).toContain("\nOnCalendar=Mon *-*-* 08:30\n");
    expect(r.stdout).toContain("(digest: Mon *-*-* 08:30)");

    writeFileSync(join(configDir, "config.toml"), `[digest]\nschedule = "every sunday"\nenabled = false\n`);
    const bad = await install({ ...env, LOGTRIAGE_BINARY: BUILT });
    expect(bad.code).toBe(0);
    expect(bad.stderr).toContain(`[digest] schedule = "every sunday" in ${join(configDir, "config.toml")} is not a systemd calendar spec`);
    expect(readFileSync(timer, "utf8")).toContain("\nOnCalendar=Sun 09:00\n");
    expect(bad.stdout).toContain("  systemctl --user enable --now logtriage.service\n");
  });

  test("LOGTRIAGE_SHA256SUMS: a matching sum is verified, a wrong one refuses and installs nothing", async () => {
    const { home, env } = sandbox();
    const good = join(home, "SHA256SUMS.good");
    writeFileSync(good, `${sha256(BUILT)}  ${ASSET}\n`);
    const ok = await install({ ...env, LOGTRIAGE_BINARY: BUILT, LOGTRIAGE_SHA256SUMS: good });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`Checksum OK (${sha256(BUILT)}).`);

    const fresh = sandbox();
    const wrong = join(fresh.home, "SHA256SUMS.wrong");
    writeFileSync(wrong, `${"0".repeat(64)}  ${ASSET}\n`);
    const refused = await install({ ...fresh.env, LOGTRIAGE_BINARY: BUILT, LOGTRIAGE_SHA256SUMS: wrong });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `checksum mismatch for ${BUILT}: SHA-256 is ${sha256(BUILT)}, the published sum is ${"0".repeat(64)}. Nothing was installed`,
    );
    expect(existsSync(join(fresh.home, ".config"))).toBe(false);
    expect(readdirSync(join(fresh.home, ".local", "bin"))).toEqual([]);

    const noLine = join(fresh.home, "SHA256SUMS.other");
    writeFileSync(noLine, `${sha256(BUILT)}  something-else\n`);
    const missing = await install({ ...fresh.env, LOGTRIAGE_BINARY: BUILT, LOGTRIAGE_SHA256SUMS: noLine });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`has no line for logtriage or ${ASSET}: refusing to install`);
  });

  test("a file that does not run here is refused", async () => {
    const { home, env } = sandbox();
    const notBinary = join(home, "logtriage-linux-x64");
    writeFileSync(notBinary, "\x7fELF but not really\n");
    const r = await install({ ...env, LOGTRIAGE_BINARY: notBinary });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${notBinary} does not run on this machine`);
    expect(readdirSync(join(home, ".local", "bin"))).toEqual([]);
  });

  const downloader = Bun.which("curl", { PATH: "/usr/bin:/bin" }) ?? Bun.which("wget", { PATH: "/usr/bin:/bin" });
  if (downloader === null) console.warn("tests/install: neither curl nor wget is installed: the download test is skipped");
  test.skipIf(downloader === null)("downloads the binary and SHA256SUMS from LOGTRIAGE_BASE_URL and refuses a mismatch", async () => {
    let sums = `${sha256(BUILT)}  ${ASSET}\n`;
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        const path = new URL(request.url).pathname;
        if (path === `/download/${ASSET}`) return new Response(Bun.file(BUILT));
        if (path === "/download/SHA256SUMS") return new Response(sums);
        return new Response("not found", { status: 404 });
      },
    });
    const base = `http://127.0.0.1:${server.port}/download`;
    const { home, env } = sandbox();
    const r = await install({ ...env, LOGTRIAGE_BASE_URL: base });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Downloading ${base}/${ASSET}`);
    expect(r.stdout).toContain(`Checksum OK (${sha256(BUILT)}).`);
    expect(sha256(join(home, ".local", "bin", "logtriage"))).toBe(sha256(BUILT));

    sums = `${"f".repeat(64)}  ${ASSET}\n`;
    const fresh = sandbox();
    const refused = await install({ ...fresh.env, LOGTRIAGE_BASE_URL: base });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`checksum mismatch for `);
    expect(refused.stderr).toContain(`the published sum is ${"f".repeat(64)}. Nothing was installed`);
    expect(readdirSync(join(fresh.home, ".local", "bin"))).toEqual([]);

    const gone = await install({ ...fresh.env, LOGTRIAGE_BASE_URL: `${base}/missing` });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`could not download ${base}/missing/${ASSET}`);
  });
});

describe.skipIf(!isRoot)("install.sh --system (root)", () => {
  const rootHome = Bun.spawnSync(["getent", "passwd", "root"]).stdout.toString().trim().split(":")[5] || "/root";
  const paths = {
    bin: "/usr/local/bin/logtriage",
    units: UNITS.map((u) => join("/etc/systemd/system", u)),
    config: join(rootHome, ".config", "logtriage"),
    data: join(rootHome, ".local", "share", "logtriage"),
  };
  // Never on top of a real system install or root's own logtriage files.
  const occupied = [paths.bin, ...paths.units, paths.config, paths.data].filter((p) => existsSync(p));
  if (occupied.length > 0) console.warn(`tests/install: --system not tested, these exist already: ${occupied.join(", ")}`);
  const env = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", HOME: rootHome, NO_COLOR: "1" };

  afterAll(() => {
    if (occupied.length > 0) return;
    // --uninstall keeps config and data by design; the test made them.
    rmSync(paths.config, { recursive: true, force: true });
    rmSync(paths.data, { recursive: true, force: true });
    rmSync(paths.bin, { force: true });
    for (const unit of paths.units) rmSync(unit, { force: true });
  });

  test.skipIf(occupied.length > 0)("installs system units that run as root with OOMScoreAdjust=-900, and uninstalls them", async () => {
    const r = await run(["sh", INSTALL_SH, "--system"], { ...env, LOGTRIAGE_BINARY: BUILT });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(sha256(paths.bin)).toBe(sha256(BUILT));
    const service = readFileSync("/etc/systemd/system/logtriage.service", "utf8");
    expect(service).toContain("\nUser=root\nExecStart=/usr/local/bin/logtriage daemon\n");
    expect(service).toContain("\nOOMScoreAdjust=-900\n");
    expect(service).toContain("\nWantedBy=multi-user.target\n");
    expect(readFileSync("/etc/systemd/system/logtriage-digest.service", "utf8")).toContain(
      "\nExecStart=/usr/local/bin/logtriage digest --send\n",
    );
    expect(mode(join(paths.config, "config.toml"))).toBe(0o600);
    const verify = await run(["systemd-analyze", "verify", ...paths.units], env);
    expect(verify.stdout + verify.stderr).toBe("");
    expect(verify.code).toBe(0);
    // systemd is not PID 1 on the test machines: there is no system manager to enable them with.
    if (!existsSync("/run/systemd/private"))
      expect(r.stdout).toContain("  systemctl daemon-reload\n  systemctl enable --now logtriage.service logtriage-digest.timer\n");

    const u = await run(["sh", INSTALL_SH, "--system", "--uninstall"], env);
    expect(u.code).toBe(0);
    expect(existsSync(paths.bin)).toBe(false);
    for (const unit of paths.units) expect(existsSync(unit)).toBe(false);
    expect(existsSync(join(paths.config, "config.toml"))).toBe(true);
  });
});

if (!isRoot) console.warn("tests/install: the live tests need root (to create a user and start its systemd --user manager): skipped");

describe.skipIf(!isRoot)("install.sh as an unprivileged user with a real systemd --user", () => {
  const name = `lt-inst-${Math.random().toString(16).slice(2, 8)}`;
  let uid = -1;
  let gid = -1;
  let home = "";
  let runtimeDir = "";
  let filesDir = "";
  let manager: ReturnType<typeof Bun.spawn> | undefined;
  let userCreated = false;
  /** Directories this test created, removed in reverse order. */
  const createdDirs: string[] = [];

  const userEnv = (extra: Record<string, string> = {}) => ({
    HOME: home,
    USER: name,
    LOGNAME: name,
    SHELL: "/bin/sh",
    PATH: "/usr/bin:/bin",
    XDG_RUNTIME_DIR: runtimeDir,
    NO_COLOR: "1",
    ...extra,
  });
  const asUser = (argv: string[], extra: Record<string, string> = {}) =>
    run(["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--init-groups", ...argv], userEnv(extra), home);
  const systemctl = (...args: string[]) => asUser(["systemctl", "--user", ...args]);
  const show = async (unit: string, property: string) => (await systemctl("show", "-p", property, "--value", unit)).stdout.trim();
  const install = (extra: Record<string, string>, ...args: string[]) => asUser(["sh", join(filesDir, "install.sh"), ...args], extra);
  const localBinary = () => ({ LOGTRIAGE_BINARY: join(filesDir, "logtriage") });

  const unitDir = () => join(home, ".config", "systemd", "user");
  const binPath = () => join(home, ".local", "bin", "logtriage");
  const configPath = () => join(home, ".config", "logtriage", "config.toml");
  const dbPath = () => join(home, ".local", "share", "logtriage", "events.db");

  function mkdirTracked(path: string, ownerUid?: number): void {
    if (existsSync(path)) return;
    mkdirSync(path);
    createdDirs.push(path);
    if (ownerUid !== undefined) chownSync(path, ownerUid, gid);
  }

  /**
   * user@.service gives the manager a cgroup it may manage (Delegate=) — without one,
   * `systemd --user` exits with "Failed to create /init.scope control group: Permission
   * denied". The same here, in each hierarchy systemd tracks processes with (cgroup v2, and
   * the v1 name=systemd one on a hybrid machine). Returns the cgroup.procs files to join.
   */
  function delegateCgroup(): string[] {
    const roots = existsSync("/sys/fs/cgroup/cgroup.controllers")
      ? ["/sys/fs/cgroup"]
      : ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"].filter(existsSync);
    const procsFiles: string[] = [];
    for (const root of roots) {
      let dir = root;
      for (const part of ["user.slice", `user-${uid}.slice`, `user@${uid}.service`]) {
        dir = join(dir, part);
        mkdirTracked(dir);
      }
      chownSync(dir, uid, gid);
      for (const file of ["cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "tasks"]) {
        if (existsSync(join(dir, file))) chownSync(join(dir, file), uid, gid);
      }
      procsFiles.push(join(dir, "cgroup.procs"));
    }
    return procsFiles;
  }

  /** cgroups the manager made below ours (init.scope, app.slice/…): leaves first. */
  function removeCgroupTree(dir: string): void {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeCgroupTree(join(dir, entry.name));
    rmdirSync(dir);
  }

  beforeAll(async () => {
    if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: npm run build first`);
    const add = Bun.spawnSync(["useradd", "-m", "-s", "/bin/sh", name], { stderr: "pipe" });
    if (add.exitCode !== 0) throw new Error(`useradd ${name}: ${add.stderr.toString()}`);
    userCreated = true;
    uid = Number(Bun.spawnSync(["id", "-u", name]).stdout.toString());
    gid = Number(Bun.spawnSync(["id", "-g", name]).stdout.toString());
    home = Bun.spawnSync(["getent", "passwd", name]).stdout.toString().trim().split(":")[5] ?? "";
    expect(home).toStartWith("/");

    // A copy the user can read (the checkout may sit under a directory it cannot enter).
    filesDir = mkdtempSync(join(tmpdir(), "lt-install-files-"));
    chmodSync(filesDir, 0o755);
    copyFileSync(BUILT, join(filesDir, "logtriage"));
    chmodSync(join(filesDir, "logtriage"), 0o755);
    copyFileSync(INSTALL_SH, join(filesDir, "install.sh"));
    chmodSync(join(filesDir, "install.sh"), 0o644);

    // /run/systemd/system tells systemd it "booted with systemd" (sd_booted(3): the directory
    // exists only when systemd is PID 1, which it is not on the machines these tests run on).
    mkdirTracked("/run/systemd");
    mkdirTracked("/run/systemd/system");
    mkdirTracked("/run/user");
    runtimeDir = `/run/user/${uid}`;
    mkdirTracked(runtimeDir, uid);
    chmodSync(runtimeDir, 0o700);

    const procsFiles = delegateCgroup();
    // As user@.service starts it: in its delegated cgroup, with OOMScoreAdjust=100.
    const start = `echo 100 > /proc/self/oom_score_adj; for f in "$@"; do echo $$ > "$f"; done; exec setpriv --reuid=${uid} --regid=${gid} --init-groups /lib/systemd/systemd --user --log-target=journal`;
    manager = Bun.spawn(["sh", "-c", start, "sh", ...procsFiles], { env: userEnv(), cwd: home, stdout: "ignore", stderr: "ignore" });
    await until(
      "the user manager to answer",
      async () => {
        if (manager?.exitCode !== null) throw new Error(`systemd --user exited (${manager?.exitCode}); its reasons are in the journal`);
        const state = (await systemctl("is-system-running")).stdout.trim();
        return state === "running" || state === "degraded";
      },
      20_000,
      100,
    );
  }, 60_000);

  afterAll(async () => {
    if (manager) {
      // The manager stops its units (the daemon among them) before it exits.
      manager.kill("SIGTERM");
      const exited = await Promise.race([manager.exited.then(() => true), Bun.sleep(30_000).then(() => false)]);
      if (!exited) {
        manager.kill("SIGKILL");
        await manager.exited;
      }
    }
    if (uid >= 0) {
      await until(`the processes of ${name} to end`, () => Bun.spawnSync(["pgrep", "-u", String(uid)]).exitCode === 1, 20_000, 100);
    }
    for (const dir of [...createdDirs].reverse()) {
      if (dir === runtimeDir) rmSync(dir, { recursive: true, force: true });
      else if (dir.startsWith("/sys/fs/cgroup/") && dir.includes(String(uid))) removeCgroupTree(dir);
      else {
        try {
          rmdirSync(dir);
        } catch (error) {
          // Someone else put something there meanwhile (another user manager, journald): theirs to keep.
          console.warn(`left ${dir} in place: ${String(error)}`);
        }
      }
    }
    if (userCreated) {
      const del = Bun.spawnSync(["userdel", "-r", name], { stderr: "pipe" });
      // userdel -r exits 12 when the user had no mail spool to remove; the user and home are gone.
      if (del.exitCode !== 0 && del.exitCode !== 12) throw new Error(`userdel -r ${name}: ${del.stderr.toString()}`);
    }
    if (filesDir) rmSync(filesDir, { recursive: true, force: true });
  }, 90_000);

  test("installs binary, 0600 config and units; logtriage.service reaches active through READY=1", async () => {
    const r = await install(localBinary());
    // systemctl enable reports its symlinks on stderr; install.sh's own warnings must not appear.
    expect(r.stderr).not.toContain("logtriage install:");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Started logtriage.service.");

    expect(sha256(binPath())).toBe(sha256(BUILT));
    expect(statSync(binPath()).uid).toBe(uid);
    expect(mode(binPath())).toBe(0o755);
    expect(mode(configPath())).toBe(0o600);
    expect(statSync(configPath()).uid).toBe(uid);
    for (const unit of UNITS) expect(readFileSync(join(unitDir(), unit), "utf8")).toBe(readFileSync(join(REPO, unit), "utf8"));

    // enable --now returns once systemd has READY=1 (Type=notify), so active right away.
    expect(await show("logtriage.service", "ActiveState")).toBe("active");
    expect((await systemctl("is-active", "logtriage.service")).stdout.trim()).toBe("active");
    expect(await show("logtriage.service", "Type")).toBe("notify");
    expect(await show("logtriage.service", "WatchdogUSec")).toBe("1min");
    expect(await show("logtriage.service", "NRestarts")).toBe("0");
    expect(await show("logtriage.service", "UnitFileState")).toBe("enabled");
    expect(await show("logtriage.service", "StatusText")).not.toBe("");
    expect(await show("logtriage-digest.timer", "ActiveState")).toBe("active");
    expect(await show("logtriage-digest.timer", "TimersCalendar")).toContain("OnCalendar=Sun *-*-* 09:00:00");

    // Reload: the daemon restarts in place (RELOADING=1, exec, READY=1): a fresh start (its
    // heartbeat row says when) in the same main pid, active again, not counted as a restart.
    const daemonRow = async () =>
      (JSON.parse((await asUser([binPath(), "status", "--json"])).stdout) as { daemon: { pid: number; started: string | null } }).daemon;
    const before = await daemonRow();
    expect((await systemctl("reload", "logtriage.service")).code).toBe(0);
    await until("the fresh image's heartbeat", async () => (await daemonRow()).started !== before.started, 15_000, 100);
    await until(
      "the reloaded service active again",
      async () => (await show("logtriage.service", "ActiveState")) === "active",
      15_000,
      100,
    );
    expect((await daemonRow()).pid).toBe(before.pid);
    expect(await show("logtriage.service", "MainPID")).toBe(String(before.pid));
    expect(await show("logtriage.service", "NRestarts")).toBe("0");

    const verify = await asUser(["systemd-analyze", "--user", "verify", ...UNITS.map((u) => join(unitDir(), u))]);
    expect(verify.stdout + verify.stderr).toBe("");
    expect(verify.code).toBe(0);

    // The user is neither root nor in systemd-journal: told how to join it.
    if (Bun.spawnSync(["getent", "group", "systemd-journal"]).exitCode === 0) {
      expect(r.stdout).toContain(`  sudo usermod -aG systemd-journal ${name}\nthen log out and back in`);
    }
    expect(r.stdout).toContain(`then check it with: ${binPath()} test-ntfy`);
  }, 60_000);

  test("OOMScoreAdjust=-900 under an unprivileged manager: the unit starts, the daemon keeps the manager's score, not the default +100", async () => {
    const managerPid = manager?.pid ?? -1;
    const managerAdj = Number(readFileSync(`/proc/${managerPid}/oom_score_adj`, "utf8"));
    expect(managerAdj).toBe(100);
    // What a unit without OOMScoreAdjust= gets from an unprivileged user manager (systemd ≥ 250).
    expect((await systemctl("show", "-p", "DefaultOOMScoreAdjust", "--value")).stdout.trim()).toBe(String(managerAdj + 100));

    let cursor: string | null = null;
    if (isJournaldRunning()) {
      cursor = journalCursor();
      // systemd reports the refused write at debug level only.
      await systemctl("log-level", "debug");
    }
    try {
      expect((await systemctl("restart", "logtriage.service")).code).toBe(0);
    } finally {
      if (cursor !== null) await systemctl("log-level", "info");
    }
    expect(await show("logtriage.service", "ActiveState")).toBe("active");
    expect(await show("logtriage.service", "Result")).toBe("success");
    // systemd shows what the unit asked for...
    expect(await show("logtriage.service", "OOMScoreAdjust")).toBe("-900");
    // ...and the kernel refused it: the daemon runs with the manager's own score.
    const pid = Number(await show("logtriage.service", "MainPID"));
    expect(Number(readFileSync(`/proc/${pid}/oom_score_adj`, "utf8"))).toBe(managerAdj);
    if (cursor !== null) {
      const since = cursor;
      await until(
        "systemd's debug line",
        () =>
          journalAfter(since).includes(
            "logtriage.service: Failed to adjust OOM setting, assuming containerized execution, ignoring: Permission denied",
          ),
        10_000,
        100,
      );
    } else {
      console.warn("no journald running: the 'Failed to adjust OOM setting' debug line was not checked");
    }
  }, 60_000);

  test("re-running upgrades in place: config kept byte for byte, binary replaced atomically, service restarted, schedule from the config", async () => {
    const edited = `# mine\n[digest]\nschedule = "Mon *-*-* 08:30"\n\n[log]\nlevel = "debug"   # while testing\n`;
    writeFileSync(configPath(), edited, { mode: 0o600 });
    const oldInode = statSync(binPath()).ino;
    const oldPid = await show("logtriage.service", "MainPID");

    const r = await install(localBinary());
    expect(r.stderr).not.toContain("logtriage install:");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Kept ${configPath()}.`);
    expect(r.stdout).toContain("Restarted logtriage.service on the new binary.");
    expect(readFileSync(configPath(), "utf8")).toBe(edited);
    expect(mode(configPath())).toBe(0o600);
    expect(statSync(binPath()).ino).not.toBe(oldInode);
    expect(readdirSync(join(home, ".local", "bin"))).toEqual(["logtriage"]);
    expect(await show("logtriage.service", "ActiveState")).toBe("active");
    expect(await show("logtriage.service", "MainPID")).not.toBe(oldPid);
    expect(await show("logtriage-digest.timer", "TimersCalendar")).toContain("OnCalendar=Mon *-*-* 08:30:00");
    expect(existsSync(dbPath())).toBe(true);
  }, 60_000);

  test("a checksum mismatch refuses and leaves the installed version running", async () => {
    const wrongSums = join(filesDir, "SHA256SUMS.wrong");
    writeFileSync(wrongSums, `${"0".repeat(64)}  logtriage\n`);
    chmodSync(wrongSums, 0o644);
    const inode = statSync(binPath()).ino;
    const pid = await show("logtriage.service", "MainPID");
    const units = UNITS.map((u) => readFileSync(join(unitDir(), u), "utf8"));

    const r = await install({ ...localBinary(), LOGTRIAGE_SHA256SUMS: wrongSums });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("checksum mismatch");
    expect(r.stderr).toContain("Nothing was installed");
    expect(statSync(binPath()).ino).toBe(inode);
    expect(readdirSync(join(home, ".local", "bin"))).toEqual(["logtriage"]);
    expect(UNITS.map((u) => readFileSync(join(unitDir(), u), "utf8"))).toEqual(units);
    expect(await show("logtriage.service", "MainPID")).toBe(pid);
    expect(await show("logtriage.service", "ActiveState")).toBe("active");
  }, 60_000);

  test("--system as a user is refused", async () => {
    const r = await install(localBinary(), "--system");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("run it as root");
  });

  test("--uninstall stops the service and removes binary and units; config and data stay", async () => {
    const pid = Number(await show("logtriage.service", "MainPID"));
    const r = await install({}, "--uninstall");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `Kept ${join(home, ".config", "logtriage")} and ${join(home, ".local", "share", "logtriage")} (remove them with --purge).`,
    );
    expect(existsSync(binPath())).toBe(false);
    expect(logtriageFilesUnder(unitDir())).toEqual([]);
    expect((await systemctl("list-unit-files", "--no-legend")).stdout).not.toContain("logtriage");
    expect((await systemctl("list-units", "--all", "--no-legend")).stdout).not.toContain("logtriage");
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(existsSync(configPath())).toBe(true);
    expect(existsSync(dbPath())).toBe(true);

    // Again: nothing left to remove is no error.
    expect((await install({}, "--uninstall")).code).toBe(0);
  }, 60_000);

  test("--purge after a fresh install removes config and data too", async () => {
    expect((await install(localBinary())).code).toBe(0);
    expect(await show("logtriage.service", "ActiveState")).toBe("active");
    const r = await install({}, "--uninstall", "--purge");
    expect(r.code).toBe(0);
    expect(existsSync(join(home, ".config", "logtriage"))).toBe(false);
    expect(existsSync(join(home, ".local", "share", "logtriage"))).toBe(false);
    expect(existsSync(binPath())).toBe(false);
    expect(logtriageFilesUnder(unitDir())).toEqual([]);
    expect((await systemctl("list-unit-files", "--no-legend")).stdout).not.toContain("logtriage");
  }, 60_000);
});
