import { assertEquals, assertOneWarning, node, parse } from "./test_helpers.ts";

Deno.test({
  name: "a Node's IP addresses are canonicalised and other address types kept",
  permissions: "none",
  fn() {
    const { nodes, warnings } = parse(node("node-a", [
      { type: "InternalIP", address: "192.168.0.10" },
      { type: "InternalIP", address: "fd00:192:168:0::10" },
      { type: "Hostname", address: "node-a" },
    ]));
    assertEquals(warnings, []);
    assertEquals(nodes, [{
      name: "node-a",
      addresses: [
        { type: "InternalIP", address: "192.168.0.10" },
        { type: "InternalIP", address: "fd00:192:168::10" },
        { type: "Hostname", address: "node-a" },
      ],
      source: "test.yaml",
    }]);
  },
});

Deno.test({
  name: "a bad Node address is skipped with a warning while the Node still loads",
  permissions: "none",
  fn() {
    const { nodes, warnings } = parse(node("node-b", [
      { type: "ExternalIP", address: "203.0.113.300" },
      { type: "InternalIP", address: "192.168.0.11" },
    ]));
    assertEquals(nodes[0].addresses, [{ type: "InternalIP", address: "192.168.0.11" }]);
    assertOneWarning(warnings, {
      object: "Node node-b",
      field: "status.addresses[0].address",
      message: '"203.0.113.300"',
    });
  },
});

Deno.test({
  name: "a hostname address with a newline is skipped, not kept",
  permissions: "none",
  fn() {
    const { nodes, warnings } = parse(node("node-c", [{ type: "Hostname", address: "a\nb" }]));
    assertEquals(nodes[0].addresses, []);
    assertOneWarning(warnings, {
      object: "Node node-c",
      field: "status.addresses[0].address",
      message: '"a\\nb"',
    });
  },
});

Deno.test({
  name: "a Node without status loads with no addresses, and namespaces are ignored",
  permissions: "none",
  fn() {
    const { nodes, warnings } = parse({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "node-d.example.com", namespace: "ignored" },
    });
    assertEquals(warnings, []);
    assertEquals(nodes, [{ name: "node-d.example.com", addresses: [], source: "test.yaml" }]);
  },
});

Deno.test({
  name: "a Node with a name Kubernetes rejects is skipped, named by its document",
  permissions: "none",
  fn() {
    const { nodes, warnings } = parse(node("node-a"), node("Node_B"));
    assertEquals(nodes.map((n) => n.name), ["node-a"]);
    assertOneWarning(warnings, {
      object: "document 2",
      field: "metadata.name",
      message: '"Node_B"',
    });
  },
});

Deno.test({
  name: "a Node being deleted, or tainted, says so; a plain one carries neither",
  permissions: "none",
  fn() {
    const { nodes } = parse(
      {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "going", deletionTimestamp: "2026-12-01T00:00:00Z" },
        spec: { taints: [{ key: "ToBeDeletedByClusterAutoscaler", effect: "NoSchedule" }] },
      },
      { apiVersion: "v1", kind: "Node", metadata: { name: "plain" } },
    );
    assertEquals(nodes.map((n) => [n.name, n.deleting, n.taintKeys]), [
      ["going", true, ["ToBeDeletedByClusterAutoscaler"]],
      ["plain", undefined, undefined],
    ]);
  },
});

Deno.test({
  name: "a Node's zone label and pod CIDRs are read, the single podCIDR when the list is empty",
  permissions: "none",
  fn() {
    const { nodes, warnings } = parse(
      {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "dual", labels: { "topology.kubernetes.io/zone": "zone-a" } },
        spec: { podCIDR: "10.244.1.0/24", podCIDRs: ["10.244.1.0/24", "fd00:10:244:1:0::/64"] },
      },
      {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "old" },
        spec: { podCIDR: "10.1.0.0/24" },
      },
    );
    assertEquals(warnings, []);
    assertEquals(nodes.map((n) => [n.name, n.zone, n.podCIDRs]), [
      ["dual", "zone-a", ["10.244.1.0/24", "fd00:10:244:1::/64"]],
      ["old", undefined, ["10.1.0.0/24"]],
    ]);
  },
});

Deno.test({
  name: "a bad pod CIDR is skipped with a warning and the Node still loads",
  permissions: "none",
  fn() {
    const { nodes, warnings } = parse({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "node-e" },
      spec: { podCIDRs: ["10.244.300.0/24", "10.244.2.0/24"] },
    });
    assertEquals(nodes[0].podCIDRs, ["10.244.2.0/24"]);
    assertOneWarning(warnings, {
      object: "Node node-e",
      field: "spec.podCIDRs[0]",
      message: "CIDR skipped",
    });
  },
});
