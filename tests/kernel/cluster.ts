/**
 * End-to-end fixtures: a node (the VM's root namespace with its address on a dummy link),
 * pods (network namespaces behind point-to-point veth pairs: /32 host routes both ways, the
 * pod's default route via the node), Service and EndpointSlice manifests written as YAML, and
 * the CLI run in-process the way a user runs it:
 * `--proxy-mode=ipvs --manifests DIR --once --hostname-override node-a --node-ip 192.168.50.10`.
 *
 * @example
 * ```ts
 * await using node = await createNode();
 * await using pod = await createPod("web-a", "10.244.1.11");
 * await node.write([service({ name: "web", clusterIP: "10.96.0.20", ports: [{ port: 80, targetPort: 8080 }] }),
 *   endpointSlice({ service: "web", endpoints: [{ ip: pod.nsAddress }], ports: [{ port: 8080 }] })]);
 * await node.sync();
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { stringify } from "yaml";
import { main } from "../../src/cli/main.ts";
import { parseFlags } from "../../src/cli/flags.ts";
import { resolveConfig } from "../../src/config/load.ts";
import type { ProxyConfig } from "../../src/config/types.ts";
import { loadManifests } from "../../src/cluster/manifest_source.ts";
import type { ClusterSnapshot } from "../../src/cluster/types.ts";
import type { CommandRunner } from "../../backends/exec/command.ts";
import { kernelTest, run, sh } from "./harness.ts";
import { createNetns, type Netns } from "./netns.ts";

/** This node's name: endpoints with this `nodeName` are local. */
export const NODE_NAME = "node-a";

/** This node's address (on the dummy link {@linkcode NODE_LINK}). */
export const NODE_IP = "192.168.50.10";

/** The dummy link that holds {@linkcode NODE_IP}. */
export const NODE_LINK = "node0";

/** The IPVS timeouts (tcp tcpfin udp) of a fresh kernel, restored after each test. */
const KERNEL_TIMEOUTS = ["900", "120", "300"];

/** What one CLI run printed and returned. */
export interface CliResult {
  /** Exit code. */
  readonly code: number;
  /** The result text (plan, table or JSON). */
  readonly stdout: string;
  /** The log lines, joined with newlines. */
  readonly stderr: string;
}

/** How {@linkcode cli} runs the CLI, besides its arguments. */
export interface CliOptions {
  /** Runs the exec backend's tools (the real ones unless a test wraps them). */
  readonly run?: CommandRunner;
}

/** Runs the CLI in-process with `args`; nothing is read from the environment. */
export async function cli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  let stdout = "";
  const stderr: string[] = [];
  const code = await main(args, {
    stdout: (text) => void (stdout += text),
    stderr: (line) => void stderr.push(line),
    env: {},
    hostname: () => NODE_NAME,
    ...(options.run === undefined ? {} : { run: options.run }),
  });
  return { code, stdout, stderr: stderr.join("\n") };
}

/** The kernel backends the end-to-end tests run with: each test once per backend. */
export const E2E_BACKENDS = ["exec", "netlink"] as const;

/** One of {@linkcode E2E_BACKENDS}. */
export type E2eBackend = typeof E2E_BACKENDS[number];

let currentBackend: E2eBackend = "exec";

/** `--backend` as the running end-to-end test uses it (`exec` outside {@linkcode e2eTest}). */
export function backendFlags(): string[] {
  return ["--backend", currentBackend];
}

/**
 * Registers an end-to-end test once per backend, `NAME (exec backend)` and
 * `NAME (netlink backend)`: every CLI run of {@linkcode createNode}'s node and every
 * {@linkcode backendFlags} then names it. (deno runs a file's tests one after the other.)
 */
export function e2eTest(name: string, fn: () => Promise<void>): void {
  for (const backend of E2E_BACKENDS) {
    kernelTest(`${name} (${backend} backend)`, async () => {
      currentBackend = backend;
      try {
        await fn();
      } finally {
        currentBackend = "exec";
      }
    });
  }
}

/** The flags every sync of these tests runs with, for manifests in `dir`. */
export function syncFlags(dir: string): string[] {
  return [
    ...backendFlags(),
    "--proxy-mode=ipvs",
    "--manifests",
    dir,
    "--once",
    "--hostname-override",
    NODE_NAME,
    "--node-ip",
    NODE_IP,
  ];
}

/**
 * The config and snapshot a sync with {@linkcode syncFlags} (plus `extraFlags`) computes from,
 * loaded the way the CLI loads them: for tests that call the library below the CLI.
 */
export async function syncInputs(
  dir: string,
  extraFlags: readonly string[] = [],
): Promise<{ config: ProxyConfig; snapshot: ClusterSnapshot }> {
  const options = parseFlags([...syncFlags(dir), ...extraFlags]);
  const { config } = resolveConfig({
    file: "",
    text: undefined,
    flags: options.proxyFlags,
    env: {},
  });
  const { snapshot } = await loadManifests(options.manifests);
  return { config, snapshot };
}

/** The VM's root namespace as a Kubernetes node, with a manifests directory. */
export interface TestNode extends AsyncDisposable {
  /** The manifests directory. */
  readonly dir: string;
  /** Replaces the manifests with `objects` (one multi-document YAML file). */
  write(objects: readonly object[]): Promise<void>;
  /** One `--once` sync of the manifests; fails the test unless it exits 0. */
  sync(extraFlags?: readonly string[], options?: CliOptions): Promise<CliResult>;
  /** `--cleanup`, the node's link and manifests removed, IPVS timeouts reset (idempotent). */
  remove(): Promise<void>;
}

/** Creates the node: {@linkcode NODE_LINK} with {@linkcode NODE_IP}, and a manifests directory. */
export async function createNode(): Promise<TestNode> {
  const dir = await Deno.makeTempDir({ prefix: "manifests-" });
  let removed = false;
  const node: TestNode = {
    dir,
    write: (objects) =>
      Deno.writeTextFile(
        `${dir}/cluster.yaml`,
        objects.map((o) => stringify(o)).join("---\n"),
      ),
    async sync(extraFlags = [], options = {}) {
      const result = await cli([...syncFlags(dir), ...extraFlags], options);
      assert.equal(
        result.code,
        0,
        `the sync failed:\n${result.stderr}\n${result.stdout}`,
      );
      return result;
    },
    async remove() {
      if (removed) return;
      removed = true;
      const cleanup = await cli(["--cleanup", ...backendFlags()]);
      await run(["ip", "link", "delete", NODE_LINK]);
      await run(["ipvsadm", "--set", ...KERNEL_TIMEOUTS]);
      await Deno.remove(dir, { recursive: true });
      assert.equal(cleanup.code, 0, `--cleanup failed:\n${cleanup.stderr}`);
    },
    [Symbol.asyncDispose]: () => node.remove(),
  };
  try {
    await sh(["ip", "link", "add", NODE_LINK, "type", "dummy"]);
    await sh(["ip", "addr", "add", `${NODE_IP}/32`, "dev", NODE_LINK]);
    await sh(["ip", "link", "set", NODE_LINK, "up"]);
  } catch (error) {
    await node.remove();
    throw error;
  }
  return node;
}

/**
 * A pod: namespace `name` with `ip`, its veth's node end at the same address in 10.245.0.0/16
 * (10.244.1.11 -> 10.245.1.11), point-to-point, so the node has a /32 route to the pod and the
 * pod's default route goes through the node (IPVS NAT needs the replies back).
 */
export function createPod(name: string, ip: string): Promise<Netns> {
  return createNetns({
    name,
    nsAddress: ip,
    hostAddress: ip.replace(/^10\.244\./, "10.245."),
    pointToPoint: true,
  });
}

/** A client namespace at `ip` behind the node end `gateway` (point-to-point). */
export function createClient(name: string, ip: string, gateway: string): Promise<Netns> {
  return createNetns({ name, nsAddress: ip, hostAddress: gateway, pointToPoint: true });
}

/** A service port of {@linkcode service}. */
export interface PortSpec {
  /** Port name. @default "" (unnamed) */
  name?: string;
  /** @default "TCP" */
  protocol?: "TCP" | "UDP";
  port: number;
  /** @default port */
  targetPort?: number;
  nodePort?: number;
}

/** What {@linkcode service} builds a `v1` Service from. */
export interface ServiceSpec {
  name: string;
  /** @default "default" */
  namespace?: string;
  /** @default "ClusterIP" */
  type?: "ClusterIP" | "NodePort" | "LoadBalancer";
  clusterIP: string;
  ports: PortSpec[];
  /** `ClientIP` with its timeout. */
  affinitySeconds?: number;
  externalTrafficPolicy?: "Cluster" | "Local";
  loadBalancerSourceRanges?: string[];
  /** `status.loadBalancer.ingress[].ip`. */
  ingress?: string[];
  /** `spec.externalIPs`. */
  externalIPs?: string[];
}

/** A `v1` Service manifest. */
export function service(spec: ServiceSpec): object {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: spec.name, namespace: spec.namespace ?? "default" },
    spec: {
      type: spec.type ?? "ClusterIP",
      clusterIP: spec.clusterIP,
      clusterIPs: [spec.clusterIP],
      ports: spec.ports.map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        protocol: p.protocol ?? "TCP",
        port: p.port,
        targetPort: p.targetPort ?? p.port,
        ...(p.nodePort ? { nodePort: p.nodePort } : {}),
      })),
      ...(spec.affinitySeconds
        ? {
          sessionAffinity: "ClientIP",
          sessionAffinityConfig: { clientIP: { timeoutSeconds: spec.affinitySeconds } },
        }
        : {}),
      ...(spec.externalTrafficPolicy ? { externalTrafficPolicy: spec.externalTrafficPolicy } : {}),
      ...(spec.loadBalancerSourceRanges
        ? { loadBalancerSourceRanges: spec.loadBalancerSourceRanges }
        : {}),
      ...(spec.externalIPs ? { externalIPs: spec.externalIPs } : {}),
    },
    ...(spec.ingress
      ? { status: { loadBalancer: { ingress: spec.ingress.map((ip) => ({ ip })) } } }
      : {}),
  };
}

/** What {@linkcode endpointSlice} builds a `discovery.k8s.io/v1` EndpointSlice from. */
export interface SliceSpec {
  /** The service's name (the `kubernetes.io/service-name` label). */
  service: string;
  /** @default the service's name */
  name?: string;
  /** @default "default" */
  namespace?: string;
  /** Ready endpoints; `node` defaults to {@linkcode NODE_NAME}. */
  endpoints: { ip: string; node?: string }[];
  ports: { name?: string; protocol?: "TCP" | "UDP"; port: number }[];
}

/** A `discovery.k8s.io/v1` EndpointSlice manifest. */
export function endpointSlice(spec: SliceSpec): object {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: spec.name ?? spec.service,
      namespace: spec.namespace ?? "default",
      labels: { "kubernetes.io/service-name": spec.service },
    },
    addressType: "IPv4",
    endpoints: spec.endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: e.node ?? NODE_NAME,
    })),
    ports: spec.ports.map((p) => ({
      ...(p.name ? { name: p.name } : {}),
      protocol: p.protocol ?? "TCP",
      port: p.port,
    })),
  };
}

/** `ipvsadm -Sn` lines (`-A -t ...`, `-a -t ... -r ...`). */
export async function savedIpvs(): Promise<string[]> {
  return (await sh(["ipvsadm", "-Sn"])).split("\n").filter((l) => l !== "");
}

/** The real servers `ipvsadm -Sn` lists for a TCP virtual server, as `address:port -w N`. */
export async function realServersOf(virtualServer: string, flag = "-t"): Promise<string[]> {
  const prefix = `-a ${flag} ${virtualServer} -r `;
  return (await savedIpvs()).filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length).replace(" -m ", " "))
    .sort();
}

/**
 * ActiveConn + InActConn of one real server of a TCP virtual server, from `ipvsadm -Ln`
 * (live, unlike `--stats`): `  -> 10.244.1.21:9000   Masq    0      1          0`.
 */
export async function connectionsOf(virtualServer: string, realServer: string): Promise<number> {
  const lines = (await sh(["ipvsadm", "-Ln", "-t", virtualServer])).split("\n");
  const line = lines.find((l) => l.trim().startsWith(`-> ${realServer} `));
  if (line === undefined) throw new Error(`${virtualServer} has no real server ${realServer}`);
  const [active, inactive] = line.trim().split(/\s+/).slice(-2).map(Number);
  return active + inactive;
}

/**
 * Packets the DROP rules of a filter chain have dropped, from `iptables -L CHAIN -nvx`:
 * `       3      180 DROP       0    --  *      *       0.0.0.0/0            0.0.0.0/0`.
 */
export async function droppedBy(chain: string): Promise<number> {
  const listing = await sh(["iptables", "-t", "filter", "-L", chain, "-n", "-v", "-x"]);
  return listing.split("\n").map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[2] === "DROP")
    .reduce((sum, fields) => sum + Number(fields[0]), 0);
}

/** Polls `condition` every 200 ms until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
