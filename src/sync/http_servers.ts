/**
 * kube-proxy's two HTTP servers: `/healthz` and `/livez` on `healthzBindAddress`
 * (0.0.0.0:10256); `/metrics`, `/proxyMode`, `/configz` and `/healthz` on `metricsBindAddress`
 * (127.0.0.1:10249). Built on `Deno.serve`.
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
 * A time as Go's `time.Time.String()` prints it in UTC, which is what kube-proxy's health
 * bodies hold: `2024-01-02 03:04:05.123456789 +0000 UTC`, trailing zeros of the fraction
 * dropped, and ` m=+12.345000000` (seconds since `monotonicOriginMs`, nine decimals) when an
 * origin is given. `undefined` is Go's zero time, `0001-01-01 00:00:00 +0000 UTC`.
 *
 * @example
 * ```ts
 * import { formatGoTime } from "./http_servers.ts";
 * console.assert(formatGoTime(Date.UTC(2024, 0, 2, 3, 4, 5, 500)) === "2024-01-02 03:04:05.5 +0000 UTC");
 * ```
 */
export function formatGoTime(epochMs: number | undefined, monotonicOriginMs?: number): string {
  if (epochMs === undefined) return "0001-01-01 00:00:00 +0000 UTC";
  const date = new Date(Math.floor(epochMs / 1000) * 1000).toISOString(); // 2024-01-02T03:04:05.123Z
  // Epoch milliseconds as a double hold microseconds exactly, not nanoseconds.
  const micros = Math.round((epochMs - Math.floor(epochMs / 1000) * 1000) * 1000);
  const nanos = micros * 1000;
  const fraction = nanos === 0 ? "" : `.${String(nanos).padStart(9, "0")}`.replace(/0+$/, "");
  let text = `${date.slice(0, 10)} ${date.slice(11, 19)}${fraction} +0000 UTC`;
  if (monotonicOriginMs !== undefined) {
    const seconds = (epochMs - monotonicOriginMs) / 1000;
    text += ` m=${seconds < 0 ? "-" : "+"}${Math.abs(seconds).toFixed(9)}`;
  }
  return text;
}

/** Options of {@link healthHandler}. */
export interface HealthHandlerOptions {
  /** Counts each answer by status code (`kubeproxy_proxy_healthz_total`, `..._livez_total`). */
  readonly metrics?: { recordHealthz(code: number): void; recordLivez(code: number): void };
  /**
   * The clock time the process started, for Go's ` m=+seconds` suffix of the times in the
   * body; without it the suffix is left out.
   * @default undefined
   */
  readonly monotonicOriginMs?: number;
}

function goJson(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "application/json", "x-content-type-options": "nosniff" },
  });
}

/**
 * Answers `/healthz` and `/livez` as kube-proxy's proxy health server does: 200 while no change
 * has waited longer than the health timeout, else 503; `/healthz` also turns 503 when the node
 * is not eligible (being deleted, or tainted for deletion). The body is kube-proxy's, byte for
 * byte: `{"lastUpdated": "<Go time>","currentTime": "<Go time>", "nodeEligible": true}`
 * (`/livez` without `nodeEligible`), where a healthy answer's `lastUpdated` is the current
 * time, as kube-proxy reports it for compatibility.
 */
export function healthHandler(
  health: HealthState,
  options: HealthHandlerOptions = {},
): (request: Request) => Response {
  return (request) => {
    const path = new URL(request.url).pathname;
    if (path !== "/healthz" && path !== "/livez") return notFound();
    const status = health.check();
    const healthy = path === "/healthz" ? status.healthy && status.nodeEligible : status.healthy;
    const code = healthy ? 200 : 503;
    if (path === "/healthz") options.metrics?.recordHealthz(code);
    else options.metrics?.recordLivez(code);
    const time = (ms: number | undefined) =>
      JSON.stringify(formatGoTime(ms, ms === undefined ? undefined : options.monotonicOriginMs));
    const lastUpdated = time(healthy ? status.currentTimeMs : status.lastUpdatedMs);
    const currentTime = time(status.currentTimeMs);
    const body = path === "/healthz"
      ? `{"lastUpdated": ${lastUpdated},"currentTime": ${currentTime}, "nodeEligible": ${status.nodeEligible}}`
      : `{"lastUpdated": ${lastUpdated},"currentTime": ${currentTime}}`;
    return goJson(code, body);
  };
}

/** Options of {@link metricsHandler}: what the metrics address serves besides `/metrics`. */
export interface MetricsHandlerOptions {
  /**
   * The body of `/proxyMode` (kube-proxy serves its mode there as plain text).
   * @default "ipvs"
   */
  readonly proxyMode?: string;
  /**
   * The body of `/configz`, serialized as JSON on each request. kube-proxy's is
   * `{"kubeproxy.config.k8s.io": <the KubeProxyConfiguration in effect>}`; without it
   * `/configz` answers 404.
   * @default undefined
   */
  readonly configz?: () => unknown;
}

function text(body: string): Response {
  return new Response(body, {
    headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" },
  });
}

/**
 * Answers the metrics address as kube-proxy does: `/metrics` (the Prometheus text),
 * `/proxyMode` (`ipvs`), `/configz` (the config in effect, JSON) and `/healthz` (`ok`, the
 * process is up).
 */
export function metricsHandler(
  metrics: MetricsSource,
  options: MetricsHandlerOptions = {},
): (request: Request) => Response {
  return (request) => {
    switch (new URL(request.url).pathname) {
      case "/metrics":
        return new Response(metrics.render(), {
          headers: { "content-type": METRICS_CONTENT_TYPE },
        });
      case "/proxyMode":
        return text(options.proxyMode ?? "ipvs");
      case "/healthz":
        return text("ok");
      case "/configz":
        if (options.configz === undefined) return notFound();
        return json(200, options.configz());
      default:
        return notFound();
    }
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
export function startHealthServer(
  bind: string,
  health: HealthState,
  options: HealthHandlerOptions = {},
): RunningServer | undefined {
  return serve(bind, "/healthz", healthHandler(health, options));
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
  options: MetricsHandlerOptions = {},
): RunningServer | undefined {
  return serve(bind, "/metrics", metricsHandler(metrics, options));
}
