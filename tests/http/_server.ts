import { afterEach, beforeEach } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ApiDeps } from "../../src/http/routes.ts";
import { startHttpServer, type HttpServer } from "../../src/http/server.ts";
import { createLog } from "../../src/log.ts";
import { openStore } from "../../src/store/db.ts";

export interface ServedStore {
  /** This test's store. */
  readonly db: Database;
  /**
   * The API's base URL. The first call in a test starts the server with `over` on the defaults
   * (no token, loopback left open, a healthy journal source, no metrics, the clock at `nowUs`);
   * later calls in the same test get that server again.
   */
  url(over?: Partial<ApiDeps>): string;
}

/**
 * A real SQLite store in a fresh temp dir for each test, and the API on the real Bun.serve
 * (127.0.0.1, port 0) over it; both closed and removed after each test. Called at a test
 * file's top level, where it adds the file's beforeEach and afterEach.
 */
export function useServedStore(name: string, nowUs: number): ServedStore {
  let dir: string | null = null;
  let db: Database | null = null;
  let server: HttpServer | null = null;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), `logtriage-http-${name}-`));
    db = openStore(join(dir, "events.db"));
  });
  afterEach(async () => {
    await server?.stop();
    server = null;
    db?.close();
    db = null;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
  });
  const opened = (): { db: Database; dir: string } => {
    if (!db || !dir) throw new Error("the store is opened for each test: use it inside one");
    return { db, dir };
  };
  return {
    get db() {
      return opened().db;
    },
    url(over = {}) {
      const store = opened();
      server ??= startHttpServer({
        listen: { host: "127.0.0.1", port: 0 },
        openLoopback: true,
        deps: {
          db: store.db,
          token: null,
          services: [],
          snapshotsDir: join(store.dir, "snapshots"),
          health: () => ({ sourceName: "journal", sourceRunning: true, sourceError: null, dbWritable: true }),
          metrics: async () => "",
          nowUs: () => nowUs,
          ...over,
        },
        log: createLog("error"),
      });
      if (!server) throw new Error("the test server did not start");
      return server.url;
    },
  };
}
