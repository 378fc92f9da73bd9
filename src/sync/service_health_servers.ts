/**
 * kube-proxy's service health servers: one HTTP server per `healthCheckNodePort`, answering
 * any path with the service's count of local endpoints, so an external load balancer sends
 * traffic only to nodes that have some. Built on `Deno.serve`.
 *
 * @module
 */

import type { ServiceHealthCheck } from "../proxier/health_checks.ts";

/** How {@link ServiceHealthServers} listens and reports. */
export interface ServiceHealthServersOptions {
  /**
   * Addresses to listen on, each port on every one of them.
   * @default ["0.0.0.0"]
   */
  readonly hostnames?: readonly string[];
  /**
   * Whether the proxy itself is healthy (its `/healthz`); when not, every check answers 503.
   * @default () => true
   */
  readonly proxyHealthy?: () => boolean;
  /**
   * Receives one line per port that cannot be served.
   * @default () => {}
   */
  readonly log?: (line: string) => void;
}

/**
 * The answer to a health check, byte for byte kube-proxy's: 200 when the service has local
 * endpoints and the proxy is healthy, else 503, with a tab-indented JSON body.
 *
 * @example
 * ```ts
 * import { serviceHealthResponse } from "./service_health_servers.ts";
 * const check = { port: 32000, namespace: "default", name: "web", localEndpoints: 2 };
 * serviceHealthResponse(check, true).status; // 200
 * ```
 */
export function serviceHealthResponse(check: ServiceHealthCheck, proxyHealthy: boolean): Response {
  const payload = {
    service: { namespace: check.namespace, name: check.name },
    localEndpoints: check.localEndpoints,
    serviceProxyHealthy: proxyHealthy,
  };
  return new Response(JSON.stringify(payload, null, "\t"), {
    status: check.localEndpoints > 0 && proxyHealthy ? 200 : 503,
    headers: {
      "content-type": "application/json",
      "x-content-type-options": "nosniff",
      "x-load-balancing-endpoint-weight": String(check.localEndpoints),
    },
  });
}

/** The servers of one port and the check they answer with, replaced in place on update. */
interface PortServers {
  check: ServiceHealthCheck;
  readonly servers: Deno.HttpServer[];
}

/**
 * Keeps one server per health check port in step with the latest checks: new ports start,
 * dropped ports stop, and the others answer the new counts without restarting.
 *
 * @example
 * ```ts ignore
 * const servers = new ServiceHealthServers({ proxyHealthy: () => health.check().healthy });
 * servers.update(computeServiceHealthChecks(input).checks);
 * // ...
 * await servers.close();
 * ```
 */
export class ServiceHealthServers {
  readonly #hostnames: readonly string[];
  readonly #proxyHealthy: () => boolean;
  readonly #log: (line: string) => void;
  readonly #ports = new Map<number, PortServers>();
  /** The line last logged for a port that failed, so a lasting failure is logged once. */
  readonly #failures = new Map<number, string>();
  readonly #stopping = new Set<Promise<void>>();
  #closed = false;

  /** Servers start on the first {@link update}. */
  constructor(options: ServiceHealthServersOptions = {}) {
    this.#hostnames = options.hostnames ?? ["0.0.0.0"];
    this.#proxyHealthy = options.proxyHealthy ?? (() => true);
    this.#log = options.log ?? (() => {});
  }

  /** The ports being served now, in ascending order. */
  get ports(): number[] {
    return [...this.#ports.keys()].sort((a, b) => a - b);
  }

  /**
   * Serves exactly `checks`. A port that cannot be bound is logged (once while it keeps
   * failing) and tried again on the next update. Ignored after {@link close}.
   */
  update(checks: readonly ServiceHealthCheck[]): void {
    if (this.#closed) return;
    const wanted = new Map(checks.map((c) => [c.port, c]));
    for (const [port, entry] of this.#ports) {
      if (!wanted.has(port)) this.#stop(port, entry);
    }
    for (const port of this.#failures.keys()) {
      if (!wanted.has(port)) this.#failures.delete(port);
    }
    for (const check of wanted.values()) {
      const entry = this.#ports.get(check.port);
      if (entry) entry.check = check;
      else this.#start(check);
    }
  }

  /** Stops every server and waits until all have stopped. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const [port, entry] of this.#ports) this.#stop(port, entry);
    await Promise.all(this.#stopping);
  }

  #start(check: ServiceHealthCheck): void {
    const entry: PortServers = { check, servers: [] };
    const handler = () => serviceHealthResponse(entry.check, this.#proxyHealthy());
    try {
      entry.servers.push(...this.#listen(check.port, handler));
    } catch (error) {
      const line = `error: cannot serve the health check of ${check.namespace}/${check.name} ` +
        `on port ${check.port}: ${(error as Error).message}; retrying at the next sync`;
      if (this.#failures.get(check.port) !== line) this.#log(line);
      this.#failures.set(check.port, line);
      return;
    }
    this.#failures.delete(check.port);
    this.#ports.set(check.port, entry);
  }

  /** One server per hostname; if one cannot bind, the others close again. */
  #listen(port: number, handler: () => Response): Deno.HttpServer[] {
    const servers: Deno.HttpServer[] = [];
    try {
      for (const hostname of this.#hostnames) {
        // onListen replaces Deno's own "Listening on" line.
        servers.push(Deno.serve({ hostname, port, onListen: () => {} }, handler));
      }
    } catch (error) {
      servers.forEach((server) => this.#track(server.shutdown()));
      throw error;
    }
    return servers;
  }

  #stop(port: number, entry: PortServers): void {
    this.#ports.delete(port);
    entry.servers.forEach((server) => this.#track(server.shutdown()));
  }

  /** Remembers a shutdown until it ends, so close() can wait for it. */
  #track(stopping: Promise<void>): void {
    this.#stopping.add(stopping);
    stopping.catch(() => {}).finally(() => this.#stopping.delete(stopping));
  }
}
