import { chmodSync, existsSync, lstatSync, unlinkSync } from "node:fs";
import { isLoopback, type HttpListen } from "../config/schema.ts";
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
  listen: HttpListen;
  /** `[http] allow_unauthenticated_loopback`: a TCP listener on loopback may go without a token. */
  openLoopback?: boolean;
  deps: ApiDeps;
  log: Log;
}

function addressText(listen: HttpListen): string {
  if ("unix" in listen) return `unix:${listen.unix}`;
  return listen.host.includes(":") ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
}

/**
 * A socket file left by a daemon that did not stop cleanly would make the bind fail with
 * EADDRINUSE; remove it, but only when it is a socket (never a file someone put there).
 */
function removeStaleSocket(path: string): void {
  if (!existsSync(path)) return;
  if (lstatSync(path).isSocket()) unlinkSync(path);
}

/** The server, or null when it could not listen (already said in the log). */
export function startHttpServer(o: HttpServerOptions): HttpServer | null {
  const address = addressText(o.listen);
  let server: ReturnType<typeof Bun.serve>;
  const fetch = async (request: Request): Promise<Response> => {
    try {
      return await route(request, o.deps);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      o.log.warn(`HTTP ${request.method} ${new URL(request.url).pathname}: ${message}`);
      return json(500, { error: message });
    }
  };
  const listen = o.listen;
  // The config refuses this already; checked again here, where the listener is made, so no
  // other caller can open the API to every local user by leaving the token out.
  if (o.deps.token === null && !("unix" in listen) && !(o.openLoopback === true && isLoopback(listen.host))) {
    o.log.error(
      `HTTP API not started on ${address}: no [http] token is set. Set one (clients send "Authorization: Bearer TOKEN"), listen on "unix:/path", or set allow_unauthenticated_loopback = true for a loopback address`,
    );
    return null;
  }
  // Requests carry no body we read; keep what a client may send small.
  const maxRequestBodySize = 64 * 1024;
  // The socket file is created 0600 (umask 0177 while binding) and chmod'ed again after: only
  // this user (root, for a system install) may connect; its mode is the API's access control.
  const previousUmask = "unix" in listen ? process.umask(0o177) : null;
  try {
    if ("unix" in listen) {
      removeStaleSocket(listen.unix);
      server = Bun.serve({ unix: listen.unix, maxRequestBodySize, fetch });
      chmodSync(listen.unix, 0o600);
    } else {
      server = Bun.serve({ hostname: listen.host, port: listen.port, maxRequestBodySize, fetch });
    }
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why =
      code === "EADDRINUSE"
        ? "the address is in use (another logtriage or program listens there)"
        : code === "EADDRNOTAVAIL"
          ? "no interface of this machine has that address"
          : code === "EACCES"
            ? "unix" in listen
              ? "permission denied (the socket's directory must be writable by this user)"
              : "permission denied (ports below 1024 need root)"
            : error instanceof Error
              ? error.message
              : String(error);
    o.log.error(
      `HTTP API not started: cannot listen on ${address}: ${why}. Change [http] listen in the config; the daemon goes on without the API`,
    );
    return null;
  } finally {
    if (previousUmask !== null) process.umask(previousUmask);
  }
  const url = "unix" in listen ? `unix:${listen.unix}` : `http://${addressText({ host: listen.host, port: server.port ?? listen.port })}/`;
  const access = o.deps.token
    ? "bearer token required"
    : "unix" in listen
      ? "socket mode 0600: this user only"
      : "no token: open to every local user";
  o.log.info(`HTTP API on ${url} (/healthz, /metrics, /events, /failure-context), ${access}`);
  return {
    url,
    async stop() {
      await server.stop(true);
      if ("unix" in listen) {
        try {
          removeStaleSocket(listen.unix);
        } catch (error) {
          // Left behind, it is removed at the next start; nothing else depends on it.
          void error;
        }
      }
    },
  };
}
