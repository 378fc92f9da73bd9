import assert from "node:assert/strict";
import type {
  IptablesFamilyState,
  KernelState,
  RealServer,
  VirtualServer,
} from "../state/types.ts";
import { emptyKernelState } from "../state/keys.ts";
import { cleanupPlan, diffStates } from "./diff.ts";
import type { Operation, Plan } from "./types.ts";

const PORTALS = '-m comment --comment "kubernetes service portals" -j KUBE-SERVICES';
const NO_EXCLUDES = { excludeCIDRs: [] };

function rs(address: string, port: number, extra: Partial<RealServer> = {}): RealServer {
  return { address, port, forward: "masq", weight: 1, ...extra };
}

function vs(
  protocol: VirtualServer["protocol"],
  address: string,
  port: number,
  realServers: RealServer[],
): VirtualServer {
  const service = "ns/svc:p";
  return {
    protocol,
    address,
    port,
    scheduler: "rr",
    persistenceTimeout: 0,
    flags: [],
    service,
    realServers,
  };
}

function iptables(natRules: string[]): IptablesFamilyState {
  return {
    nat: {
      chains: [
        { name: "KUBE-SERVICES", rules: natRules },
        { name: "KUBE-MARK-MASQ", rules: ["-j MARK --set-xmark 0x4000/0x4000"] },
      ],
      jumps: [{ chain: "PREROUTING", rule: PORTALS }, { chain: "OUTPUT", rule: PORTALS }],
    },
    filter: {
      chains: [{ name: "KUBE-FORWARD", rules: ["-m mark --mark 0x4000/0x4000 -j ACCEPT"] }],
      jumps: [{ chain: "FORWARD", rule: "-j KUBE-FORWARD" }],
    },
  };
}

/** A small IPv4 node: kubernetes (TCP, persistent) and kube-dns (UDP and TCP). */
function desired(): KernelState {
  const empty = emptyKernelState();
  return {
    ...empty,
    families: ["ipv4"],
    virtualServers: [
      { ...vs("tcp", "10.0.0.1", 443, [rs("192.168.0.1", 6443)]), persistenceTimeout: 10800 },
      vs("tcp", "10.0.0.10", 53, [rs("172.17.0.2", 53), rs("172.17.0.3", 53)]),
      vs("udp", "10.0.0.10", 53, [rs("172.17.0.2", 53), rs("172.17.0.3", 53)]),
    ],
    ipsets: [
      {
        name: "KUBE-CLUSTER-IP",
        type: "hash:ip,port",
        family: "inet",
        comment: "Kubernetes service cluster ip + port for masquerade purpose",
        entries: ["10.0.0.1,tcp:443", "10.0.0.10,tcp:53", "10.0.0.10,udp:53"],
      },
      { name: "KUBE-NODE-PORT-TCP", type: "bitmap:port", family: "inet", comment: "", entries: [] },
    ],
    iptables: {
      ...empty.iptables,
      ipv4: iptables(["-m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT"]),
    },
    linkPresent: true,
    addresses: [
      { device: "kube-ipvs0", address: "10.0.0.1/32" },
      { device: "kube-ipvs0", address: "10.0.0.10/32" },
    ],
  };
}

/** What a backend reads back: no service names or comments, connection counts present. */
function asRead(state: KernelState, counts = 0): KernelState {
  return {
    ...state,
    virtualServers: state.virtualServers.map((v) => ({
      ...v,
      service: "",
      realServers: v.realServers.map((r) => ({
        ...r,
        activeConnections: counts,
        inactiveConnections: 0,
      })),
    })),
    ipsets: state.ipsets.map((s) => ({ ...s, comment: "" })),
  };
}

function withoutEndpoint(state: KernelState, protocol: string, address: string): KernelState {
  return {
    ...state,
    virtualServers: state.virtualServers.map((v) =>
      v.protocol === protocol && v.address === "10.0.0.10"
        ? { ...v, realServers: v.realServers.filter((r) => r.address !== address) }
        : v
    ),
  };
}

function kinds(plan: Plan): string[] {
  return plan.map((op) => op.op);
}

Deno.test({
  name:
    "identical states give an empty plan, even with counts, comments and service names differing",
  permissions: "none",
  fn() {
    assert.deepEqual(diffStates(asRead(desired(), 5), desired(), NO_EXCLUDES), []);
  },
});

Deno.test({
  name: "an empty kernel gets the link, sets, tables, IPVS and addresses in apply order",
  permissions: "none",
  fn() {
    const plan = diffStates(emptyKernelState(), desired(), NO_EXCLUDES);
    assert.deepEqual(kinds(plan), [
      "link.add",
      "ipset.create",
      "ipset.add",
      "ipset.add",
      "ipset.add",
      "ipset.create",
      "iptables.restore",
      "iptables.restore",
      "ipvs.addVirtualServer",
      "ipvs.addRealServer",
      "ipvs.addVirtualServer",
      "ipvs.addRealServer",
      "ipvs.addRealServer",
      "ipvs.addVirtualServer",
      "ipvs.addRealServer",
      "ipvs.addRealServer",
      "address.add",
      "address.add",
    ]);
    const nat = plan[6] as Extract<Operation, { op: "iptables.restore" }>;
    assert.equal(nat.table, "nat");
    assert.deepEqual(nat.addJumps, desired().iptables.ipv4.nat.jumps);
    assert.deepEqual(plan[8], {
      op: "ipvs.addVirtualServer",
      virtualServer: {
        protocol: "tcp",
        address: "10.0.0.1",
        port: 443,
        scheduler: "rr",
        persistenceTimeout: 10800,
        flags: [],
        service: "ns/svc:p",
      },
    });
    assert.deepEqual(diffStates(emptyKernelState(), desired(), NO_EXCLUDES), plan);
  },
});

Deno.test({
  name: "one endpoint removed gives exactly one real-server delete",
  permissions: "none",
  fn() {
    const plan = diffStates(
      asRead(desired()),
      withoutEndpoint(desired(), "tcp", "172.17.0.3"),
      NO_EXCLUDES,
    );
    assert.deepEqual(plan, [{
      op: "ipvs.deleteRealServer",
      virtualServer: { protocol: "tcp", address: "10.0.0.10", port: 53 },
      realServer: { address: "172.17.0.3", port: 53 },
    }]);
  },
});

Deno.test({
  name: "a removed TCP real server with connections is drained to weight 0, not deleted",
  permissions: "none",
  fn() {
    const current = asRead(desired(), 2);
    const want = withoutEndpoint(desired(), "tcp", "172.17.0.3");
    const plan = diffStates(current, want, NO_EXCLUDES);
    assert.deepEqual(plan, [{
      op: "ipvs.editRealServer",
      virtualServer: { protocol: "tcp", address: "10.0.0.10", port: 53 },
      realServer: { address: "172.17.0.3", port: 53, forward: "masq", weight: 0 },
    }]);
    // Still busy and already drained: nothing to do.
    const busy: KernelState = {
      ...current,
      virtualServers: current.virtualServers.map((v, i) =>
        i === 1
          ? { ...v, realServers: v.realServers.map((r, j) => j === 1 ? { ...r, weight: 0 } : r) }
          : v
      ),
    };
    assert.deepEqual(
      diffStates(busy, want, NO_EXCLUDES),
      [],
    );
  },
});

Deno.test({
  name: "a drained real server that is now idle is deleted",
  permissions: "none",
  fn() {
    const current = asRead(desired(), 0);
    const idle: KernelState = {
      ...current,
      virtualServers: current.virtualServers.map((v, i) =>
        i === 1
          ? { ...v, realServers: v.realServers.map((r, j) => j === 1 ? { ...r, weight: 0 } : r) }
          : v
      ),
    };
    assert.deepEqual(
      kinds(diffStates(idle, withoutEndpoint(desired(), "tcp", "172.17.0.3"), NO_EXCLUDES)),
      [
        "ipvs.deleteRealServer",
      ],
    );
  },
});

Deno.test({
  name: "a drained real server that is desired again gets its weight back",
  permissions: "none",
  fn() {
    const current = asRead(desired(), 3);
    const drained: KernelState = {
      ...current,
      virtualServers: current.virtualServers.map((v, i) =>
        i === 1
          ? { ...v, realServers: v.realServers.map((r, j) => j === 1 ? { ...r, weight: 0 } : r) }
          : v
      ),
    };
    assert.deepEqual(diffStates(drained, desired(), NO_EXCLUDES), [{
      op: "ipvs.editRealServer",
      virtualServer: { protocol: "tcp", address: "10.0.0.10", port: 53 },
      realServer: { address: "172.17.0.3", port: 53, forward: "masq", weight: 1 },
    }]);
  },
});

Deno.test({
  name: "a removed UDP real server is deleted at once, connections or not",
  permissions: "none",
  fn() {
    const plan = diffStates(
      asRead(desired(), 9),
      withoutEndpoint(desired(), "udp", "172.17.0.2"),
      NO_EXCLUDES,
    );
    assert.deepEqual(plan, [{
      op: "ipvs.deleteRealServer",
      virtualServer: { protocol: "udp", address: "10.0.0.10", port: 53 },
      realServer: { address: "172.17.0.2", port: 53 },
    }]);
  },
});

Deno.test({
  name: "a changed scheduler edits the virtual server; a new endpoint is added",
  permissions: "none",
  fn() {
    const want = desired();
    const changed: KernelState = {
      ...want,
      virtualServers: want.virtualServers.map((v, i) =>
        i === 0
          ? {
            ...v,
            scheduler: "mh",
            flags: ["mh-port"],
            realServers: [...v.realServers, rs("192.168.0.2", 6443)],
          }
          : v
      ),
    };
    assert.deepEqual(kinds(diffStates(asRead(want), changed, NO_EXCLUDES)), [
      "ipvs.editVirtualServer",
      "ipvs.addRealServer",
    ]);
  },
});

Deno.test({
  name: "a stale virtual server is deleted unless it lies inside excludeCIDRs",
  permissions: "none",
  fn() {
    const current = asRead(desired());
    const extra: KernelState = {
      ...current,
      virtualServers: [
        ...current.virtualServers,
        vs("tcp", "10.0.0.99", 80, []),
        vs("tcp", "192.168.50.5", 80, [rs("10.1.1.1", 80)]),
      ],
    };
    assert.deepEqual(
      diffStates(extra, desired(), { excludeCIDRs: ["192.168.50.0/24", "fd00::/8"] }),
      [
        {
          op: "ipvs.deleteVirtualServer",
          virtualServer: { protocol: "tcp", address: "10.0.0.99", port: 80 },
        },
      ],
    );
  },
});

Deno.test({
  name: "one set entry changed gives one delete and one add",
  permissions: "none",
  fn() {
    const want = desired();
    const changed: KernelState = {
      ...want,
      ipsets: want.ipsets.map((s) =>
        s.name === "KUBE-CLUSTER-IP"
          ? { ...s, entries: ["10.0.0.1,tcp:443", "10.0.0.10,tcp:53", "10.0.0.10,udp:5353"] }
          : s
      ),
    };
    assert.deepEqual(diffStates(asRead(want), changed, NO_EXCLUDES), [
      { op: "ipset.del", set: "KUBE-CLUSTER-IP", entry: "10.0.0.10,udp:53" },
      { op: "ipset.add", set: "KUBE-CLUSTER-IP", entry: "10.0.0.10,udp:5353" },
    ]);
  },
});

Deno.test({
  name: "a set whose type differs is unreferenced, destroyed, created and filled, then its " +
    "rules are restored; a stale set of ours is destroyed last",
  permissions: "none",
  fn() {
    const current = asRead(desired());
    const want = desired();
    const stale: KernelState = {
      ...current,
      ipsets: [
        ...current.ipsets.map((s) =>
          s.name === "KUBE-CLUSTER-IP"
            ? { ...s, type: "hash:ip" as const, entries: ["1.2.3.4"] }
            : s
        ),
        // A temporary left behind by a replace that failed half-way.
        { name: "KUBE-CLUSTER-IP-TMP", type: "hash:ip", family: "inet", comment: "", entries: [] },
      ],
      addresses: [...current.addresses, { device: "kube-ipvs0", address: "10.0.0.77/32" }],
    };
    const plan = diffStates(stale, want, NO_EXCLUDES);
    assert.deepEqual(kinds(plan), [
      "iptables.restore",
      "ipset.destroy",
      "ipset.create",
      "ipset.add",
      "ipset.add",
      "ipset.add",
      "iptables.restore",
      "address.delete",
      "ipset.destroy",
    ]);
    const nat = want.iptables.ipv4.nat;
    assert.deepEqual(plan[0], {
      op: "iptables.restore",
      family: "ipv4",
      table: "nat",
      chains: [{ name: "KUBE-SERVICES", rules: [] }],
      addJumps: [],
      deleteJumps: [],
      deleteChains: [],
    });
    assert.deepEqual(plan[1], { op: "ipset.destroy", set: "KUBE-CLUSTER-IP" });
    assert.deepEqual(plan[2], {
      op: "ipset.create",
      set: { name: "KUBE-CLUSTER-IP", type: "hash:ip,port", family: "inet" },
    });
    assert.deepEqual(plan.slice(3, 6).map((op) => op.op === "ipset.add" && op.entry), [
      ...want.ipsets[0].entries,
    ]);
    // Only the chain step 1 emptied is restored again: the diff writes the chains that differ.
    assert.deepEqual(plan[6], {
      ...plan[0],
      chains: nat.chains.filter((c) => c.name === "KUBE-SERVICES"),
    });
    assert.deepEqual(plan[8], { op: "ipset.destroy", set: "KUBE-CLUSTER-IP-TMP" });
  },
});

Deno.test({
  name: "a set of ours with another family is recreated; one no rule uses needs no restore",
  permissions: "none",
  fn() {
    const current = asRead(desired());
    const wrongFamily: KernelState = {
      ...current,
      ipsets: current.ipsets.map((s) =>
        s.name === "KUBE-NODE-PORT-TCP" ? { ...s, type: "hash:ip", family: "inet6" } : s
      ),
    };
    assert.deepEqual(diffStates(wrongFamily, desired(), NO_EXCLUDES), [
      { op: "ipset.destroy", set: "KUBE-NODE-PORT-TCP" },
      {
        op: "ipset.create",
        set: { name: "KUBE-NODE-PORT-TCP", type: "bitmap:port", family: "inet" },
      },
    ]);
  },
});

Deno.test({
  name: "sets that are not ours are never touched, KUBE- names of other tools included",
  permissions: "none",
  fn() {
    const current = asRead(desired());
    const set = (name: string) => ({
      name,
      type: "hash:ip" as const,
      family: "inet" as const,
      comment: "",
      entries: ["1.1.1.1"],
    });
    const foreign: KernelState = {
      ...current,
      ipsets: [...current.ipsets, set("cni-pods"), set("KUBE-SRC-ROUTER"), set("KUBE-OLD")],
    };
    assert.deepEqual(cleanupPlan(foreign).filter((op) => op.op === "ipset.destroy").length, 2);
    assert.deepEqual(diffStates(foreign, desired(), NO_EXCLUDES), []);
  },
});

Deno.test({
  name: "iptables unchanged gives no operation; one changed rule rewrites that chain only",
  permissions: "none",
  fn() {
    const want = desired();
    const changed: KernelState = {
      ...want,
      iptables: {
        ...want.iptables,
        ipv4: { ...want.iptables.ipv4, nat: iptables(["-j RETURN"]).nat },
      },
    };
    const plan = diffStates(asRead(want), changed, NO_EXCLUDES);
    assert.deepEqual(plan, [{
      op: "iptables.restore",
      family: "ipv4",
      table: "nat",
      chains: changed.iptables.ipv4.nat.chains.filter((c) => c.name === "KUBE-SERVICES"),
      addJumps: [],
      deleteJumps: [],
      deleteChains: [],
    }]);
  },
});

Deno.test({
  name: "a missing jump is added alone; a duplicated jump loses its extra copy",
  permissions: "none",
  fn() {
    const current = asRead(desired());
    const nat = current.iptables.ipv4.nat;
    const broken: KernelState = {
      ...current,
      iptables: {
        ...current.iptables,
        ipv4: {
          nat: { ...nat, jumps: [nat.jumps[1], nat.jumps[1]] },
          filter: current.iptables.ipv4.filter,
        },
      },
    };
    const plan = diffStates(broken, desired(), NO_EXCLUDES);
    assert.equal(plan.length, 1);
    const op = plan[0] as Extract<Operation, { op: "iptables.restore" }>;
    assert.deepEqual(op.addJumps, [{ chain: "PREROUTING", rule: PORTALS }]);
    assert.deepEqual(op.deleteJumps, [{ chain: "OUTPUT", rule: PORTALS }]);
    assert.deepEqual(op.chains, [], "the chains are right: none is rewritten");
  },
});

Deno.test({
  name: "a family the desired state does not cover is never touched",
  permissions: "none",
  fn() {
    const current = asRead(desired());
    const dual: KernelState = {
      ...current,
      families: ["ipv4", "ipv6"],
      virtualServers: [...current.virtualServers, vs("tcp", "fd00::1", 443, [rs("fd01::1", 6443)])],
      ipsets: [
        ...current.ipsets,
        {
          name: "KUBE-6-CLUSTER-IP",
          type: "hash:ip,port",
          family: "inet6",
          comment: "",
          entries: ["fd00::1,tcp:443"],
        },
      ],
      iptables: { ...current.iptables, ipv6: iptables(["-j ACCEPT"]) },
      addresses: [...current.addresses, { device: "kube-ipvs0", address: "fd00::1/128" }],
    };
    assert.deepEqual(diffStates(dual, desired(), NO_EXCLUDES), []);
  },
});

Deno.test({
  name: "addresses on kube-ipvs0 are added and deleted; other devices are left alone",
  permissions: "none",
  fn() {
    const current = asRead(desired());
    const drifted: KernelState = {
      ...current,
      addresses: [
        { device: "kube-ipvs0", address: "10.0.0.1/32" },
        { device: "kube-ipvs0", address: "10.0.0.200/32" },
        { device: "eth0", address: "192.168.1.5/24" },
      ],
    };
    assert.deepEqual(diffStates(drifted, desired(), NO_EXCLUDES), [
      { op: "address.add", device: "kube-ipvs0", address: "10.0.0.10/32" },
      { op: "address.delete", device: "kube-ipvs0", address: "10.0.0.200/32" },
    ]);
  },
});

Deno.test({
  name: "cleanupPlan() removes jumps and chains, virtual servers, addresses, the link, then sets",
  permissions: "none",
  fn() {
    const current: KernelState = {
      ...asRead(desired()),
      ipsets: [...desired().ipsets, {
        name: "cni-pods",
        type: "hash:ip",
        family: "inet",
        comment: "",
        entries: [],
      }],
    };
    const plan = cleanupPlan(current);
    assert.deepEqual(kinds(plan), [
      "iptables.restore",
      "iptables.restore",
      "ipvs.deleteVirtualServer",
      "ipvs.deleteVirtualServer",
      "ipvs.deleteVirtualServer",
      "address.delete",
      "address.delete",
      "link.delete",
      "ipset.destroy",
      "ipset.destroy",
    ]);
    assert.deepEqual(plan[0], {
      op: "iptables.restore",
      family: "ipv4",
      table: "nat",
      chains: [],
      addJumps: [],
      deleteJumps: current.iptables.ipv4.nat.jumps,
      deleteChains: ["KUBE-SERVICES", "KUBE-MARK-MASQ"],
    });
    assert.deepEqual(plan.slice(-2), [
      { op: "ipset.destroy", set: "KUBE-CLUSTER-IP" },
      { op: "ipset.destroy", set: "KUBE-NODE-PORT-TCP" },
    ]);
    assert.deepEqual(cleanupPlan(emptyKernelState()), []);
  },
});

Deno.test({
  name: "cleanupPlan() spares virtual servers inside excludeCIDRs",
  permissions: "none",
  fn() {
    const current = asRead(desired());
    const [first, ...others] = current.virtualServers;
    const plan = cleanupPlan(current, { excludeCIDRs: [`${first.address}/32`] });
    const deleted = plan.flatMap((op) =>
      op.op === "ipvs.deleteVirtualServer" ? [op.virtualServer.address] : []
    );
    assert.ok(!deleted.includes(first.address));
    assert.equal(deleted.length, others.filter((vs) => vs.address !== first.address).length);
  },
});

Deno.test({
  name: "set entries diff the same in canonical order (merged) and out of it (by key)",
  permissions: "none",
  fn() {
    const set = (entries: string[]) => ({
      ...emptyKernelState(),
      families: ["ipv4" as const],
      ipsets: [{
        name: "KUBE-LOOP-BACK",
        type: "hash:ip,port,ip" as const,
        family: "inet" as const,
        comment: "",
        entries,
      }],
    });
    const entry = (n: number) => `10.128.0.${n},tcp:8080,10.128.0.${n}`;
    const old = [1, 2, 3, 5].map(entry);
    const want = [2, 3, 4, 6].map(entry);
    const expected = [
      { op: "ipset.del", set: "KUBE-LOOP-BACK", entry: entry(1) },
      { op: "ipset.del", set: "KUBE-LOOP-BACK", entry: entry(5) },
      { op: "ipset.add", set: "KUBE-LOOP-BACK", entry: entry(4) },
      { op: "ipset.add", set: "KUBE-LOOP-BACK", entry: entry(6) },
    ];
    assert.deepStrictEqual(diffStates(set(old), set(want), NO_EXCLUDES), expected);
    const shuffled = diffStates(set([...old].reverse()), set(want), NO_EXCLUDES);
    assert.deepStrictEqual(
      shuffled.map((op) => "entry" in op && op.entry).sort(),
      expected.map((op) => op.entry).sort(),
    );
  },
});
