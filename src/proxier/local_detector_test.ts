/**
 * The local traffic detector in both proxiers' rules: kube-proxy's `IfLocal()` /
 * `IfNotLocal()` (pkg/proxy/util/localdetector.go, `TestDetectLocalByCIDR`,
 * `TestDetectLocalByBridgeInterface`, `TestDetectLocalByInterfaceNamePrefix`) in the positions
 * iptables-save prints them (measured with iptables 1.8.9: `-s`, then `-d`, then `-i`).
 */

import assert from "node:assert/strict";
import type { Node } from "../cluster/types.ts";
import { computeDesiredState } from "./desired_state.ts";
import { computeIptablesDesiredState } from "../iptables_proxier/desired_state.ts";
import { localDetectorFor, localMatch } from "./local_detector.ts";
import { endpoint, port, service, slice, snapshot, testConfig } from "./testing.ts";
import type { ProxyConfig } from "../config/types.ts";

const node: Node = {
  name: "node-a",
  addresses: [],
  podCIDRs: ["10.244.1.0/24", "fd00:244:1::/64"],
  source: "test.yaml",
};

const withMode = (detectLocalMode: string, detectLocal = {}): ProxyConfig =>
  testConfig({
    detectLocalMode,
    clusterCIDRs: ["10.244.0.0/16"],
    detectLocal: { bridgeInterface: "", interfaceNamePrefix: "", ...detectLocal },
  });

Deno.test({
  name: "each detectLocalMode gives kube-proxy's match: the family's CIDR, the bridge, or prefix+",
  permissions: "none",
  fn() {
    const pods = node.podCIDRs!;
    assert.deepEqual(localDetectorFor(withMode("ClusterCIDR"), "ipv4", pods), {
      source: "10.244.0.0/16",
    });
    assert.equal(localDetectorFor(withMode("ClusterCIDR"), "ipv6", pods), undefined);
    assert.deepEqual(localDetectorFor(withMode("NodeCIDR"), "ipv6", pods), {
      source: "fd00:244:1::/64",
    });
    assert.equal(localDetectorFor(withMode("NodeCIDR"), "ipv4", []), undefined);
    const bridge = localDetectorFor(
      withMode("BridgeInterface", { bridgeInterface: "cbr0" }),
      "ipv6",
      [],
    );
    assert.deepEqual(localMatch(bridge!, false), { source: "", inInterface: "! -i cbr0 " });
    const prefix = withMode("InterfaceNamePrefix", { interfaceNamePrefix: "veth" });
    assert.deepEqual(localMatch(localDetectorFor(prefix, "ipv4", [])!, true), {
      source: "",
      inInterface: "-i veth+ ",
    });
  },
});

const web = service("web", "10.96.0.10", [port("http", 80, { nodePort: 30080 })], {
  type: "NodePort",
  externalTrafficPolicy: "Local",
});
const webSlice = slice("web", [endpoint("10.244.1.5", "node-a")], [{ name: "http", port: 80 }]);

function ipvsClusterIPRule(config: ProxyConfig, nodes: Node[] = [node]): string | undefined {
  const { state } = computeDesiredState({
    config,
    snapshot: snapshot([web], [webSlice], nodes),
    nodeName: "node-a",
    nodeIPs: ["192.168.0.10"],
  });
  const services = state.iptables.ipv4.nat.chains.find((c) => c.name === "KUBE-SERVICES")!;
  return services.rules.find((r) => r.includes("KUBE-CLUSTER-IP") && r.includes("MARK-MASQ"));
}

const CLUSTER_IP_MATCH = '-m comment --comment "Kubernetes service cluster ip + port for ' +
  'masquerade purpose" -m set --match-set KUBE-CLUSTER-IP';

Deno.test({
  name: "IPVS mode masquerades cluster IP traffic that is not from a pod, by each detector",
  permissions: "none",
  fn() {
    assert.equal(
      ipvsClusterIPRule(withMode("NodeCIDR")),
      `! -s 10.244.1.0/24 ${CLUSTER_IP_MATCH} dst,dst -j KUBE-MARK-MASQ`,
    );
    assert.equal(
      ipvsClusterIPRule(withMode("BridgeInterface", { bridgeInterface: "cbr0" })),
      `! -i cbr0 ${CLUSTER_IP_MATCH} dst,dst -j KUBE-MARK-MASQ`,
    );
    assert.equal(
      ipvsClusterIPRule(withMode("InterfaceNamePrefix", { interfaceNamePrefix: "veth" })),
      `! -i veth+ ${CLUSTER_IP_MATCH} dst,dst -j KUBE-MARK-MASQ`,
    );
    // NodeCIDR without the Node's pod CIDRs: no detector, the src,dst form.
    assert.equal(
      ipvsClusterIPRule(withMode("NodeCIDR"), []),
      `${CLUSTER_IP_MATCH} src,dst -j KUBE-MARK-MASQ`,
    );
  },
});

Deno.test({
  name: "NodeCIDR without a Node, or without a pod CIDR of a family, is warned about",
  permissions: "none",
  fn() {
    const input = (nodes: Node[], nodeIPs: string[]) => ({
      config: withMode("NodeCIDR"),
      snapshot: snapshot([web], [webSlice], nodes),
      nodeName: "node-a",
      nodeIPs,
    });
    const noNode = computeDesiredState(input([], ["192.168.0.10"])).warnings;
    assert.equal(noNode.length, 1);
    assert.match(noNode[0], /NodeCIDR: there is no Node object named node-a, so IPv4 rules/);
    const v4Only = { ...node, podCIDRs: ["10.244.1.0/24"] };
    const dual = computeDesiredState(input([v4Only], ["192.168.0.10", "fd00::10"])).warnings;
    assert.match(dual[0], /Node node-a has no IPv6 pod CIDR/);
    assert.deepEqual(computeDesiredState(input([node], ["192.168.0.10"])).warnings, []);
    assert.deepEqual(
      computeIptablesDesiredState(input([], ["192.168.0.10"])).warnings,
      noNode,
    );
  },
});

function iptablesRules(config: ProxyConfig): string[] {
  const { state } = computeIptablesDesiredState({
    config,
    snapshot: snapshot([web], [webSlice], [node]),
    nodeName: "node-a",
    nodeIPs: ["192.168.0.10"],
  });
  return state.iptables.ipv4.nat.chains.flatMap((c) => c.rules);
}

Deno.test({
  name:
    "iptables mode puts the detector where iptables-save prints it: -s first, -i after -d and before -p",
  permissions: "none",
  fn() {
    const bridge = iptablesRules(withMode("BridgeInterface", { bridgeInterface: "cbr0" }));
    assert.ok(bridge.includes(
      '-d 10.96.0.10/32 ! -i cbr0 -p tcp -m comment --comment "default/web:http cluster IP" ' +
        "-m tcp --dport 80 -j KUBE-MARK-MASQ",
    ));
    assert.ok(
      bridge.some((r) =>
        r.startsWith('-i cbr0 -m comment --comment "pod traffic for default/web:http external')
      ),
    );
    const cidr = iptablesRules(withMode("NodeCIDR"));
    assert.ok(cidr.includes(
      '! -s 10.244.1.0/24 -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http ' +
        'cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ',
    ));
    assert.ok(cidr.some((r) => r.startsWith("-s 10.244.1.0/24 -m comment")));
  },
});
