import type { Log } from "../log.ts";
import { json, route, type ApiDeps } from "./routes.ts";

// Bun.serve around routes.ts. Off unless `[http] listen` is set. Starting never stops the
// daemon: an address in use or not ours is one error line and the daemon goes on without
// the API; a request that fails inside is a 500 with the reason, logged once per request.

export interface HttpServer {
  /** http://host:port/ as it listens (the port chosen when 0 was asked). */
  readonly url: string;
  stop(): Promise<void>;
}

export interface HttpServerOptions {
  listen: { host: string; port: number };
  deps: ApiDeps;
  log: Log;
}

function addressText(listen: { host: string; port: number }): string {
  return listen.host.includes(":") ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
}

/** The server, or null when it could not listen (already said in the log). */
export function startHttpServer(o: HttpServerOptions): HttpServer | null {
  const address = addressText(o.listen);
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: o.listen.host,
      port: o.listen.port,
      // Requests carry no body we read; keep what a client may send small.
      maxRequestBodySize: 64 * 1024,
      fetch: async (request) => {
        try {
          return await route(request, o.deps);
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          o.log.warn(`HTTP ${request.method} ${new URL(request.url).pathname}: ${message}`);
          return json(500, { error: message });
        }
      },
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why =
      code === "EADDRINUSE"
        ? "the address is in use (another logtriage or program listens there)"
        : code === "EADDRNOTAVAIL"
          ? "no interface of this machine has that address"
          : code === "EACCES"
            ? "permission denied (ports below 1024 need root)"
            : error instanceof Error
              ? error.message
              : String(error);
    o.log.error(`HTTP API not started: cannot listen on ${address}: ${why}. Change [http] listen in the config; the daemon goes on without the API`);
    return null;
  }
  const url = `http://${addressText({ host: o.listen.host, port: server.port ?? o.listen.port })}/`;
  o.log.info(`HTTP API on ${url} (/healthz, /metrics, /events, /failure-context)${o.deps.token ? ", bearer token required" : ""}`);
  return {
    url,
    async stop() {
      await server.stop(true);
    },
  };
}
