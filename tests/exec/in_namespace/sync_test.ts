/**
 * Real syncs of a desired state computed by the proxier, in this private network namespace:
 * applied, read back and checked with the tools themselves; a second sync writes nothing;
 * one endpoint change is one `ipset restore`.
 */
import assert from "node:assert/strict";
import { countingRunner, runCommand } from "../../../backends/exec/command.ts";
import { comparableState } from "../../../backends/contract.ts";
import type { Backend } from "../../../backends/backend.ts";
import { diffStates } from "../../../src/plan/diff.ts";
import type { IptablesFamily, KernelState, TableName } from "../../../src/state/types.ts";
import { IPVS_DEVICE } from "../../../src/state/types.ts";
import { parseIpsetSave } from "../../../src/render/ipset.ts";
import { cleanUp, namespaceBackend, prepareNamespace, tool } from "./namespace_helpers.ts";
import { createNodeDevice, deleteNodeDevice, desiredState } from "./cluster_fixture.ts";

const CONTRACT = { ipvs: false, addresses: true, families: ["ipv4", "ipv6"] as IptablesFamily[] };
const NO_EXCLUDES = { excludeCIDRs: [] };

/** Runs `body` on a node with its device, leaving nothing of ours or the device behind. */
async function onNode(body: (nodeIPs: readonly string[]) => Promise<void>): Promise<void> {
  await prepareNamespace();
  await cleanUp();
  await createNodeDevice();
  try {
    await body(await namespaceBackend().nodeAddresses());
  } finally {
    await cleanUp();
    await deleteNodeDevice();
  }
}

async function sync(backend: Backend, desired: KernelState) {
  const plan = diffStates(await backend.read(), desired, NO_EXCLUDES);
  const result = await backend.apply(plan);
  assert.deepEqual(result.failures, []);
  assert.equal(result.applied, plan.length);
  return { plan, result };
}

const SAVE: Record<IptablesFamily, string> = { ipv4: "iptables-save", ipv6: "ip6tables-save" };

/** The `-A CHAIN ...` lines of `chain` in a table's save output, in order. */
function chainLines(saveText: string, chain: string): string[] {
  return saveText.split("\n").filter((line) => line.startsWith(`-A ${chain} `));
}

async function assertIptablesSaveShows(desired: KernelState, family: IptablesFamily) {
  for (const table of ["nat", "filter"] as TableName[]) {
    const text = await tool([SAVE[family], "-t", table]);
    const ours = desired.iptables[family][table];
    for (const chain of ours.chains) {
      // Byte-identical: our rules are written in iptables-save's canonical form.
      assert.deepEqual(
        chainLines(text, chain.name),
        chain.rules.map((rule) => `-A ${chain.name} ${rule}`),
        `${SAVE[family]} -t ${table}: chain ${chain.name}`,
      );
    }
    for (const builtin of new Set(ours.jumps.map((j) => j.chain))) {
      const wanted = ours.jumps.filter((j) => j.chain === builtin);
      assert.deepEqual(
        chainLines(text, builtin).slice(0, wanted.length),
        wanted.map((j) => `-A ${builtin} ${j.rule}`),
        `${SAVE[family]} -t ${table}: jumps at the top of ${builtin}`,
      );
    }
  }
}

async function assertToolsShow(desired: KernelState) {
  const sets = parseIpsetSave(await tool(["ipset", "save"]));
  const names = (await tool(["ipset", "list", "-n"])).split("\n").filter((n) => n !== "");
  assert.deepEqual(names.sort(), desired.ipsets.map((s) => s.name).sort());
  for (const want of desired.ipsets) {
    const got = sets.find((s) => s.name === want.name);
    assert.deepEqual([...got!.entries].sort(), [...want.entries].sort(), `ipset ${want.name}`);
  }
  const links = JSON.parse(await tool(["ip", "-j", "addr", "show", "dev", IPVS_DEVICE]));
  const bound = links[0].addr_info.map((a: { local: string; prefixlen: number }) =>
    `${a.local}/${a.prefixlen}`
  );
  assert.deepEqual(
    bound.sort(),
    desired.addresses.map((a) => a.address).sort(),
    `ip addr show dev ${IPVS_DEVICE}`,
  );
}

Deno.test("nodeAddresses() lists the node device's addresses, primaries first, without link-local", async () => {
  await onNode((nodeIPs) => {
    assert.deepEqual(nodeIPs, ["192.168.0.10", "fd00:10::10", "192.168.0.11"]);
    return Promise.resolve();
  });
});

Deno.test("a desired state from the proxier is applied, read back equal, and the tools show it exactly", async () => {
  await onNode(async (nodeIPs) => {
    const backend = namespaceBackend();
    const desired = desiredState(nodeIPs);
    assert.ok(desired.ipsets.length > 10 && desired.addresses.length > 5);
    const { plan } = await sync(backend, desired);
    assert.ok(plan.length > 0);
    const read = await backend.read();
    assert.deepEqual(comparableState(read, CONTRACT), comparableState(desired, CONTRACT));
    assert.deepEqual(diffStates(read, desired, NO_EXCLUDES), []);
    await assertIptablesSaveShows(desired, "ipv4");
    await assertIptablesSaveShows(desired, "ipv6");
    await assertToolsShow(desired);
  });
});

Deno.test("a second sync of the same state runs no write command", async () => {
  await onNode(async (nodeIPs) => {
    const desired = desiredState(nodeIPs);
    await sync(namespaceBackend(), desired);
    const run = countingRunner(runCommand);
    const { plan, result } = await sync(namespaceBackend({ run }), desired);
    assert.deepEqual(plan, []);
    assert.equal(result.writes, 0);
    assert.equal(run.writes(), 0, `write commands: ${JSON.stringify(run.calls)}`);
  });
});

Deno.test("moving one local endpoint changes the loop-back set only, in one ipset process", async () => {
  await onNode(async (nodeIPs) => {
    await sync(namespaceBackend(), desiredState(nodeIPs));
    const run = countingRunner(runCommand);
    const moved = desiredState(nodeIPs, "10.244.1.4");
    const { plan, result } = await sync(namespaceBackend({ run }), moved);
    const entry = (ip: string, proto: string) => `${ip},${proto}:53,${ip}`;
    assert.deepEqual(plan, [
      { op: "ipset.del", set: "KUBE-LOOP-BACK", entry: entry("10.244.1.2", "tcp") },
      { op: "ipset.del", set: "KUBE-LOOP-BACK", entry: entry("10.244.1.2", "udp") },
      { op: "ipset.add", set: "KUBE-LOOP-BACK", entry: entry("10.244.1.4", "tcp") },
      { op: "ipset.add", set: "KUBE-LOOP-BACK", entry: entry("10.244.1.4", "udp") },
    ]);
    assert.equal(result.writes, 1);
    assert.equal(run.writes(), 1);
    assert.deepEqual(run.calls.filter((argv) => argv[0] === "ipset" && argv[1] === "restore"), [
      ["ipset", "restore"],
    ]);
    assert.deepEqual(diffStates(await namespaceBackend().read(), moved, NO_EXCLUDES), []);
  });
});
