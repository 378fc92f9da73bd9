/**
 * The netlink backend's read against this namespace's real kernel: it reuses the decode of
 * an unchanged reply, but asks the kernel every time, so whatever is changed behind its back
 * (by the tools here) shows in the very next read, exactly as the exec backend reads it; and
 * with `ipsets: false` (a kernel without `ip_set`) it neither reads sets nor opens a socket
 * for them. The `iptables-save` it skips while nf_tables' generation stands still is held to
 * the kernel here too: the generation moves with every change of the tools, and a change is
 * in the next read.
 */
import assert from "node:assert/strict";
import { NetlinkBackend } from "../../../backends/netlink/netlink_backend.ts";
import { NftablesGeneration } from "../../../backends/netlink/nftables_generation.ts";
import { spawnTool } from "../../../backends/netlink/spawn_tool.ts";
import type { CommandRunner } from "../../../backends/exec/command.ts";
import { diffStates } from "../../../src/plan/diff.ts";
import type { KernelState } from "../../../src/state/types.ts";
import { createNodeDevice, deleteNodeDevice, desiredState } from "./cluster_fixture.ts";
import { cleanUp, namespaceBackend, prepareNamespace, tool } from "./namespace_helpers.ts";

const NODE_IPS = ["192.168.0.10", "192.168.0.11", "fd00:10::10"];

async function withSyncedNode(
  options: { ipsets?: boolean; readRun?: CommandRunner },
  test: (backend: NetlinkBackend, desired: KernelState) => Promise<void>,
): Promise<void> {
  await prepareNamespace();
  await cleanUp();
  await createNodeDevice();
  const backend = new NetlinkBackend({ ipvs: false, linkType: "veth", ...options });
  try {
    const desired = desiredState(NODE_IPS);
    const exec = namespaceBackend();
    const cold = await exec.apply(diffStates(await exec.read(), desired, { excludeCIDRs: [] }));
    assert.deepEqual(cold.failures, []);
    await test(backend, desired);
  } finally {
    await backend.close();
    await cleanUp();
    await deleteNodeDevice();
  }
}

/** Asserts the netlink backend reads what the exec backend reads, and returns it. */
async function readsAsExec(backend: NetlinkBackend): Promise<KernelState> {
  const [netlink, exec] = await Promise.all([backend.read(), namespaceBackend().read()]);
  assert.deepEqual(netlink, exec);
  return netlink;
}

Deno.test("a set entry, an address and a rule removed behind the backend's back show in the next read", () =>
  withSyncedNode({}, async (backend, desired) => {
    const synced = await readsAsExec(backend);
    assert.deepEqual(await backend.read(), synced, "a second read of the same kernel");
    const set = synced.ipsets.find((s) => s.name === "KUBE-CLUSTER-IP")!;
    const [address] = synced.addresses;
    const [chain] = synced.iptables.ipv4.nat.chains.filter((c) => c.rules.length > 0);
    await tool(["ipset", "del", set.name, set.entries[0]]);
    await tool(["ip", "addr", "del", address.address, "dev", address.device]);
    await tool(["iptables", "-t", "nat", "-F", chain.name]);
    const drifted = await readsAsExec(backend);
    assert.ok(!drifted.ipsets.find((s) => s.name === set.name)!.entries.includes(set.entries[0]));
    assert.ok(!drifted.addresses.some((a) => a.address === address.address));
    assert.deepEqual(
      drifted.iptables.ipv4.nat.chains.find((c) => c.name === chain.name)!.rules,
      [],
    );
    const repair = await backend.apply(diffStates(drifted, desired, { excludeCIDRs: [] }));
    assert.deepEqual(repair.failures, []);
    assert.deepEqual(await readsAsExec(backend), synced, "repaired, it reads as before");
    await tool(["ipset", "flush", set.name]);
    assert.deepEqual(
      (await readsAsExec(backend)).ipsets.find((s) => s.name === set.name)!.entries,
      [],
    );
  }));

/** The inodes of this process's netlink sockets of `protocol` (12: netfilter, ipset's). */
async function netlinkSockets(protocol: number): Promise<string[]> {
  const mine = new Set<string>();
  for await (const entry of Deno.readDir("/proc/self/fd")) {
    const target = await Deno.readLink(`/proc/self/fd/${entry.name}`).catch(() => "");
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode !== undefined) mine.add(inode);
  }
  const table = (await Deno.readTextFile("/proc/self/net/netlink")).trim().split("\n").slice(1);
  return table.map((line) => line.trim().split(/\s+/))
    .filter((fields) => Number(fields[1]) === protocol && mine.has(fields.at(-1)!))
    .map((fields) => fields.at(-1)!);
}

Deno.test("with ipsets off the backend reads no sets and opens no ipset socket, the rest as before", () =>
  withSyncedNode({ ipsets: false }, async (backend) => {
    const before = await netlinkSockets(12);
    const read = await backend.read();
    assert.deepEqual(read.ipsets, []);
    assert.deepEqual(await netlinkSockets(12), before, "no netfilter socket was opened");
    // From the second read on, nf_tables' generation is asked, over one netfilter socket of
    // its own; an ipset socket would be a second.
    assert.deepEqual((await backend.read()).ipsets, []);
    assert.equal((await netlinkSockets(12)).length, before.length + 1);
    const exec = await namespaceBackend({ ipsets: false }).read();
    assert.deepEqual(read, exec);
    assert.ok(read.addresses.length > 0 && read.iptables.ipv4.nat.chains.length > 0);
  }));

Deno.test("the nf_tables generation moves with every change by the tools and with no read", async () => {
  await prepareNamespace();
  await cleanUp();
  const generation = new NftablesGeneration();
  try {
    const start = await generation.current();
    await tool(["iptables-save"]);
    await tool(["ipset", "create", "KUBE-GENERATION-TEST", "hash:ip"]);
    assert.equal(await generation.current(), start, "a save and a set change nothing");
    await tool(["iptables", "-t", "nat", "-N", "KUBE-GENERATION-TEST"]);
    const created = await generation.current();
    assert.notEqual(created, start);
    await tool(["ip6tables", "-t", "filter", "-N", "KUBE-GENERATION-TEST"]);
    assert.notEqual(await generation.current(), created, "an IPv6 change moves it too");
  } finally {
    generation.close();
    await tool(["ipset", "destroy", "KUBE-GENERATION-TEST"]);
    await tool(["iptables", "-t", "nat", "-X", "KUBE-GENERATION-TEST"]);
    await tool(["ip6tables", "-t", "filter", "-X", "KUBE-GENERATION-TEST"]);
  }
});

Deno.test("an unchanged ruleset is read without iptables-save, and a rule changed by the tools is in the next read", async () => {
  const saves: string[] = [];
  const readRun: CommandRunner = (argv, options) => {
    saves.push(argv[0]);
    return spawnTool(argv, options);
  };
  await withSyncedNode({ readRun }, async (backend) => {
    const synced = await readsAsExec(backend);
    await backend.read(); // keeps the generation with its saves
    const counted = saves.length;
    assert.deepEqual(await readsAsExec(backend), synced);
    assert.equal(saves.length, counted, "no save while the generation stands");
    const [chain] = synced.iptables.ipv4.nat.chains;
    await tool(["iptables", "-t", "nat", "-A", chain.name, "-j", "RETURN"]);
    const changed = await readsAsExec(backend);
    assert.deepEqual(
      changed.iptables.ipv4.nat.chains.find((c) => c.name === chain.name)!.rules,
      [...chain.rules, "-j RETURN"],
    );
    assert.deepEqual(saves.slice(counted), ["iptables-save", "ip6tables-save"]);
  });
});
