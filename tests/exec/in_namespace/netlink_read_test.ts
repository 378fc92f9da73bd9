/**
 * The netlink backend's read against this namespace's real kernel: it reuses the decode of
 * an unchanged reply, but asks the kernel every time, so whatever is changed behind its back
 * (by the tools here) shows in the very next read, exactly as the exec backend reads it; and
 * with `ipsets: false` (a kernel without `ip_set`) it neither reads sets nor opens a socket
 * for them.
 */
import assert from "node:assert/strict";
import { NetlinkBackend } from "../../../backends/netlink/netlink_backend.ts";
import { diffStates } from "../../../src/plan/diff.ts";
import type { KernelState } from "../../../src/state/types.ts";
import { createNodeDevice, deleteNodeDevice, desiredState } from "./cluster_fixture.ts";
import { cleanUp, namespaceBackend, prepareNamespace, tool } from "./namespace_helpers.ts";

const NODE_IPS = ["192.168.0.10", "192.168.0.11", "fd00:10::10"];

async function withSyncedNode(
  options: { ipsets?: boolean },
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
    const exec = await namespaceBackend({ ipsets: false }).read();
    assert.deepEqual(read, exec);
    assert.ok(read.addresses.length > 0 && read.iptables.ipv4.nat.chains.length > 0);
  }));
