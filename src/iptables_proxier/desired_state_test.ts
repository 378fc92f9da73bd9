import assert from "node:assert/strict";
import { computeIptablesDesiredState, LARGE_CLUSTER_ENDPOINTS } from "./desired_state.ts";
import {
  endpointChain,
  externalChain,
  firewallChain,
  localServiceChain,
  serviceChain,
} from "./chain_names.ts";
import { kubeProxyProbability, probabilityFor, savedProbability } from "./rule_text.ts";
import { endpoint, port, service, slice, snapshot, testConfig } from "../proxier/testing.ts";
import { renderTableState } from "../render/iptables.ts";

Deno.test({
  name: "chain names are the ones kube-proxy's own tests expect",
  permissions: "none",
  fn() {
    // From TestOverallIPTablesRules in pkg/proxy/iptables/proxier_test.go.
    assert.equal(serviceChain("ns1/svc1:p80", "tcp"), "KUBE-SVC-XPGD46QRK7WJZT7O");
    assert.equal(externalChain("ns2/svc2:p80", "tcp"), "KUBE-EXT-GNZBNJ2PO5MGZ6GT");
    assert.equal(firewallChain("ns5/svc5:p80", "tcp"), "KUBE-FW-NUKIZ6OKUXPJNT4C");
    assert.equal(localServiceChain("ns2/svc2:p80", "tcp"), "KUBE-SVL-GNZBNJ2PO5MGZ6GT");
    assert.equal(
      endpointChain("ns1/svc1:p80", "tcp", "10.180.0.1:80"),
      "KUBE-SEP-SXIVWICOYRO3J4NJ",
    );
    assert.equal(
      endpointChain("ns5/svc5:p80", "tcp", "10.180.0.3:80"),
      "KUBE-SEP-I77PXRDZVX7PMWMN",
    );
  },
});

Deno.test({
  name: "probabilities are kube-proxy's %0.10f text, kept as iptables-save prints it back",
  permissions: "none",
  fn() {
    assert.equal(kubeProxyProbability(3), "0.3333333333");
    assert.equal(kubeProxyProbability(7), "0.1428571429");
    // Measured with iptables 1.8.9: the kernel keeps round(p * 2^31).
    assert.equal(savedProbability("0.3333333333"), "0.33333333349");
    assert.equal(savedProbability("0.1000000000"), "0.10000000009");
    assert.equal(savedProbability("0.1428571429"), "0.14285714272");
    assert.equal(probabilityFor(2), "0.50000000000");
  },
});

function local(etp: "Local" | "Cluster", itp: "Local" | "Cluster" = "Cluster") {
  const web = service("web", "10.96.0.10", [port("http", 80, { nodePort: 30080 })], {
    type: "NodePort",
    externalTrafficPolicy: etp,
    internalTrafficPolicy: itp,
  });
  const eps = slice("web", [endpoint("10.244.1.2", "node-a"), endpoint("10.244.2.2", "node-b")], [
    { name: "http", port: 8080 },
  ]);
  const { state } = computeIptablesDesiredState({
    config: testConfig({ clusterCIDRs: ["10.244.0.0/16"] }),
    snapshot: snapshot([web], [eps]),
    nodeName: "node-a",
    nodeIPs: ["192.168.0.2"],
  });
  return new Map(state.iptables.ipv4.nat.chains.map((c) => [c.name, c.rules]));
}

Deno.test({
  name:
    "externalTrafficPolicy Local sends external traffic to KUBE-SVL with the local endpoint only",
  permissions: "none",
  fn() {
    const nat = local("Local");
    const svl = localServiceChain("default/web:http", "tcp");
    const svc = serviceChain("default/web:http", "tcp");
    const ext = nat.get(externalChain("default/web:http", "tcp"))!;
    assert.equal(ext.at(-1), `-j ${svl}`);
    assert.ok(ext.some((r) => r.includes("-m addrtype --src-type LOCAL -j " + svc)));
    assert.deepEqual(nat.get(svl)!.map((r) => r.split(" -j ")[1]), [
      endpointChain("default/web:http", "tcp", "10.244.1.2:8080"),
    ]);
    assert.equal(nat.get(svc)!.filter((r) => r.includes("KUBE-SEP-")).length, 2);
  },
});

Deno.test({
  name:
    "internalTrafficPolicy Local sends the cluster IP to KUBE-SVL; Cluster policies need no SVL",
  permissions: "none",
  fn() {
    const nat = local("Cluster", "Local");
    const svl = localServiceChain("default/web:http", "tcp");
    assert.ok(nat.get("KUBE-SERVICES")!.some((r) => r.includes("cluster IP") && r.endsWith(svl)));
    assert.ok(!local("Cluster").has(svl));
  },
});

Deno.test({
  name: "the state has only tables: no virtual servers, sets, addresses or kube-ipvs0",
  permissions: "none",
  fn() {
    const { state } = computeIptablesDesiredState({
      config: testConfig(),
      snapshot: snapshot([]),
      nodeName: "node-a",
      nodeIPs: ["192.168.0.2"],
    });
    assert.deepEqual(
      [state.virtualServers, state.ipsets, state.addresses, state.linkPresent],
      [[], [], [], false],
    );
    assert.ok(state.iptables.ipv4.nat.jumps.length > 0);
  },
});

Deno.test({
  name: "above 1,000 endpoints the endpoint rules lose their comments, as in kube-proxy",
  permissions: "none",
  fn() {
    const ips = Array.from(
      { length: LARGE_CLUSTER_ENDPOINTS + 1 },
      (_, i) => `10.244.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    );
    const { state } = computeIptablesDesiredState({
      config: testConfig(),
      snapshot: snapshot(
        [service("big", "10.96.0.20", [port("", 80)])],
        [slice("big", ips.map((ip) => endpoint(ip)), [{ name: "", port: 80 }])],
      ),
      nodeName: "node-a",
      nodeIPs: ["192.168.0.2"],
    });
    const sep = state.iptables.ipv4.nat.chains.find((c) => c.name.startsWith("KUBE-SEP-"))!;
    assert.ok(sep.rules.every((r) => !r.includes("--comment")));
    assert.ok(sep.rules[1].startsWith("-p tcp -m tcp -j DNAT --to-destination 10.244."));
  },
});

Deno.test({
  name: "every rule of a dual-stack state passes the renderer's guard",
  permissions: "none",
  fn() {
    const web = service(
      "web",
      ["10.96.0.10", "fd00::10"],
      [port("http", 80, { nodePort: 30080 })],
      {
        type: "LoadBalancer",
        sessionAffinity: "ClientIP",
        loadBalancerIngress: [{ ip: "203.0.113.10", ipMode: "VIP" }, {
          ip: "2001:db8::10",
          ipMode: "VIP",
        }],
        loadBalancerSourceRanges: ["198.51.100.0/24", "2001:db8:1::/64"],
      },
    );
    const { state } = computeIptablesDesiredState({
      config: testConfig({ clusterCIDRs: ["10.244.0.0/16", "fd00:10:244::/56"] }),
      snapshot: snapshot([web], [
        slice("web", [endpoint("10.244.1.2")], [{ name: "http", port: 8080 }]),
        slice("web", [endpoint("fd00:10:244::2")], [{ name: "http", port: 8080 }]),
      ]),
      nodeName: "node-a",
      nodeIPs: ["192.168.0.2", "2001:db8:ff::2"],
    });
    for (const family of ["ipv4", "ipv6"] as const) {
      for (const table of ["nat", "filter"] as const) {
        assert.match(renderTableState(table, state.iptables[family][table]), /COMMIT\n$/);
      }
    }
    const v6 = state.iptables.ipv6.nat.chains.find((c) => c.name.startsWith("KUBE-SEP-"))!;
    assert.ok(v6.rules[1].includes("--to-destination [fd00:10:244::2]:8080"), v6.rules[1]);
  },
});

Deno.test({
  name: "endpoints are ordered by their ip:port text, as kube-proxy's byEndpoint sorts them",
  permissions: "none",
  fn() {
    const { state } = computeIptablesDesiredState({
      config: testConfig(),
      snapshot: snapshot(
        [service("web", "10.96.0.10", [port("", 80)])],
        [slice("web", [endpoint("10.0.0.1"), endpoint("10.0.0.10")], [{ name: "", port: 80 }])],
      ),
      nodeName: "node-a",
      nodeIPs: ["192.168.0.2"],
    });
    const svc = state.iptables.ipv4.nat.chains.find((c) => c.name.startsWith("KUBE-SVC-"))!;
    assert.deepEqual(svc.rules.map((r) => r.match(/"default\/web -> (\S+)"/)?.[1]), [
      "10.0.0.10:80",
      "10.0.0.1:80",
    ]);
  },
});
