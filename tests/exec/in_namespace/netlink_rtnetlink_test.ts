/**
 * rtnetlink against this namespace's real kernel: `kube-ipvs0` (a veth here, the kernel has
 * no dummy) created, read, left down and deleted, its addresses added, deleted and read back
 * as `ip addr` shows them and the exec backend reads them, and the node's addresses equal to
 * the exec backend's.
 */
import assert from "node:assert/strict";
import { NetlinkBackend } from "../../../backends/netlink/netlink_backend.ts";
import { RtnetlinkClient } from "../../../backends/netlink/rtnetlink.ts";
import type { Operation } from "../../../src/plan/types.ts";
import { IPVS_DEVICE } from "../../../src/state/types.ts";
import { createNodeDevice, deleteNodeDevice } from "./cluster_fixture.ts";
import { cleanUp, namespaceBackend, prepareNamespace, tool } from "./namespace_helpers.ts";

const netlink = () => new NetlinkBackend({ ipvs: false, linkType: "veth" });

async function withNamespace(test: (backend: NetlinkBackend) => Promise<void>): Promise<void> {
  await prepareNamespace();
  await cleanUp();
  const backend = netlink();
  try {
    await test(backend);
  } finally {
    await backend.close();
    await cleanUp();
  }
}

/** `ip addr show dev kube-ipvs0` without the interface index line's changing parts. */
async function ipAddr(): Promise<string> {
  return (await tool(["ip", "-o", "addr", "show", "dev", IPVS_DEVICE]))
    .replace(/^\d+: /gm, "");
}

const ADDRESSES = ["10.96.0.1/32", "10.96.0.10/32", "fd00::1/128", "fd00::10/128"];
const addAll: Operation[] = [
  { op: "link.add", device: IPVS_DEVICE },
  ...ADDRESSES.map((address): Operation => ({ op: "address.add", device: IPVS_DEVICE, address })),
];

Deno.test("kube-ipvs0 and its addresses made over netlink look as the exec backend leaves them", () =>
  withNamespace(async (backend) => {
    assert.deepEqual((await namespaceBackend().apply(addAll)).failures, []);
    const byTools = await ipAddr();
    const execRead = await namespaceBackend().read();
    await cleanUp();
    const result = await backend.apply(addAll);
    assert.deepEqual(result.failures, []);
    assert.equal(result.writes, 2); // the link, then one batch of addresses
    assert.equal(await ipAddr(), byTools);
    assert.deepEqual(await backend.read(), execRead);
    const link = await tool(["ip", "-o", "link", "show", "dev", IPVS_DEVICE]);
    assert.doesNotMatch(link.split(">")[0], /\bUP\b/, "kube-ipvs0 is left down");
  }));

Deno.test("addresses are deleted in one batch and the link deleted with its peer", () =>
  withNamespace(async (backend) => {
    await backend.apply(addAll);
    const remove: Operation[] = ADDRESSES.slice(1).map((address) => ({
      op: "address.delete",
      device: IPVS_DEVICE,
      address,
    }));
    assert.deepEqual((await backend.apply(remove)).failures, []);
    assert.deepEqual((await backend.read()).addresses, [
      { device: IPVS_DEVICE, address: "10.96.0.1/32" },
    ]);
    assert.deepEqual(
      (await backend.apply([{ op: "link.delete", device: IPVS_DEVICE }])).failures,
      [],
    );
    assert.equal((await backend.read()).linkPresent, false);
    assert.doesNotMatch(await tool(["ip", "-o", "link"]), /kube-ipvs0/);
  }));

Deno.test("a refused address names the kernel's reason and the rest of its batch is applied", () =>
  withNamespace(async (backend) => {
    await backend.apply(addAll.slice(0, 2));
    const plan: Operation[] = [
      { op: "address.add", device: IPVS_DEVICE, address: "10.96.0.1/32" },
      { op: "address.add", device: IPVS_DEVICE, address: "10.96.0.2/32" },
      { op: "address.add", device: "missing0", address: "10.96.0.3/32" },
    ];
    const result = await backend.apply(plan);
    assert.deepEqual(result.failures.map((f) => f.operation), [plan[0], plan[2]]);
    assert.equal(result.failures[0].line, "address add 10.96.0.1/32 dev kube-ipvs0");
    assert.match(
      result.failures[0].message,
      /^rtnetlink add address 10\.96\.0\.1\/32 dev kube-ipvs0: EEXIST \(File exists\)/,
    );
    assert.equal(result.failures[1].message, 'Cannot find device "missing0"');
    assert.deepEqual((await backend.read()).addresses.map((a) => a.address), [
      "10.96.0.1/32",
      "10.96.0.2/32",
    ]);
  }));

Deno.test("a second link.add fails with EEXIST, reported with the link named", () =>
  withNamespace(async (backend) => {
    await backend.apply(addAll.slice(0, 1));
    const result = await backend.apply(addAll.slice(0, 1));
    assert.equal(result.failures.length, 1);
    assert.match(result.failures[0].message, /^rtnetlink add link veth kube-ipvs0: EEXIST/);
  }));

Deno.test("the node's addresses over netlink are the exec backend's, kube-ipvs0 and loopback left out", () =>
  withNamespace(async (backend) => {
    await createNodeDevice();
    try {
      await backend.apply(addAll);
      const addresses = await backend.nodeAddresses();
      assert.deepEqual(addresses, await namespaceBackend().nodeAddresses());
      assert.deepEqual(addresses, ["192.168.0.10", "fd00:10::10", "192.168.0.11"]);
    } finally {
      await deleteNodeDevice();
    }
  }));

Deno.test("10,000 addresses go in a few batches and read back as the exec backend reads them", () =>
  withNamespace(async (backend) => {
    await backend.apply(addAll.slice(0, 1));
    const many: Operation[] = Array.from({ length: 10_000 }, (_, i) => ({
      op: "address.add",
      device: IPVS_DEVICE,
      address: `10.97.${i >> 8}.${i & 255}/32`,
    }));
    const result = await backend.apply(many);
    assert.deepEqual(result.failures, []);
    assert.ok(result.writes >= 2 && result.writes < 40, `${result.writes} writes`);
    const read = await backend.read();
    assert.equal(read.addresses.length, 10_000);
    assert.deepEqual(read, await namespaceBackend().read());
  }));

Deno.test("a client reads a missing link as absent, not as an error", async () => {
  await prepareNamespace();
  const client = new RtnetlinkClient();
  try {
    assert.equal(await client.link("missing0"), undefined);
    assert.equal((await client.link("lo"))?.index, 1);
  } finally {
    client.close();
  }
});
