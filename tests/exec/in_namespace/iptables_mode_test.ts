/**
 * iptables mode for real, on the host's kernel (which has no IPVS), inside the private network
 * namespace `tests/exec/namespace_test.ts` starts: this namespace is the node, pods and an
 * external client are namespaces of their own behind veth pairs. The preflight fails, the
 * proxier falls back to iptables mode, the exec backend applies its state, and real TCP and
 * UDP connections go through the rules. Everything created here is removed at the end.
 *
 * @module
 */

import assert from "node:assert/strict";
import { countingRunner, isWriteCommand, runCommand } from "../../../backends/exec/command.ts";
import { cleanupPlan, diffStates } from "../../../src/plan/diff.ts";
import type { KernelState } from "../../../src/state/types.ts";
import { main } from "../../../src/cli/main.ts";
import { createNetns, type Netns } from "../../kernel/netns.ts";
import { endpointSlice, service, type SliceSpec } from "../../kernel/cluster.ts";
import { type Server, startLineServer, startUdpServer, udpAsk } from "../../kernel/servers.ts";
import { namespaceBackend, prepareNamespace, saved, tool } from "./namespace_helpers.ts";
import { cluster, createNodeDevice, deleteNodeDevice, NODE_NAME } from "./cluster_fixture.ts";
import { computeDesiredState } from "../../../src/proxier/desired_state.ts";
import { testConfig } from "../../../src/proxier/testing.ts";

const NODE_IP = "192.168.0.10";
const CLIENT_GATEWAY = "192.168.60.1";

/** The cluster's manifests: four services, each with one endpoint here and one elsewhere. */
function manifests(): object {
  const slice = (name: string): object => {
    const ports: SliceSpec["ports"] = [
      { name: "tcp", port: 8080 },
      { name: "dns", protocol: "UDP", port: 5353 },
    ];
    const endpoints = [{ ip: "10.244.1.2" }, { ip: "10.244.2.2", node: "node-b" }];
    return endpointSlice({ service: name, endpoints, ports });
  };
  const tcp = (nodePort?: number) => [{ name: "tcp", port: 80, targetPort: 8080, nodePort }];
  return {
    apiVersion: "v1",
    kind: "List",
    items: [
      service({
        name: "web",
        clusterIP: "10.96.0.10",
        ports: [...tcp(), { name: "dns", protocol: "UDP", port: 53, targetPort: 5353 }],
      }),
      service({ name: "np", type: "NodePort", clusterIP: "10.96.0.11", ports: tcp(30080) }),
      service({
        name: "local",
        type: "NodePort",
        clusterIP: "10.96.0.12",
        ports: tcp(30081),
        externalTrafficPolicy: "Local",
      }),
      service({ name: "sticky", clusterIP: "10.96.0.13", ports: tcp(), affinitySeconds: 600 }),
      ...["web", "np", "local", "sticky"].map(slice),
    ],
  };
}

/** What one CLI run logged, its exit code, and the commands its sync ran that write. */
interface CliRun {
  readonly code: number;
  readonly log: string[];
  readonly writes: string[][];
}

/**
 * One `--once` sync as an operator starts it on this node: `mode: ipvs` on a kernel without
 * IPVS, the real preflight, node preparation and exec backend.
 */
function syncThroughCli(dir: string): Promise<CliRun> {
  return runCli([
    "--proxy-mode=ipvs",
    "--manifests",
    dir,
    "--once",
    "--hostname-override",
    NODE_NAME,
    "--node-ip",
    NODE_IP,
    "--cluster-cidr",
    "10.244.0.0/16",
  ]);
}

/** Runs the CLI in-process on this namespace's kernel, counting the writing commands. */
async function runCli(args: string[]): Promise<CliRun> {
  const log: string[] = [];
  const run = countingRunner(runCommand);
  const code = await main(args, {
    stdout: () => {},
    stderr: (line) => void log.push(line),
    env: {},
    hostname: () => NODE_NAME,
    run,
    // The tools are what this test counts.
    defaultBackend: "exec",
  });
  // The preflight's modprobe attempts are the startup's, not the sync's.
  const writes = run.calls.filter((argv) => isWriteCommand(argv) && argv[0] !== "modprobe");
  return { code, log, writes };
}

/** The first line a line server sends, over a new connection from this namespace. */
async function greeting(host: string, portNumber: number): Promise<string> {
  const conn = await Deno.connect({ hostname: host, port: portNumber });
  try {
    const buffer = new Uint8Array(64);
    const n = await conn.read(buffer);
    return new TextDecoder().decode(buffer.subarray(0, n ?? 0)).trim();
  } finally {
    conn.close();
  }
}

/** The same from inside `netns` (an external client), with busybox nc. */
async function greetingFrom(netns: Netns, host: string, portNumber: number): Promise<string> {
  const out = await netns.exec([
    "busybox",
    "sh",
    "-c",
    `echo bye | busybox nc -w 2 ${host} ${portNumber}`,
  ]);
  return out.trim();
}

async function many(count: number, ask: () => Promise<string>): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const answer = await ask();
    seen.set(answer, (seen.get(answer) ?? 0) + 1);
  }
  return seen;
}

async function sysctl(key: string, value: string): Promise<void> {
  await Deno.writeTextFile(`/proc/sys/${key.replaceAll(".", "/")}`, value);
}

/** The node's pods and outside client, with their servers, shared by the tests below. */
interface World {
  readonly netns: Netns[];
  readonly servers: Server[];
  readonly client: Netns;
  /** The manifests directory. */
  readonly dir: string;
}

let world: World | undefined;

async function setUp(): Promise<World> {
  await prepareNamespace();
  await sysctl("net.ipv4.ip_forward", "1");
  await sysctl("net.ipv4.conf.all.rp_filter", "0");
  await sysctl("net.ipv4.conf.default.rp_filter", "0");
  await createNodeDevice();
  await tool(["ip", "route", "add", "default", "via", "192.168.0.1", "dev", "node0"]);
  const netns: Netns[] = [];
  const servers: Server[] = [];
  const dir = await Deno.makeTempDir({ prefix: "ipt-manifests-" });
  await Deno.writeTextFile(`${dir}/cluster.json`, JSON.stringify(manifests(), null, 2));
  world = { netns, servers, client: undefined as unknown as Netns, dir };
  const add = (name: string, hostAddress: string, nsAddress: string) =>
    createNetns({ name, hostAddress, nsAddress }).then((ns) => (netns.push(ns), ns));
  const p1 = await add("ipt-p1", "10.244.1.1", "10.244.1.2");
  const p2 = await add("ipt-p2", "10.244.2.1", "10.244.2.2");
  const client = await add("ipt-cl", CLIENT_GATEWAY, "192.168.60.2");
  const udp = [startUdpServer(p1, { port: 5353 }), startUdpServer(p2, { port: 5353 })];
  servers.push(
    await startLineServer(p1, { port: 8080 }),
    await startLineServer(p2, { port: 8080 }),
  );
  servers.push(...await Promise.all(udp));
  return world = { netns, servers, client, dir };
}

async function tearDown(): Promise<void> {
  for (const server of world?.servers ?? []) await server.stop();
  for (const ns of world?.netns ?? []) await ns.remove();
  if (world !== undefined) {
    const backend = namespaceBackend({ families: ["ipv4"] });
    await backend.apply(cleanupPlan(await backend.read()));
    // The foreign chains of the cleanup test, in case it failed half-way.
    await runCommand(["iptables", "-t", "nat", "-D", "PREROUTING", "-j", "FOREIGN-CHAIN"]);
    await runCommand(["iptables", "-t", "nat", "-F", "FOREIGN-CHAIN"]);
    await runCommand(["iptables", "-t", "nat", "-X", "FOREIGN-CHAIN"]);
    await runCommand(["iptables", "-t", "filter", "-X", "KUBE-FIREWALL"]);
    await runCommand(["ip", "route", "del", "default"]);
    await deleteNodeDevice();
    await Deno.remove(world.dir, { recursive: true });
  }
  world = undefined;
}

/** One test over the shared world, set up by the first (the servers outlive each test). */
function realTest(name: string, fn: (world: World) => Promise<void>): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await fn(world ?? await setUp());
    },
  });
}

realTest(
  "mode ipvs falls back to iptables with the seed's two lines, and syncs",
  async ({ dir }) => {
    const run = await syncThroughCli(dir);
    assert.equal(run.code, 0, run.log.join("\n"));
    const at = run.log.indexOf("Can't use ipvs proxier, trying iptables proxier");
    assert.ok(at >= 0, run.log.join("\n"));
    assert.equal(run.log[at + 1], "Using iptables Proxier.");
    assert.match(run.log.slice(0, at).join("\n"), /kernel module ip_vs/);
    // One restore per table (nat, filter) and family, and nothing else: like kube-proxy, the
    // proxy runs both families where the kernel has both, whatever the node's addresses.
    assert.deepEqual(run.writes, [
      ["iptables-restore", "--noflush", "-w"],
      ["iptables-restore", "--noflush", "-w"],
      ["ip6tables-restore", "--noflush", "-w"],
      ["ip6tables-restore", "--noflush", "-w"],
    ]);
    assert.match(
      await saved("iptables-save"),
      /-A KUBE-SEP-\S+ -p tcp -m comment --comment "default\/web:tcp" -m tcp -j DNAT --to-destination 10.244.1.2:8080/,
    );
  },
);

/**
 * Leaves the node as IPVS mode would have on this IPv4 node (its sets, chains, kube-ipvs0 and
 * addresses; no virtual servers, this kernel has none), plus a foreign `KUBE-` set that is not
 * ours; returns IPVS mode's state. (Another family's leftovers stay, as kube-proxy's per-family
 * proxiers leave them: the diff manages only the families the node runs.)
 */
async function leaveIpvsModeState(): Promise<KernelState> {
  const { state } = computeDesiredState({
    config: testConfig({ clusterCIDRs: ["10.244.0.0/16"] }),
    snapshot: cluster(),
    nodeName: NODE_NAME,
    nodeIPs: [NODE_IP],
  });
  const ipvsMode = { ...state, virtualServers: [] };
  const backend = namespaceBackend({ families: ["ipv4"] });
  const plan = diffStates(await backend.read(), ipvsMode, { excludeCIDRs: [] });
  assert.deepEqual((await backend.apply(plan)).failures, []);
  await tool(["ipset", "create", "KUBE-FOREIGN-TOOL", "hash:ip"]);
  return ipvsMode;
}

/** IPVS mode's own chains (those iptables mode does not have), by name. */
function ipvsModeChains(state: KernelState): string[] {
  const { nat, filter } = state.iptables.ipv4;
  return [...nat.chains, ...filter.chains].map((c) => c.name)
    .filter((name) => /^KUBE-(IPVS|LOAD-BALANCER|NODE-PORT|SOURCE-RANGES|LOOP)/.test(name));
}

realTest(
  "a node switched from IPVS mode keeps nothing of it, and a foreign set",
  async ({ dir }) => {
    const ipvsMode = await leaveIpvsModeState();
    assert.ok(ipvsModeChains(ipvsMode).length > 0);
    const run = await syncThroughCli(dir);
    assert.equal(run.code, 0, run.log.join("\n"));
    assert.deepEqual((await tool(["ipset", "list", "-n"])).trim().split("\n"), [
      "KUBE-FOREIGN-TOOL",
    ]);
    const rules = await saved("iptables-save");
    assert.deepEqual(ipvsModeChains(ipvsMode).filter((name) => rules.includes(`:${name} `)), []);
    assert.match(rules, /-j KUBE-SVC-/);
    assert.equal((await runCommand(["ip", "link", "show", "kube-ipvs0"])).code, 1);
    await tool(["ipset", "destroy", "KUBE-FOREIGN-TOOL"]);
  },
);

realTest("TCP to a cluster IP reaches both endpoints", async () => {
  const seen = await many(30, () => greeting("10.96.0.10", 80));
  assert.deepEqual([...seen.keys()].sort(), ["ipt-p1", "ipt-p2"], JSON.stringify([...seen]));
});

realTest("UDP to a cluster IP reaches both endpoints", async () => {
  const seen = await many(30, async () => (await udpAsk("10.96.0.10", 53, "hi")).split(" ")[0]);
  assert.deepEqual([...seen.keys()].sort(), ["ipt-p1", "ipt-p2"], JSON.stringify([...seen]));
});

realTest(
  "a NodePort on the node's address reaches both endpoints from outside",
  async ({ client }) => {
    const seen = await many(20, () => greetingFrom(client, CLIENT_GATEWAY, 30080));
    assert.deepEqual([...seen.keys()].sort(), ["ipt-p1", "ipt-p2"], JSON.stringify([...seen]));
    assert.equal(await greeting(NODE_IP, 30080).then((g) => g.startsWith("ipt-p")), true);
  },
);

realTest(
  "externalTrafficPolicy Local sends outside traffic to the local endpoint only",
  async ({ client }) => {
    const seen = await many(20, () => greetingFrom(client, CLIENT_GATEWAY, 30081));
    assert.deepEqual([...seen], [["ipt-p1", 20]]);
  },
);

realTest("ClientIP session affinity keeps one client on one endpoint", async () => {
  const seen = await many(20, () => greeting("10.96.0.13", 80));
  assert.equal(seen.size, 1, JSON.stringify([...seen]));
});

realTest("a second sync changes nothing: an empty plan and 0 writes", async ({ dir }) => {
  const run = await syncThroughCli(dir);
  assert.equal(run.code, 0, run.log.join("\n"));
  assert.ok(run.log.some((line) => /^sync: .*, no changes$/.test(line)), run.log.join("\n"));
  assert.deepEqual(run.writes, []);
});

realTest("switching back to IPVS mode leaves no per-service chain of iptables mode", async () => {
  const before = await saved("iptables-save");
  assert.match(before, /^:KUBE-SVC-/m);
  const ipvsMode = await leaveIpvsModeState();
  const after = await saved("iptables-save");
  assert.doesNotMatch(after, /^:KUBE-(SVC|SEP|EXT|FW|SVL)-/m);
  for (const chain of ipvsModeChains(ipvsMode)) assert.ok(after.includes(`:${chain} `), chain);
  await tool(["ipset", "destroy", "KUBE-FOREIGN-TOOL"]);
});

realTest("--cleanup removes iptables mode's chains and leaves foreign ones", async () => {
  await tool(["iptables", "-t", "nat", "-N", "FOREIGN-CHAIN"]);
  await tool(["iptables", "-t", "nat", "-A", "FOREIGN-CHAIN", "-j", "RETURN"]);
  await tool(["iptables", "-t", "nat", "-I", "PREROUTING", "-j", "FOREIGN-CHAIN"]);
  await tool(["iptables", "-t", "filter", "-N", "KUBE-FIREWALL"]);
  const run = await runCli(["--cleanup"]);
  assert.equal(run.code, 0, run.log.join("\n"));
  const text = await saved("iptables-save");
  assert.doesNotMatch(
    text,
    /KUBE-(SVC|SEP|EXT|SERVICES|NODEPORTS|POSTROUTING|MARK-MASQ|FORWARD)/,
  );
  assert.match(text, /^-A PREROUTING -j FOREIGN-CHAIN$/m);
  assert.match(text, /^-A FOREIGN-CHAIN -j RETURN$/m);
  assert.match(text, /^:KUBE-FIREWALL - /m);
  const backend = namespaceBackend({ families: ["ipv4"] });
  assert.deepEqual(cleanupPlan(await backend.read()), []);
  // Twice is harmless: nothing of ours is left to remove.
  assert.deepEqual((await runCli(["--cleanup"])).writes, []);
  await tool(["iptables", "-t", "nat", "-D", "PREROUTING", "-j", "FOREIGN-CHAIN"]);
  await tool(["iptables", "-t", "nat", "-F", "FOREIGN-CHAIN"]);
  await tool(["iptables", "-t", "nat", "-X", "FOREIGN-CHAIN"]);
  await tool(["iptables", "-t", "filter", "-X", "KUBE-FIREWALL"]);
});

Deno.test({
  name: "everything the iptables mode tests created is removed again",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await tearDown();
    assert.deepEqual(cleanupPlan(await namespaceBackend({ families: ["ipv4"] }).read()), []);
  },
});
