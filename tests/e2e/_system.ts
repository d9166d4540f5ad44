import { existsSync, mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

// The real system pieces the end-to-end tests use (../shared/REAL-SYSTEM.md): a journald
// (started here only if none runs, and then stopped again), real cgroup v1 OOM kills and
// real segfaults. Tests remember what they started and stop exactly that — never by name.

export const isRoot = process.getuid?.() === 0;

function run(argv: string[], input?: string): { code: number; stdout: string; stderr: string } {
  const p = Bun.spawnSync(argv, { stdin: input === undefined ? "ignore" : new TextEncoder().encode(input), stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

export interface Journald {
  /** The journald this harness started, or null when one was already running. */
  started: ReturnType<typeof Bun.spawn> | null;
  stop(): Promise<void>;
}

export async function ensureJournald(): Promise<Journald> {
  const running = run(["pgrep", "-x", "systemd-journal"]).code === 0;
  if (running) return { started: null, stop: async () => {} };
  mkdirSync("/run/systemd/journal", { recursive: true });
  const proc = Bun.spawn(["/lib/systemd/systemd-journald"], { stdout: "ignore", stderr: "ignore" });
  await until("journald to answer", () => existsSync("/run/systemd/journal/socket") && run(["journalctl", "-n", "0", "--no-pager"]).code === 0);
  return {
    started: proc,
    stop: async () => {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
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
  await until(`a journal entry matching ${pattern}`, () => pattern.test((text = journalAfter(cursor))));
  return text;
}

const MEMCG_ROOT = "/sys/fs/cgroup/memory";

/**
 * A real memory-cgroup OOM kill: a python3 hog in its own cgroup v1 memory cgroup with a
 * 64 MiB limit. Returns the hog's pid and the cgroup path the kernel reports.
 */
export async function memcgOomKill(name: string): Promise<{ pid: number; memcg: string }> {
  const dir = join(MEMCG_ROOT, name);
  mkdirSync(dir);
  try {
    writeFileSync(join(dir, "memory.limit_in_bytes"), String(64 * 1024 * 1024));
    const hog = Bun.spawn(
      ["sh", "-c", `echo $$ > ${join(dir, "cgroup.procs")}; exec python3 -c "a=[]\nwhile True: a.append(bytearray(1<<20))"`],
      { stdout: "ignore", stderr: "ignore" },
    );
    const code = await hog.exited;
    if (hog.signalCode !== "SIGKILL") throw new Error(`the hog was expected to be OOM-killed, it exited ${code} ${hog.signalCode}`);
    return { pid: hog.pid, memcg: `/${name}` };
  } finally {
    await until(`${dir} to empty`, () => {
      try {
        rmdirSync(dir);
        return true;
      } catch {
        // EBUSY until the kernel has finished tearing the killed task down
        return false;
      }
    });
  }
}

/** A real segfault: python3 reading address 0 (no core file: ulimit -c 0). */
export async function segfault(cwd: string): Promise<number> {
  const p = Bun.spawn(["sh", "-c", 'ulimit -c 0; exec python3 -c "import ctypes; ctypes.string_at(0)"'], { cwd, stdout: "ignore", stderr: "ignore" });
  await p.exited;
  if (p.signalCode !== "SIGSEGV") throw new Error(`python3 was expected to die of SIGSEGV, got ${p.exitCode} ${p.signalCode}`);
  return p.pid;
}

