import { existsSync, mkdirSync, realpathSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isJournaldRunning } from "../../src/sources/registry.ts";
import { until } from "../_builders.ts";

// The real system pieces the end-to-end tests use: a journald
// (started here only if none runs, and then stopped again), real cgroup v1 OOM kills and
// real segfaults. Tests remember what they started and stop exactly that — never by name.

export const isRoot = process.getuid?.() === 0;

function run(argv: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const p = Bun.spawnSync(argv, {
    stdin: input === undefined ? "ignore" : new TextEncoder().encode(input),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

export interface Journald {
  /** True when this harness started journald (and so may restart and must stop it). */
  readonly ours: boolean;
  /** Stop and start our journald again (a journald restart, as after an upgrade). */
  restart(): Promise<void>;
  /** Our journald's pid; null when it is not ours or not running. */
  pid(): number | null;
  /** kill -9 our journald (as the OOM killer would) and wait until it is gone; `start()` brings one up again. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A journald.conf drop-in the harness writes before starting its journald (and removes after). */
const DROP_IN_DIR = "/run/systemd/journald.conf.d";
const DROP_IN = join(DROP_IN_DIR, "90-logtriage-test.conf");

const JOURNAL_SOCKETS = ["socket", "stdout", "dev-log"].map((name) => join("/run/systemd/journal", name));

async function spawnJournald(): Promise<ReturnType<typeof Bun.spawn>> {
  mkdirSync("/run/systemd/journal", { recursive: true });
  // A stopped journald leaves its socket files behind: seeing them proves nothing about the new
  // one, and a test's first line sent before it listens is refused. Gone first, then awaited.
  for (const socket of JOURNAL_SOCKETS) rmSync(socket, { force: true });
  const proc = Bun.spawn(["/lib/systemd/systemd-journald"], { stdout: "ignore", stderr: "ignore" });
  const probe = `lt-journald-up-${process.pid}-${Date.now()}`;
  let sent = false;
  await until(
    "journald to take a line and show it",
    () => {
      if (proc.exitCode !== null) throw new Error(`systemd-journald exited with ${proc.exitCode} at start`);
      if (!JOURNAL_SOCKETS.every((socket) => existsSync(socket))) return false;
      sent ||= run(["systemd-cat", "-t", "lt-harness"], `${probe}\n`).code === 0;
      return sent && journalShows(probe);
    },
    15_000,
    100,
  );
  return proc;
}

/**
 * `rateLimitOff`: journald drops a service's lines beyond 10,000 per 30 s by default
 * (RateLimitBurst); a storm benchmark needs them all. Applies only to a journald started here.
 *
 * A journald started here also keeps few runtime journal files (RuntimeMaxFiles): the tests
 * kill journald on purpose, and every kill leaves an archived file behind; a reader of the
 * journal steps through every file for every entry, so after a few hundred test runs on one
 * machine (a CI box, a development VM) a resumed reader fell to a few hundred entries a
 * second. Only a machine with no journald of its own (which is what lets the harness start
 * one) is touched, and only its runtime journal under /run.
 */
export async function ensureJournald(options: { rateLimitOff?: boolean } = {}): Promise<Journald> {
  if (isJournaldRunning())
    return { ours: false, restart: async () => {}, stop: async () => {}, pid: () => null, kill: async () => {}, start: async () => {} };
  mkdirSync(DROP_IN_DIR, { recursive: true });
  writeFileSync(DROP_IN, `[Journal]\nRuntimeMaxFiles=8\n${options.rateLimitOff ? "RateLimitBurst=0\n" : ""}`);
  let proc = await spawnJournald();
  let killed = false;
  return {
    ours: true,
    pid: () => (killed ? null : proc.pid),
    kill: async () => {
      proc.kill("SIGKILL");
      await proc.exited;
      killed = true;
    },
    start: async () => {
      proc = await spawnJournald();
      killed = false;
    },
    restart: async () => {
      proc.kill("SIGTERM");
      await proc.exited;
      proc = await spawnJournald();
    },
    stop: async () => {
      if (killed) return rmSync(DROP_IN, { force: true });
      proc.kill("SIGTERM");
      await proc.exited;
      rmSync(DROP_IN, { force: true });
    },
  };
}

export interface UserManager {
  /** Environment for systemctl --user / systemd-run --user against this manager. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * A real `systemd --user` manager for root (where no login session started one), started only if none answers on
 * /run/user/0. Units the tests create are transient (`systemd-run --user`) and are removed
 * by the tests themselves.
 */
export async function ensureUserManager(): Promise<UserManager> {
  const runtimeDir = "/run/user/0";
  const env = { ...(process.env as Record<string, string>), XDG_RUNTIME_DIR: runtimeDir };
  const answers = () =>
    Bun.spawnSync(["systemctl", "--user", "is-system-running"], { env, stdout: "pipe", stderr: "pipe" }).stdout.toString().trim() !== "";
  if (existsSync(join(runtimeDir, "systemd", "private")) && answers()) return { env, stop: async () => {} };
  // /run/systemd/system tells systemd it "booted with systemd".
  mkdirSync("/run/systemd/system", { recursive: true });
  mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  // A manager started just after journald sometimes connects its units' stdout before
  // journald's stream socket takes them, and their output never reaches the journal (seen here
  // about one start in four). Start it again until a unit's line arrives; a manager whose
  // units' lines never arrive is an error here, not a test failing later for no visible reason.
  let lastProblem = "";
  for (let attempt = 1; attempt <= 4; attempt++) {
    const proc = Bun.spawn(["/lib/systemd/systemd", "--user", "--log-target=journal"], { env, stdout: "ignore", stderr: "ignore" });
    await until(
      "the user manager to answer",
      () => {
        if (proc.exitCode !== null) throw new Error(`systemd --user exited with ${proc.exitCode} at start`);
        return answers();
      },
      15_000,
      100,
    );
    const stop = async () => {
      proc.kill("SIGTERM");
      await proc.exited;
    };
    if (!journaldRunning()) return { env, stop };
    const reached = await unitOutputReachesJournal(env);
    if (reached === null) return { env, stop };
    lastProblem = reached;
    await stop();
  }
  throw new Error(`a user unit's output never reached the journal in 4 starts of systemd --user: ${lastProblem}`);
}

function journaldRunning(): boolean {
  return Bun.spawnSync(["pgrep", "-x", "systemd-journal"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

/** Whether the journal holds an entry whose message is exactly `message`. */
function journalShows(message: string): boolean {
  return run(["journalctl", "--quiet", "-o", "cat", `MESSAGE=${message}`]).stdout.includes(message);
}

/**
 * Runs a transient user unit that prints a line and waits for what shows that line arrived:
 * null once the journal holds it, or why not. The unit is run with --wait, so by then its
 * output is written and its stream closed; `journalctl --sync` then asks journald to write
 * out what it has taken in. What remains is journald reading a closed stream, which a loaded
 * machine may delay but not forever: the 20 s bound only tells a lost line from a slow one.
 */
async function unitOutputReachesJournal(env: Record<string, string>): Promise<string | null> {
  const marker = `lt-warmup-${process.pid}-${Date.now()}`;
  const started = Bun.spawn(["systemd-run", "--user", "--quiet", "--wait", "--collect", `--unit=${marker}`, "/bin/echo", marker], {
    env,
    stdout: "ignore",
    stderr: "pipe",
  });
  if ((await started.exited) !== 0) return `systemd-run --user failed: ${(await new Response(started.stderr).text()).trim()}`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    run(["journalctl", "--sync"]);
    if (journalShows(marker)) return null;
    await Bun.sleep(100);
  }
  return `the line of ${marker}.service did not reach the journal within 20 s of the unit's exit`;
}

/** The cursor of the newest journal entry (entries after it are what a test caused). */
export function journalCursor(): string {
  const r = run(["journalctl", "-n", "1", "-o", "json", "--all", "--no-pager"]);
  const cursor = (JSON.parse(r.stdout.trim().split("\n").pop() ?? "{}") as { __CURSOR?: string }).__CURSOR;
  if (!cursor) throw new Error(`journal has no entries yet: ${r.stderr}`);
  return cursor;
}

export function journalAfter(cursor: string): string {
  return run(["journalctl", "-o", "json", "--all", "--no-pager", `--after-cursor=${cursor}`]).stdout;
}

/** Wait until the journal (after `cursor`) holds a line matching `pattern`. */
export async function awaitJournal(cursor: string, pattern: RegExp): Promise<string> {
  let text = "";
  await until(`a journal entry matching ${pattern}`, () => pattern.test((text = journalAfter(cursor))), 15_000, 100);
  return text;
}

/**
 * Log `message` under `identifier` (systemd-cat) and return the cursor journald gave that
 * entry, once the journal holds it. A test that waits for the daemon to store a marker waits on
 * this cursor (eventHoldsCursor): the marker's own summary may never appear, because two lines
 * of one rule from one unit within the cooldown are one event (the second an occurrence).
 */
export async function logLine(identifier: string, message: string, priority = "info"): Promise<string> {
  const before = journalCursor();
  const p = run(["systemd-cat", "-t", identifier, "-p", priority], `${message}\n`);
  if (p.code !== 0) throw new Error(`systemd-cat: ${p.stderr}`);
  let cursor: string | undefined;
  await until(
    `the journal to hold "${message}" from ${identifier}`,
    () => {
      for (const line of journalAfter(before).split("\n")) {
        if (!line.trim()) continue;
        const entry = JSON.parse(line) as { __CURSOR?: string; MESSAGE?: unknown; SYSLOG_IDENTIFIER?: unknown };
        if (entry.MESSAGE === message && entry.SYSLOG_IDENTIFIER === identifier) cursor = entry.__CURSOR;
      }
      return cursor !== undefined;
    },
    15_000,
    100,
  );
  return cursor as string;
}

const MEMCG_ROOT = "/sys/fs/cgroup/memory";

/**
 * A real memory-cgroup OOM kill: a python3 hog in its own cgroup v1 memory cgroup with a
 * 64 MiB limit. Returns the hog's pid and the cgroup path the kernel reports. `program` is
 * python3 or a symlink to it: the kernel names a process after the path it was exec'd by, so
 * a symlink gives the victim another name (two kills of one name would fold into one event).
 */
export async function memcgOomKill(name: string, program = "python3"): Promise<{ pid: number; memcg: string }> {
  const dir = join(MEMCG_ROOT, name);
  mkdirSync(dir);
  try {
    writeFileSync(join(dir, "memory.limit_in_bytes"), String(64 * 1024 * 1024));
    const hog = Bun.spawn(
      ["sh", "-c", `echo $$ > ${join(dir, "cgroup.procs")}; exec ${program} -c "a=[]\nwhile True: a.append(bytearray(1<<20))"`],
      { stdout: "ignore", stderr: "ignore" },
    );
    const code = await hog.exited;
    if (hog.signalCode !== "SIGKILL") throw new Error(`the hog was expected to be OOM-killed, it exited ${code} ${hog.signalCode}`);
    return { pid: hog.pid, memcg: `/${name}` };
  } finally {
    await until(
      `${dir} to empty`,
      () => {
        try {
          rmdirSync(dir);
          return true;
        } catch {
          // EBUSY until the kernel has finished tearing the killed task down
          return false;
        }
      },
      15_000,
      100,
    );
  }
}

/** A real segfault: python3 (or a symlink to it, see pythonNamed) reading address 0 (no core file: ulimit -c 0). */
export async function segfault(cwd: string, program = "python3"): Promise<number> {
  const p = Bun.spawn(["sh", "-c", `ulimit -c 0; exec ${program} -c "import ctypes; ctypes.string_at(0)"`], {
    cwd,
    stdout: "ignore",
    stderr: "ignore",
  });
  await p.exited;
  if (p.signalCode !== "SIGSEGV") throw new Error(`python3 was expected to die of SIGSEGV, got ${p.exitCode} ${p.signalCode}`);
  return p.pid;
}

/** A symlink to python3 named `name` in `dir`, for a victim called `name`. */
export function pythonNamed(dir: string, name: string): string {
  const path = join(dir, name);
  // The interpreter binary itself: a wrapper (pyenv's shim) would look itself up by our name.
  const python = Bun.which("python3", { PATH: "/usr/bin:/bin" });
  if (!python) throw new Error("python3 is needed for the OOM tests (apt-get install python3)");
  if (!existsSync(path)) symlinkSync(realpathSync(python), path);
  return path;
}
