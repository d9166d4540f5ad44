import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Processes that create the same new database at the same moment (a daemon and a replay, two
// daemons): each migration runs once, under the write lock, and every process gets a usable
// database instead of "table events already exists".

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const DB_MODULE = join(import.meta.dir, "..", "..", "src", "store", "db.ts");

test("four processes opening one new database at once, five times over: all succeed at the latest schema", async () => {
  for (let round = 0; round < 5; round++) {
    const dir = mkdtempSync(join(tmpdir(), "logtriage-open-"));
    dirs.push(dir);
    const path = join(dir, "events.db");
    const script = `const { openStore, SCHEMA_VERSION } = await import(${JSON.stringify(DB_MODULE)});
      const db = openStore(${JSON.stringify(path)});
      const v = db.query("PRAGMA user_version").get().user_version;
      db.close();
      if (v !== SCHEMA_VERSION) throw new Error("schema " + v);`;
    const procs = Array.from({ length: 4 }, () => Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" }));
    const results = await Promise.all(procs.map(async (p) => ({ code: await p.exited, stderr: await new Response(p.stderr).text() })));
    expect(
      results
        .filter((r) => r.code !== 0)
        .map(
          (r) =>
            r.stderr
              .trim()
              .split("\n")
              .find((l) => /error/i.test(l)) ?? r.stderr,
        ),
    ).toEqual([]);
  }
});
