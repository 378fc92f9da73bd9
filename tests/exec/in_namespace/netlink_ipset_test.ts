/**
 * ipset over netlink against this namespace's real kernel: sets made by the netlink backend
 * read back with `ipset save` exactly as the exec backend's leave them, the netlink read
 * equals the exec read, and refusals carry ipset's own texts and the entry at fault.
 */
import assert from "node:assert/strict";
import { IpsetClient } from "../../../backends/netlink/ipset.ts";
import { NetlinkBackend } from "../../../backends/netlink/netlink_backend.ts";
import type { Operation } from "../../../src/plan/types.ts";
import { cleanUp, namespaceBackend, prepareNamespace, tool } from "./namespace_helpers.ts";

const netlink = () => new NetlinkBackend({ ipvs: false, linkType: "veth" });

/** `ipset save` without the per-set random `initval`, sorted, so two runs compare. */
async function ipsetSave(): Promise<string[]> {
  const text = await tool(["ipset", "save"]);
  return text.trim().split("\n").map((l) => l.replace(/ initval 0x[0-9a-f]+/, "")).sort();
}

async function destroyAll(): Promise<void> {
  await tool(["ipset", "destroy"]);
}

async function withNamespace(test: () => Promise<void>): Promise<void> {
  await prepareNamespace();
  await destroyAll();
  try {
    await test();
  } finally {
    await destroyAll();
  }
}

const SETS: Operation[] = [
  { op: "ipset.create", set: { name: "KUBE-CLUSTER-IP", type: "hash:ip,port", family: "inet" } },
  { op: "ipset.add", set: "KUBE-CLUSTER-IP", entry: "10.96.0.1,tcp:443" },
  { op: "ipset.add", set: "KUBE-CLUSTER-IP", entry: "10.96.0.10,udp:53" },
  { op: "ipset.add", set: "KUBE-CLUSTER-IP", entry: "10.96.0.10,sctp:53" },
  { op: "ipset.create", set: { name: "KUBE-LOOP-BACK", type: "hash:ip,port,ip", family: "inet" } },
  { op: "ipset.add", set: "KUBE-LOOP-BACK", entry: "10.244.1.2,tcp:80,10.244.1.2" },
  {
    op: "ipset.create",
    set: { name: "KUBE-LOAD-BALANCER-SOURCE-CIDR", type: "hash:ip,port,net", family: "inet" },
  },
  { op: "ipset.add", set: "KUBE-LOAD-BALANCER-SOURCE-CIDR", entry: "1.2.3.4,tcp:80,10.0.0.0/8" },
  { op: "ipset.add", set: "KUBE-LOAD-BALANCER-SOURCE-CIDR", entry: "1.2.3.4,tcp:80,10.1.2.3" },
  { op: "ipset.create", set: { name: "KUBE-NODE-PORT-TCP", type: "bitmap:port", family: "inet" } },
  { op: "ipset.add", set: "KUBE-NODE-PORT-TCP", entry: "30080" },
  { op: "ipset.create", set: { name: "KUBE-6-IPVS-IPS", type: "hash:ip", family: "inet6" } },
  { op: "ipset.add", set: "KUBE-6-IPVS-IPS", entry: "fd00::10" },
  { op: "ipset.add", set: "KUBE-6-IPVS-IPS", entry: "2001:db8::a:0:0:1" },
  {
    op: "ipset.create",
    set: { name: "KUBE-6-LOOP-BACK", type: "hash:ip,port,ip", family: "inet6" },
  },
  { op: "ipset.add", set: "KUBE-6-LOOP-BACK", entry: "fd01::2,udp:53,fd01::2" },
  {
    op: "ipset.create",
    set: { name: "KUBE-6-NODE-PORT-UDP", type: "bitmap:port", family: "inet6" },
  },
  { op: "ipset.add", set: "KUBE-6-NODE-PORT-UDP", entry: "30053" },
];

Deno.test("sets made over netlink read back with ipset save exactly as the exec backend's", () =>
  withNamespace(async () => {
    const exec = await namespaceBackend().apply(SETS);
    assert.deepEqual(exec.failures, []);
    const byTools = await ipsetSave();
    const execRead = await namespaceBackend().read();
    await destroyAll();
    const backend = netlink();
    try {
      const result = await backend.apply(SETS);
      assert.deepEqual(result.failures, []);
      assert.equal(result.applied, SETS.length);
      assert.deepEqual(await ipsetSave(), byTools);
      assert.deepEqual(await backend.read(), execRead);
      assert.deepEqual(await namespaceBackend().read(), execRead);
    } finally {
      await backend.close();
    }
  }));

Deno.test("a replace fills a temporary set and swaps it in, as the exec backend's does", () =>
  withNamespace(async () => {
    const backend = netlink();
    try {
      const header = { name: "KUBE-CLUSTER-IP", type: "hash:ip,port", family: "inet" } as const;
      await backend.apply([{ op: "ipset.create", set: header }, {
        op: "ipset.add",
        set: header.name,
        entry: "10.0.0.1,tcp:1",
      }]);
      const entries = Array.from({ length: 3000 }, (_, i) => `10.1.${i >> 8}.${i & 255},tcp:80`);
      const result = await backend.apply([{ op: "ipset.replace", set: header, entries }]);
      assert.deepEqual(result.failures, []);
      const [set] = (await backend.read()).ipsets;
      assert.deepEqual(set.entries, [...entries].sort());
      assert.deepEqual((await ipsetSave()).filter((l) => l.startsWith("create")), [
        "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536 bucketsize 12",
      ]);
      assert.deepEqual(await namespaceBackend().read(), await backend.read());
    } finally {
      await backend.close();
    }
  }));

Deno.test("10,000 entries in few messages read back identically through netlink and ipset save", () =>
  withNamespace(async () => {
    const backend = netlink();
    try {
      const header = { name: "KUBE-CLUSTER-IP", type: "hash:ip,port", family: "inet" } as const;
      const entries = Array.from({ length: 10_000 }, (_, i) => `10.2.${i >> 8}.${i & 255},udp:53`);
      const result = await backend.apply([
        { op: "ipset.create", set: header },
        ...entries.map((entry): Operation => ({ op: "ipset.add", set: header.name, entry })),
      ]);
      assert.deepEqual(result.failures, []);
      assert.ok(result.writes < 30, `${result.writes} writes`);
      const read = await backend.read();
      assert.equal(read.ipsets[0].entries.length, 10_000);
      assert.deepEqual(read, await namespaceBackend().read());
    } finally {
      await backend.close();
    }
  }));

Deno.test("an entry the kernel refuses is named with ipset's text; earlier ones stay, later ones are not applied", () =>
  withNamespace(async () => {
    const backend = netlink();
    try {
      const header = { name: "KUBE-NODE-PORT-TCP", type: "bitmap:port", family: "inet" } as const;
      const plan: Operation[] = [
        { op: "ipset.create", set: header },
        { op: "ipset.add", set: header.name, entry: "30080" },
        { op: "ipset.add", set: header.name, entry: "10.0.0.1" },
        { op: "ipset.add", set: header.name, entry: "30081" },
      ];
      const result = await backend.apply(plan);
      assert.deepEqual(result.failures.map((f) => f.operation), plan.slice(2));
      assert.equal(result.failures[0].tool, "ipset restore");
      assert.equal(result.failures[0].line, "add KUBE-NODE-PORT-TCP 10.0.0.1 -exist");
      assert.match(result.failures[0].message, /^ipset add KUBE-NODE-PORT-TCP 10\.0\.0\.1: /);
      assert.equal(result.failures[1].message, "not applied: ipset restore stopped at line 3");
      assert.deepEqual((await backend.read()).ipsets[0].entries, ["30080"]);
    } finally {
      await backend.close();
    }
  }));

Deno.test("refusals carry ipset's texts and the errno or ipset error name", () =>
  withNamespace(async () => {
    const client = await IpsetClient.open();
    try {
      await assert.rejects(
        () => client.destroy("KUBE-MISSING"),
        /^NetlinkError: ipset destroy KUBE-MISSING: The set with the given name does not exist \(ENOENT\)$/,
      );
      await client.create({ name: "KUBE-A", type: "hash:ip", family: "inet" });
      await assert.rejects(
        () => client.create({ name: "KUBE-A", type: "hash:ip,port", family: "inet" }),
        /Set cannot be created: set with the same name already exists \(EEXIST\)/,
      );
      await client.create({ name: "KUBE-B", type: "hash:ip", family: "inet6" });
      await assert.rejects(
        () => client.swap("KUBE-A", "KUBE-B"),
        /ipset swap KUBE-A KUBE-B: The sets cannot be swapped: their type does not match \(IPSET_ERR_TYPE_MISMATCH\)/,
      );
      const result = await client.adt("add", "KUBE-A", [
        "10.0.0.1",
        "10.0.0.2",
        "fd00::1",
        "10.0.0.4",
      ]);
      assert.ok("index" in result);
      assert.equal(result.index, 2);
      assert.match(result.error.message, /^ipset add KUBE-A fd00::1: /);
      assert.deepEqual((await client.list()).find((s) => s.name === "KUBE-A")?.entries.toSorted(), [
        "10.0.0.1",
        "10.0.0.2",
      ]);
    } finally {
      client.close();
    }
  }));

Deno.test("the netlink read leaves out sets that are not ours, as the exec read does", () =>
  withNamespace(async () => {
    await tool(["ipset", "create", "someone-elses", "hash:net"]);
    await tool(["ipset", "add", "someone-elses", "10.0.0.0/8"]);
    const backend = netlink();
    try {
      assert.deepEqual((await backend.read()).ipsets, []);
      assert.deepEqual(await backend.read(), await namespaceBackend().read());
    } finally {
      await backend.close();
      await cleanUp();
    }
  }));
