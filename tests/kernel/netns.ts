/**
 * Backends for end-to-end tests: a network namespace joined to the root namespace by a veth pair,
 * and a tiny HTTP server (busybox httpd) inside it, all torn down again.
 *
 * @example
 * ```ts
 * await using ns = await createNetns({ name: "be1", hostAddress: "10.244.1.1", nsAddress: "10.244.1.2" });
 * await using server = await startHttpServer(ns, { port: 8080 });
 * const body = await (await fetch(`http://${ns.nsAddress}:8080/`)).text(); // server.body
 * ```
 *
 * @module
 */

import { sh } from "./harness.ts";

/** Options of {@linkcode createNetns}. */
export interface NetnsOptions {
  /** Namespace name (`ip netns` name); the host-side veth is `v-<name>` (at most 15 characters). */
  name: string;
  /** IPv4 address of the root namespace's end of the veth pair. */
  hostAddress: string;
  /** IPv4 address inside the namespace; its default route points at `hostAddress`. */
  nsAddress: string;
  /** Prefix length of both addresses (ignored with `pointToPoint`). @default 24 */
  prefixLength?: number;
  /**
   * Address the two ends as point-to-point peers (`ip addr add A peer B`) instead of one
   * subnet: each side then has a /32 host route to the other, the way CNI plugins route pods.
   * @default false
   */
  pointToPoint?: boolean;
}

/** A network namespace with a veth pair to the root namespace. */
export interface Netns extends AsyncDisposable {
  /** Namespace name. */
  readonly name: string;
  /** Interface name in the root namespace. */
  readonly hostInterface: string;
  /** Interface name inside the namespace (always `eth0`). */
  readonly nsInterface: string;
  /** Address of the root namespace's end. */
  readonly hostAddress: string;
  /** Address inside the namespace. */
  readonly nsAddress: string;
  /** Runs a command inside the namespace and returns its stdout. */
  exec(cmd: readonly string[]): Promise<string>;
  /** Starts a long-running command inside the namespace. */
  spawn(cmd: readonly string[]): Deno.ChildProcess;
  /** Kills what runs in the namespace, deletes it and the veth pair (idempotent). */
  remove(): Promise<void>;
}

/** Creates the namespace, the veth pair, addresses, links up and the namespace's default route. */
export async function createNetns(options: NetnsOptions): Promise<Netns> {
  const { name, hostAddress, nsAddress } = options;
  const prefix = options.prefixLength ?? 24;
  const hostInterface = `v-${name}`;
  if (hostInterface.length > 15) {
    throw new Error(`Netns name '${name}' is too long: 'v-${name}' must fit in 15 characters`);
  }
  const nsInterface = "eth0";
  const inNs = (cmd: readonly string[]) => ["ip", "netns", "exec", name, ...cmd];
  let removed = false;
  const netns: Netns = {
    name,
    hostInterface,
    nsInterface,
    hostAddress,
    nsAddress,
    exec: (cmd) => sh(inNs(cmd)),
    spawn: (cmd) => {
      const full = inNs(cmd);
      return new Deno.Command(full[0], { args: full.slice(1), stdin: "null" }).spawn();
    },
    remove: async () => {
      if (removed) return;
      removed = true;
      // A process left inside would keep the namespace (and its end of the pair) alive.
      const pids = await sh(["ip", "netns", "pids", name]).catch(() => "");
      for (const pid of pids.split("\n").filter((p) => p.trim() !== "")) {
        try {
          Deno.kill(Number(pid), "SIGKILL");
        } catch {
          // already gone
        }
      }
      // Deleting the namespace destroys its end of the pair, and with it the host's end.
      await sh(["ip", "netns", "delete", name]).catch(() => {});
      await sh(["ip", "link", "delete", hostInterface]).catch(() => {});
    },
    [Symbol.asyncDispose]: () => netns.remove(),
  };
  try {
    await sh(["ip", "netns", "add", name]);
    await sh([
      "ip",
      "link",
      "add",
      hostInterface,
      "type",
      "veth",
      "peer",
      "name",
      nsInterface,
      "netns",
      name,
    ]);
    const address = (local: string, remote: string) =>
      options.pointToPoint ? [local, "peer", remote] : [`${local}/${prefix}`];
    await sh(["ip", "addr", "add", ...address(hostAddress, nsAddress), "dev", hostInterface]);
    await sh(["ip", "link", "set", hostInterface, "up"]);
    await sh(inNs(["ip", "addr", "add", ...address(nsAddress, hostAddress), "dev", nsInterface]));
    await sh(inNs(["ip", "link", "set", nsInterface, "up"]));
    await sh(inNs(["ip", "link", "set", "lo", "up"]));
    await sh(inNs(["ip", "route", "add", "default", "via", hostAddress]));
  } catch (error) {
    await netns.remove();
    throw error;
  }
  return netns;
}

/** Options of {@linkcode startHttpServer}. */
export interface HttpServerOptions {
  /** TCP port on the namespace's address. */
  port: number;
  /** What `GET /` returns. @default "backend <namespace name>\n" */
  body?: string;
}

/** A running HTTP server in a namespace. */
export interface HttpServer extends AsyncDisposable {
  /** `http://<nsAddress>:<port>/`. */
  readonly url: string;
  /** What `GET /` returns. */
  readonly body: string;
  /** Stops the server and removes its files (idempotent). */
  stop(): Promise<void>;
}

/**
 * Starts busybox httpd serving `body` at `/` on the namespace's address, and waits until it
 * accepts connections.
 */
export async function startHttpServer(
  netns: Netns,
  options: HttpServerOptions,
): Promise<HttpServer> {
  const body = options.body ?? `backend ${netns.name}\n`;
  const root = await Deno.makeTempDir({ prefix: `httpd-${netns.name}-` });
  await Deno.writeTextFile(`${root}/index.html`, body);
  const child = netns.spawn([
    busybox(),
    "httpd",
    "-f",
    "-p",
    `${netns.nsAddress}:${options.port}`,
    "-h",
    root,
  ]);
  let stopped = false;
  const server: HttpServer = {
    url: `http://${netns.nsAddress}:${options.port}/`,
    body,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      await child.status;
      await Deno.remove(root, { recursive: true });
    },
    [Symbol.asyncDispose]: () => server.stop(),
  };
  try {
    await waitForTcp(netns.nsAddress, options.port);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** Polls until a TCP connection to `host:port` succeeds. */
export async function waitForTcp(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const conn = await Deno.connect({ hostname: host, port });
      conn.close();
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(
          `Nothing accepts TCP connections on ${host}:${port} after ${timeoutMs} ms`,
          {
            cause: error,
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * A busybox for httpd/nc/wget: the guest init's own static copy (always there in the VM), else
 * the one on PATH.
 */
export function busybox(): string {
  try {
    Deno.statSync("/run/ipvs-vm/busybox");
    return "/run/ipvs-vm/busybox";
  } catch {
    return "busybox";
  }
}
