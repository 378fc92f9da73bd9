/**
 * kube-proxy's two HTTP endpoints: `/healthz` and `/livez` on `healthzBindAddress`
 * (0.0.0.0:10256), `/metrics` on `metricsBindAddress` (127.0.0.1:10249). Built on `Deno.serve`.
 *
 * @module
 */

import type { HealthState } from "./health_state.ts";
import { METRICS_CONTENT_TYPE } from "./metrics.ts";

/** A server that is listening. */
export interface RunningServer {
  /** The port it listens on (the one the kernel chose when the bind address said 0). */
  readonly port: number;
  /** Stops listening and waits for open connections to finish. */
  close(): Promise<void>;
}

/** Where to listen: what `Deno.serve` takes. */
export interface BindAddress {
  /** An IP address or host name, without brackets. */
  readonly hostname: string;
  /** 0 lets the kernel choose. */
  readonly port: number;
}

/** Anything that renders Prometheus text, such as `SyncMetrics`. */
export interface MetricsSource {
  /** The exposition text, format 0.0.4. */
  render(): string;
}

/**
 * Parses a Go `host:port` bind address: `0.0.0.0:10256`, `[::1]:10249`, `:10256` (every IPv4
 * address). Returns `undefined` for an empty string, which disables the server.
 *
 * @example
 * ```ts
 * import { parseBindAddress } from "./http_servers.ts";
 * parseBindAddress("[::1]:10249"); // { hostname: "::1", port: 10249 }
 * ```
 */
export function parseBindAddress(bind: string): BindAddress | undefined {
  if (bind === "") return undefined;
  const match = /^(?:\[([^\]]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(bind);
  const port = Number(match?.[3]);
  if (!match || port > 65535) {
    throw new Error(
      `Cannot parse bind address ${JSON.stringify(bind)}: expected "host:port" with a port ` +
        `up to 65535, like "0.0.0.0:10256" or "[::1]:10249", or "" to disable the server`,
    );
  }
  // An empty host means every address; 0.0.0.0 works on hosts without IPv6, as kube-proxy's
  // default does.
  return { hostname: match[1] ?? (match[2] || "0.0.0.0"), port };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "x-content-type-options": "nosniff" },
  });
}

function notFound(): Response {
  return new Response("404 page not found\n", {
    status: 404,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/**
 * Answers `/healthz` and `/livez`: 200 while the last successful sync is recent, else 503,
 * with kube-proxy's small JSON body. (kube-proxy's `/healthz` also turns 503 when its Node is
 * being deleted; this project does not watch for that, so both paths answer the same.)
 */
export function healthHandler(health: HealthState): (request: Request) => Response {
  return (request) => {
    const path = new URL(request.url).pathname;
    if (path !== "/healthz" && path !== "/livez") return notFound();
    const status = health.check();
    const iso = (ms: number | undefined) => ms === undefined ? null : new Date(ms).toISOString();
    return json(status.healthy ? 200 : 503, {
      lastUpdated: iso(status.lastUpdatedMs),
      currentTime: iso(status.currentTimeMs),
      consecutiveFailures: status.consecutiveFailures,
    });
  };
}

/** Answers `/metrics` with the Prometheus text. */
export function metricsHandler(metrics: MetricsSource): (request: Request) => Response {
  return (request) => {
    if (new URL(request.url).pathname !== "/metrics") return notFound();
    return new Response(metrics.render(), { headers: { "content-type": METRICS_CONTENT_TYPE } });
  };
}

/** Listens on `bind` with `handler`; `what` names the server in an error. */
function serve(
  bind: string,
  what: string,
  handler: (request: Request) => Response,
): RunningServer | undefined {
  const address = parseBindAddress(bind);
  if (!address) return undefined;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    // onListen replaces Deno's own "Listening on" line; the caller logs what it wants.
    server = Deno.serve({ ...address, onListen: () => {} }, handler);
  } catch (error) {
    throw new Error(
      `Cannot serve ${what} on ${JSON.stringify(bind)}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  let closing: Promise<void> | undefined;
  return {
    port: server.addr.port,
    close: () => closing ??= server.shutdown(),
  };
}

/**
 * Starts the health server (`/healthz`, `/livez`) on `bind`; `undefined` when `bind` is "".
 * Throws when the address does not parse or cannot be bound.
 *
 * @example
 * ```ts ignore
 * const server = startHealthServer(config.healthzBindAddress, health);
 * // ...
 * await server?.close();
 * ```
 */
export function startHealthServer(bind: string, health: HealthState): RunningServer | undefined {
  return serve(bind, "/healthz", healthHandler(health));
}

/**
 * Starts the metrics server (`/metrics`) on `bind`; `undefined` when `bind` is "".
 * Throws when the address does not parse or cannot be bound.
 *
 * @example
 * ```ts ignore
 * const server = startMetricsServer(config.metricsBindAddress, metrics);
 * // ...
 * await server?.close();
 * ```
 */
export function startMetricsServer(
  bind: string,
  metrics: MetricsSource,
): RunningServer | undefined {
  return serve(bind, "/metrics", metricsHandler(metrics));
}
