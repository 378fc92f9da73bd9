import assert from "node:assert/strict";
import { computeDesiredState, type ProxierInput } from "./desired_state.ts";
import { endpoint, port, service, slice, snapshot, testConfig } from "./testing.ts";
import type { ClusterSnapshot } from "../cluster/types.ts";
import type { KernelState } from "../state/types.ts";

function compute(cluster: ClusterSnapshot, overrides: Partial<ProxierInput> = {}): KernelState {
  return computeDesiredState({
    config: testConfig(),
    snapshot: cluster,
    nodeName: "node-a",
    nodeIPs: ["192.168.0.10"],
    ...overrides,
  }).state;
}

function entries(state: KernelState, set: string): readonly string[] {
  const found = state.ipsets.find((s) => s.name === set);
  assert.ok(found, `set ${set} exists`);
  return found.entries;
}

function rules(state: KernelState, table: "nat" | "filter", chain: string, family = "ipv4") {
  const t = state.iptables[family as "ipv4" | "ipv6"][table];
  return t.chains.find((c) => c.name === chain)?.rules ?? [];
}

const seedCluster = snapshot(
  [
    service("kubernetes", "10.0.0.1", [port("https", 443, { targetPort: 6443 })], {
      sessionAffinity: "ClientIP",
    }),
    service("kube-dns", "10.0.0.10", [
      port("dns", 53, { protocol: "udp" }),
      port("dns-tcp", 53),
    ], { namespace: "kube-system" }),
  ],
  [
    slice("kubernetes", [endpoint("192.168.0.1")], [{ name: "https", port: 6443 }]),
    slice("kube-dns", [endpoint("172.17.0.2")], [
      { name: "dns", port: 53, protocol: "udp" },
      { name: "dns-tcp", port: 53 },
    ], { namespace: "kube-system" }),
  ],
);

Deno.test({
  name: "the seed's debug example gives its three virtual servers",
  permissions: "none",
  fn() {
    const state = compute(seedCluster);
    assert.deepEqual(
      state.virtualServers.map((vs) => ({
        key: `${vs.protocol} ${vs.address}:${vs.port} ${vs.scheduler} ${vs.persistenceTimeout}`,
        real: vs.realServers.map((rs) => `${rs.address}:${rs.port} ${rs.forward} ${rs.weight}`),
        service: vs.service,
      })),
      [
        {
          key: "tcp 10.0.0.1:443 rr 10800",
          real: ["192.168.0.1:6443 masq 1"],
          service: "default/kubernetes:https",
        },
        {
          key: "tcp 10.0.0.10:53 rr 0",
          real: ["172.17.0.2:53 masq 1"],
          service: "kube-system/kube-dns:dns-tcp",
        },
        {
          key: "udp 10.0.0.10:53 rr 0",
          real: ["172.17.0.2:53 masq 1"],
          service: "kube-system/kube-dns:dns",
        },
      ],
    );
  },
});

Deno.test({
  name: "cluster IPs fill KUBE-CLUSTER-IP and KUBE-IPVS-IPS and are bound once on kube-ipvs0",
  permissions: "none",
  fn() {
    const state = compute(seedCluster);
    assert.deepEqual(entries(state, "KUBE-CLUSTER-IP"), [
      "10.0.0.1,tcp:443",
      "10.0.0.10,tcp:53",
      "10.0.0.10,udp:53",
    ]);
    assert.deepEqual(entries(state, "KUBE-IPVS-IPS"), ["10.0.0.1", "10.0.0.10"]);
    assert.deepEqual(state.addresses, [
      { device: "kube-ipvs0", address: "10.0.0.1/32" },
      { device: "kube-ipvs0", address: "10.0.0.10/32" },
    ]);
    assert.ok(state.linkPresent);
  },
});

Deno.test({
  name: "every set of the reference exists with its type, even when empty",
  permissions: "none",
  fn() {
    const state = compute(snapshot([]));
    assert.deepEqual(state.ipsets.map((s) => `${s.name} ${s.type} ${s.family}`), [
      "KUBE-CLUSTER-IP hash:ip,port inet",
      "KUBE-EXTERNAL-IP hash:ip,port inet",
      "KUBE-EXTERNAL-IP-LOCAL hash:ip,port inet",
      "KUBE-HEALTH-CHECK-NODE-PORT bitmap:port inet",
      "KUBE-IPVS-IPS hash:ip inet",
      "KUBE-LOAD-BALANCER hash:ip,port inet",
      "KUBE-LOAD-BALANCER-FW hash:ip,port inet",
      "KUBE-LOAD-BALANCER-LOCAL hash:ip,port inet",
      "KUBE-LOAD-BALANCER-SOURCE-CIDR hash:ip,port,net inet",
      "KUBE-LOAD-BALANCER-SOURCE-IP hash:ip,port,ip inet",
      "KUBE-LOOP-BACK hash:ip,port,ip inet",
      "KUBE-NODE-PORT-LOCAL-SCTP-HASH hash:ip,port inet",
      "KUBE-NODE-PORT-LOCAL-TCP bitmap:port inet",
      "KUBE-NODE-PORT-LOCAL-UDP bitmap:port inet",
      "KUBE-NODE-PORT-SCTP-HASH hash:ip,port inet",
      "KUBE-NODE-PORT-TCP bitmap:port inet",
      "KUBE-NODE-PORT-UDP bitmap:port inet",
    ]);
  },
});

const web = (overrides = {}) =>
  service("web", "10.0.1.1", [port("http", 80, { nodePort: 30080, targetPort: 8080 })], {
    type: "NodePort",
    ...overrides,
  });
const webSlice = slice("web", [
  endpoint("10.244.1.5", "node-a"),
  endpoint("10.244.2.7", "node-b"),
], [{ name: "http", port: 8080 }]);

Deno.test({
  name: "a NodePort gets one virtual server per node IP and its port in KUBE-NODE-PORT-TCP",
  permissions: "none",
  fn() {
    const state = compute(snapshot([web()], [webSlice]), {
      nodeIPs: ["192.168.0.10", "192.168.1.10", "127.0.0.1"],
    });
    const nodePortServers = state.virtualServers.filter((vs) => vs.port === 30080);
    assert.deepEqual(nodePortServers.map((vs) => vs.address), ["192.168.0.10", "192.168.1.10"]);
    assert.deepEqual(nodePortServers[0].realServers.length, 2);
    assert.deepEqual(entries(state, "KUBE-NODE-PORT-TCP"), ["30080"]);
    assert.deepEqual(entries(state, "KUBE-NODE-PORT-LOCAL-TCP"), []);
    assert.ok(!state.addresses.some((a) => a.address.startsWith("192.168.")));
    assert.deepEqual(rules(state, "nat", "KUBE-NODE-PORT"), [
      '-p tcp -m comment --comment "Kubernetes nodeport TCP port for masquerade purpose" ' +
      "-m set --match-set KUBE-NODE-PORT-TCP dst -j KUBE-MARK-MASQ",
    ]);
  },
});

Deno.test({
  name: "nodePortAddresses limits NodePort virtual servers to matching node IPs",
  permissions: "none",
  fn() {
    const state = compute(snapshot([web()], [webSlice]), {
      config: testConfig({ nodePortAddresses: ["192.168.1.0/24"] }),
      nodeIPs: ["192.168.0.10", "192.168.1.10"],
    });
    assert.deepEqual(
      state.virtualServers.filter((vs) => vs.port === 30080).map((vs) => vs.address),
      ["192.168.1.10"],
    );
  },
});

Deno.test({
  name: "NodePorts skip loopback and IPv6 link-local node addresses but not IPv4 link-local ones",
  permissions: "none",
  fn() {
    const dual = web({ clusterIPs: ["10.0.1.1", "fd00:96::1"] });
    const state = compute(snapshot([dual], [webSlice]), {
      nodeIPs: ["192.168.0.10", "127.0.0.1", "169.254.20.10", "fe80::1", "::1", "fd00::10"],
    });
    assert.deepEqual(
      state.virtualServers.filter((vs) => vs.port === 30080).map((vs) => vs.address),
      ["169.254.20.10", "192.168.0.10", "fd00::10"],
    );
  },
});

Deno.test({
  name: "externalTrafficPolicy Local sends NodePort traffic to local endpoints only and RETURNs",
  permissions: "none",
  fn() {
    const state = compute(snapshot([web({ externalTrafficPolicy: "Local" })], [webSlice]));
    const nodePort = state.virtualServers.find((vs) => vs.port === 30080)!;
    assert.deepEqual(nodePort.realServers.map((rs) => rs.address), ["10.244.1.5"]);
    const clusterIP = state.virtualServers.find((vs) => vs.port === 80)!;
    assert.deepEqual(clusterIP.realServers.length, 2);
    assert.deepEqual(entries(state, "KUBE-NODE-PORT-LOCAL-TCP"), ["30080"]);
    assert.deepEqual(rules(state, "nat", "KUBE-NODE-PORT")[0].endsWith("-j RETURN"), true);
  },
});

Deno.test({
  name: "externalTrafficPolicy Local falls back to all endpoints when none is local",
  permissions: "none",
  fn() {
    const remoteOnly = slice("web", [endpoint("10.244.2.7", "node-b")], [{
      name: "http",
      port: 8080,
    }]);
    const state = compute(snapshot([web({ externalTrafficPolicy: "Local" })], [remoteOnly]));
    const nodePort = state.virtualServers.find((vs) => vs.port === 30080)!;
    assert.deepEqual(nodePort.realServers.map((rs) => rs.address), ["10.244.2.7"]);
  },
});

Deno.test({
  name:
    "internalTrafficPolicy Local with no local endpoint leaves a ClusterIP service's cluster IP without real servers",
  permissions: "none",
  fn() {
    const remoteOnly = slice("web", [endpoint("10.244.2.7", "node-b")], [{
      name: "http",
      port: 8080,
    }]);
    const clusterOnly = web({ type: "ClusterIP", internalTrafficPolicy: "Local" });
    const ports = [{ ...clusterOnly.ports[0], nodePort: 0 }];
    const state = compute(snapshot([{ ...clusterOnly, ports }], [remoteOnly]));
    assert.deepEqual(state.virtualServers.find((vs) => vs.port === 80)!.realServers, []);
  },
});

Deno.test({
  name:
    "internalTrafficPolicy Local with no local endpoint gives an externally reachable port's cluster IP every endpoint, as kube-proxy's syncEndpoint does",
  permissions: "none",
  fn() {
    // pkg/proxy/ipvs/proxier.go syncEndpoint: no local endpoints -> clusterEndpoints
    // (kubernetes#97081); those exist because a port with a node port UsesClusterEndpoints.
    const slices = [
      slice("web", [endpoint("10.244.2.7", "node-b")], [{ name: "http", port: 8080 }]),
    ];
    const state = compute(snapshot([web({ internalTrafficPolicy: "Local" })], slices));
    const clusterIP = state.virtualServers.find((vs) => vs.port === 80)!;
    assert.deepEqual(clusterIP.realServers.map((rs) => rs.address), ["10.244.2.7"]);
    // With a local endpoint, only that one.
    const both = [
      slice("web", [endpoint("10.244.2.7", "node-b"), endpoint("10.244.1.5", "node-a")], [
        { name: "http", port: 8080 },
      ]),
    ];
    const local = compute(snapshot([web({ internalTrafficPolicy: "Local" })], both));
    assert.deepEqual(
      local.virtualServers.find((vs) => vs.port === 80)!.realServers.map((rs) => rs.address),
      ["10.244.1.5"],
    );
  },
});

Deno.test({
  name: "terminating endpoints serve only while no endpoint is ready",
  permissions: "none",
  fn() {
    const terminating = { ready: false, serving: true, terminating: true };
    const onlyTerminating = slice("web", [endpoint("10.244.1.5", "node-a", terminating)], [{
      name: "http",
      port: 8080,
    }]);
    let state = compute(snapshot([web()], [onlyTerminating]));
    assert.deepEqual(state.virtualServers[0].realServers.map((rs) => rs.address), ["10.244.1.5"]);
    const mixed = slice("web", [
      endpoint("10.244.1.5", "node-a", terminating),
      endpoint("10.244.2.7", "node-b"),
    ], [{ name: "http", port: 8080 }]);
    state = compute(snapshot([web()], [mixed]));
    assert.deepEqual(state.virtualServers[0].realServers.map((rs) => rs.address), ["10.244.2.7"]);
  },
});

Deno.test({
  name: "local endpoints are hairpin entries in KUBE-LOOP-BACK",
  permissions: "none",
  fn() {
    const state = compute(snapshot([web()], [webSlice]));
    assert.deepEqual(entries(state, "KUBE-LOOP-BACK"), ["10.244.1.5,tcp:8080,10.244.1.5"]);
    assert.deepEqual(
      rules(state, "nat", "KUBE-POSTROUTING")[0],
      "-m comment --comment " +
        '"Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose" ' +
        "-m set --match-set KUBE-LOOP-BACK dst,dst,src -j MASQUERADE",
    );
  },
});

const lb = service("shop", "10.0.2.1", [port("http", 80, { nodePort: 31080 })], {
  type: "LoadBalancer",
  externalTrafficPolicy: "Local",
  healthCheckNodePort: 32000,
  loadBalancerSourceRanges: ["198.51.100.0/24", "192.168.0.0/16"],
  loadBalancerIngress: [{ ip: "203.0.113.10", ipMode: "VIP" }, {
    ip: "203.0.113.11",
    ipMode: "Proxy",
  }],
});

Deno.test({
  name: "a LoadBalancer with source ranges and Local policy fills the LB, FW and source sets",
  permissions: "none",
  fn() {
    const state = compute(snapshot([lb], [slice("shop", [endpoint("10.244.1.9", "node-a")], [{
      name: "http",
      port: 80,
    }])]));
    assert.deepEqual(entries(state, "KUBE-LOAD-BALANCER"), ["203.0.113.10,tcp:80"]);
    assert.deepEqual(entries(state, "KUBE-LOAD-BALANCER-LOCAL"), ["203.0.113.10,tcp:80"]);
    assert.deepEqual(entries(state, "KUBE-LOAD-BALANCER-FW"), ["203.0.113.10,tcp:80"]);
    assert.deepEqual(entries(state, "KUBE-LOAD-BALANCER-SOURCE-CIDR"), [
      "203.0.113.10,tcp:80,192.168.0.0/16",
      "203.0.113.10,tcp:80,198.51.100.0/24",
    ]);
    // The node IP 192.168.0.10 is inside a range: the node may reach the VIP itself.
    assert.deepEqual(entries(state, "KUBE-LOAD-BALANCER-SOURCE-IP"), [
      "203.0.113.10,tcp:80,203.0.113.10",
    ]);
    assert.deepEqual(entries(state, "KUBE-HEALTH-CHECK-NODE-PORT"), ["32000"]);
    assert.ok(state.virtualServers.some((vs) => vs.address === "203.0.113.10"));
    assert.ok(!state.virtualServers.some((vs) => vs.address === "203.0.113.11"));
    assert.ok(state.addresses.some((a) => a.address === "203.0.113.10/32"));
    assert.deepEqual(rules(state, "filter", "KUBE-SOURCE-RANGES-FIREWALL").length, 3);
    assert.deepEqual(rules(state, "filter", "KUBE-IPVS-OUT-FILTER"), []);
  },
});

Deno.test({
  name: "a healthCheckNodePort counts only on a LoadBalancer with externalTrafficPolicy Local",
  permissions: "none",
  fn() {
    const nodePortLocal = { ...lb, name: "np", type: "NodePort" as const, loadBalancerIngress: [] };
    const lbCluster = { ...lb, name: "lbc", externalTrafficPolicy: "Cluster" as const };
    const state = compute(snapshot([nodePortLocal, lbCluster]));
    assert.deepEqual(entries(state, "KUBE-HEALTH-CHECK-NODE-PORT"), []);
  },
});

Deno.test({
  name: "a source range that excludes the node blocks the node from the VIP",
  permissions: "none",
  fn() {
    const state = compute(snapshot([{ ...lb, loadBalancerSourceRanges: ["198.51.100.0/24"] }]));
    assert.deepEqual(entries(state, "KUBE-LOAD-BALANCER-SOURCE-IP"), []);
    assert.deepEqual(rules(state, "filter", "KUBE-IPVS-OUT-FILTER"), [
      "-s 203.0.113.10/32 -m ipvs --vproto 6 --vaddr 203.0.113.10 --vport 80 -j DROP",
    ]);
  },
});

Deno.test({
  name: "external IPs get virtual servers and are bound unless they are the node's own",
  permissions: "none",
  fn() {
    const svc = service("ext", "10.0.3.1", [port("http", 80)], {
      externalIPs: ["192.0.2.50", "192.168.0.10"],
    });
    const state = compute(snapshot([svc]));
    assert.deepEqual(entries(state, "KUBE-EXTERNAL-IP"), [
      "192.0.2.50,tcp:80",
      "192.168.0.10,tcp:80",
    ]);
    assert.ok(state.addresses.some((a) => a.address === "192.0.2.50/32"));
    assert.ok(!state.addresses.some((a) => a.address === "192.168.0.10/32"));
    assert.deepEqual(
      rules(state, "nat", "KUBE-SERVICES").filter((r) => r.includes("EXTERNAL")).length,
      3,
    );
  },
});

Deno.test({
  name: "the cluster-IP masquerade rule takes its three forms",
  permissions: "none",
  fn() {
    const cluster = snapshot([service("a", "10.0.0.5", [port("p", 80)])]);
    const masqRule = (state: KernelState) =>
      rules(state, "nat", "KUBE-SERVICES").find((r) => r.endsWith("-j KUBE-MARK-MASQ"));
    const comment = '-m comment --comment "Kubernetes service cluster ip + port for masquerade ' +
      'purpose" -m set --match-set KUBE-CLUSTER-IP';
    assert.deepEqual(
      masqRule(compute(cluster, { config: testConfig({ iptables: { masqueradeAll: true } }) })),
      `${comment} dst,dst -j KUBE-MARK-MASQ`,
    );
    assert.deepEqual(
      masqRule(compute(cluster, { config: testConfig({ clusterCIDRs: ["10.244.16.0/24"] }) })),
      `! -s 10.244.16.0/24 ${comment} dst,dst -j KUBE-MARK-MASQ`,
    );
    assert.deepEqual(masqRule(compute(cluster)), `${comment} src,dst -j KUBE-MARK-MASQ`);
  },
});

Deno.test({
  name: "the masquerade bit sets the mark in every rule that uses it",
  permissions: "none",
  fn() {
    const state = compute(snapshot([]), {
      config: testConfig({ iptables: { masqueradeBit: 31 } }),
    });
    assert.deepEqual(rules(state, "nat", "KUBE-MARK-MASQ"), [
      "-j MARK --set-xmark 0x80000000/0x80000000",
    ]);
    assert.ok(rules(state, "filter", "KUBE-FORWARD")[0].includes("--mark 0x80000000/0x80000000"));
  },
});

Deno.test({
  name: "the mh scheduler adds the mh-port flag and ClientIP affinity its timeout everywhere",
  permissions: "none",
  fn() {
    const svc = web({ sessionAffinity: "ClientIP", sessionAffinityTimeoutSeconds: 600 });
    const state = compute(snapshot([svc], [webSlice]), {
      config: testConfig({ ipvs: { scheduler: "mh" } }),
    });
    for (const vs of state.virtualServers) {
      assert.deepEqual([vs.scheduler, vs.persistenceTimeout, vs.flags], ["mh", 600, ["mh-port"]]);
    }
  },
});

Deno.test({
  name: "SCTP node ports use the hash set with every node IP",
  permissions: "none",
  fn() {
    const svc = web({
      ports: [port("sig", 9000, { protocol: "sctp", nodePort: 30900 })],
    });
    const state = compute(snapshot([svc]), { nodeIPs: ["192.168.0.10", "192.168.1.10"] });
    assert.deepEqual(entries(state, "KUBE-NODE-PORT-SCTP-HASH"), [
      "192.168.0.10,sctp:30900",
      "192.168.1.10,sctp:30900",
    ]);
    assert.deepEqual(entries(state, "KUBE-NODE-PORT-TCP"), []);
  },
});

Deno.test({
  name: "headless and ExternalName services produce nothing",
  permissions: "none",
  fn() {
    const state = compute(snapshot([
      service("headless", [], [port("http", 80)]),
      service("alias", [], [], { type: "ExternalName" }),
    ]));
    assert.deepEqual(state.virtualServers, []);
    assert.deepEqual(state.addresses, []);
  },
});

Deno.test({
  name: "a service without endpoints still gets its virtual server, with no real servers",
  permissions: "none",
  fn() {
    const state = compute(snapshot([service("lonely", "10.0.9.9", [port("http", 80)])]));
    assert.deepEqual(state.virtualServers.length, 1);
    assert.deepEqual(state.virtualServers[0].realServers, []);
  },
});

Deno.test({
  name: "dual-stack runs an IPv6 pipeline with KUBE-6- sets and ip6tables rules",
  permissions: "none",
  fn() {
    const svc = service("dual", ["10.0.5.5", "fd00:10:96::5"], [port("http", 80)]);
    const slices = [
      slice("dual", [endpoint("10.244.1.3", "node-a")], [{ name: "http", port: 8080 }]),
      slice("dual", [endpoint("fd00:10:244:1::3", "node-a")], [{ name: "http", port: 8080 }], {
        name: "dual-v6",
      }),
    ];
    const state = compute(snapshot([svc], slices), {
      nodeIPs: ["192.168.0.10", "fd00:192:168::10"],
      config: testConfig({ clusterCIDRs: ["10.244.0.0/16", "fd00:10:244::/56"] }),
    });
    assert.deepEqual(state.families, ["ipv4", "ipv6"]);
    assert.deepEqual(entries(state, "KUBE-6-CLUSTER-IP"), ["fd00:10:96::5,tcp:80"]);
    assert.ok(state.ipsets.some((s) => s.name === "KUBE-6-LOAD-BALANCER-SOURCE-CID"));
    const v6 = state.virtualServers.find((vs) => vs.address === "fd00:10:96::5")!;
    assert.deepEqual(v6.realServers.map((rs) => rs.address), ["fd00:10:244:1::3"]);
    assert.ok(state.addresses.some((a) => a.address === "fd00:10:96::5/128"));
    assert.deepEqual(rules(state, "nat", "KUBE-SERVICES", "ipv6")[0], "-s ::1/128 -j RETURN");
    assert.ok(
      rules(state, "nat", "KUBE-SERVICES", "ipv6")[1].startsWith("! -s fd00:10:244::/56 "),
    );
  },
});

Deno.test({
  name: "a single-stack node leaves the IPv6 tables empty",
  permissions: "none",
  fn() {
    const state = compute(seedCluster);
    assert.deepEqual(state.families, ["ipv4"]);
    assert.deepEqual(state.iptables.ipv6.nat.chains, []);
    assert.ok(!state.ipsets.some((s) => s.name.startsWith("KUBE-6-")));
  },
});

Deno.test({
  name: "the output does not depend on the order of the input",
  permissions: "none",
  fn() {
    const forward = compute(snapshot([...seedCluster.services, web(), lb], [
      ...seedCluster.endpointSlices,
      webSlice,
    ]));
    const backward = compute(snapshot(
      [lb, web(), ...seedCluster.services].reverse(),
      [
        webSlice,
        ...seedCluster.endpointSlices,
      ].reverse(),
    ));
    assert.deepEqual(JSON.stringify(backward), JSON.stringify(forward));
  },
});

Deno.test({
  name: "two services wanting one virtual server: the first keeps it and a warning names both",
  permissions: "none",
  fn() {
    const result = computeDesiredState({
      config: testConfig(),
      snapshot: snapshot([
        service("a", "10.0.0.5", [port("p", 80)], { externalIPs: ["192.0.2.9"] }),
        service("b", "10.0.0.6", [port("p", 80)], { externalIPs: ["192.0.2.9"] }),
      ]),
      nodeName: "node-a",
      nodeIPs: [],
    });
    const shared = result.state.virtualServers.filter((vs) => vs.address === "192.0.2.9");
    assert.deepEqual(shared.map((vs) => vs.service), ["default/a:p"]);
    assert.deepEqual(result.warnings.length, 1);
    assert.ok(
      result.warnings[0].includes("default/b:p") && result.warnings[0].includes("default/a:p"),
    );
  },
});

Deno.test({
  name: "the jump rules from built-in chains are those of kube-proxy",
  permissions: "none",
  fn() {
    const state = compute(snapshot([]));
    assert.deepEqual(
      state.iptables.ipv4.nat.jumps.map((j) => `${j.chain} ${j.rule}`),
      [
        'PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        'OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        'POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
      ],
    );
    assert.deepEqual(
      state.iptables.ipv4.filter.jumps.filter((j) => j.chain === "INPUT").map((j) => j.rule),
      [
        '-m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER',
        '-m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL',
        '-m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT',
      ],
    );
  },
});

Deno.test({
  name: "comments with single quotes are written the way iptables-save prints them",
  permissions: "none",
  fn() {
    const svc = web({ ports: [port("sig", 9000, { protocol: "sctp", nodePort: 30900 })] });
    const state = compute(snapshot([svc]));
    assert.ok(
      rules(state, "nat", "KUBE-NODE-PORT").includes(
        '-p sctp -m comment --comment "Kubernetes nodeport SCTP port for masquerade purpose ' +
          "with type \\'hash ip:port\\'\" -m set --match-set KUBE-NODE-PORT-SCTP-HASH dst,dst " +
          "-j KUBE-MARK-MASQ",
      ),
    );
  },
});

Deno.test({
  name:
    "KUBE-LOOP-BACK holds every local endpoint whatever its conditions, as kube-proxy's Test_EndpointSliceReadyAndTerminatingLocal asserts",
  permissions: "none",
  fn() {
    // pkg/proxy/ipvs/proxier_test.go Test_EndpointSliceReadyAndTerminatingLocal: four local
    // endpoints (ready, ready, serving-terminating, terminating) and one remote; the IPVS
    // sync fills the set from the whole endpoints map, so all four local ones are in it.
    const servingTerminating = { ready: false, serving: true, terminating: true };
    const terminating = { ready: false, serving: false, terminating: true };
    const slices = [slice("web", [
      endpoint("10.0.1.1", "node-a"),
      endpoint("10.0.1.2", "node-a"),
      endpoint("10.0.1.3", "node-a", servingTerminating),
      endpoint("10.0.1.4", "node-a", terminating),
      endpoint("10.0.1.5", "node-b"),
    ], [{ name: "http", port: 80 }])];
    const state = compute(snapshot([web({ externalTrafficPolicy: "Local" })], slices));
    assert.deepEqual(entries(state, "KUBE-LOOP-BACK"), [
      "10.0.1.1,tcp:80,10.0.1.1",
      "10.0.1.2,tcp:80,10.0.1.2",
      "10.0.1.3,tcp:80,10.0.1.3",
      "10.0.1.4,tcp:80,10.0.1.4",
    ]);
    // The real servers are still the usable ones: the ready local ones for the node port.
    const nodePort = state.virtualServers.find((vs) => vs.port === 30080)!;
    assert.deepEqual(nodePort.realServers.map((rs) => rs.address), ["10.0.1.1", "10.0.1.2"]);
  },
});

Deno.test({
  name: "zone hints narrow a cluster IP's real servers to this node's zone, from its Node's label",
  permissions: "none",
  fn() {
    const hinted = (address: string, zone: string) => ({
      ...endpoint(address, "node-b"),
      zoneHints: [zone],
    });
    const slices = [slice("web", [hinted("10.0.1.1", "zone-a"), hinted("10.0.1.2", "zone-b")], [
      { name: "http", port: 8080 },
    ])];
    const zoneA = { name: "node-a", addresses: [], zone: "zone-a", source: "test.yaml" };
    const zoned = compute(snapshot([web()], slices, [zoneA]));
    const addresses = (state: KernelState) =>
      state.virtualServers.find((vs) => vs.port === 80)!.realServers.map((rs) => rs.address);
    assert.deepEqual(addresses(zoned), ["10.0.1.1"]);
    // Without the label (or the Node) no zone matches: every endpoint, as kube-proxy.
    assert.deepEqual(addresses(compute(snapshot([web()], slices))), ["10.0.1.1", "10.0.1.2"]);
  },
});

Deno.test({
  name:
    "a kernel with IPv6 runs both families even when the node's addresses and cluster CIDRs are IPv4, as kube-proxy runs dual-stack",
  permissions: "none",
  fn() {
    const dual = service("dual", ["10.0.3.1", "fd00:96::31"], [port("http", 80)]);
    const slices = [
      slice("dual", [endpoint("10.244.3.1")], [{ name: "http", port: 8080 }]),
      slice("dual", [endpoint("fd00:244::31")], [{ name: "http", port: 8080 }], {
        name: "dual-v6",
      }),
    ];
    const kernel = compute(snapshot([dual], slices), { kernelFamilies: ["ipv4", "ipv6"] });
    assert.deepEqual(kernel.families, ["ipv4", "ipv6"]);
    assert.deepEqual(
      kernel.virtualServers.map((vs) => vs.address),
      ["10.0.3.1", "fd00:96::31"],
    );
    assert.ok(kernel.ipsets.some((s) => s.name === "KUBE-6-CLUSTER-IP"));
    // The dry run knows no kernel: the node's addresses decide, IPv4 alone here.
    const dryRun = compute(snapshot([dual], slices));
    assert.deepEqual(dryRun.families, ["ipv4"]);
  },
});
