import { assertEquals, assertOneWarning, parse, slice } from "./test_helpers.ts";

Deno.test({
  name: "an EndpointSlice is normalised with its service name, ports and endpoints",
  permissions: "none",
  fn() {
    const { endpointSlices, warnings } = parse(slice("web-abc", "web", {
      addressType: "IPv6",
      endpoints: [{ addresses: ["FD00:10:244:1:0::10"], nodeName: "node-a", zone: "z1" }],
      ports: [{ name: "http", protocol: "TCP", port: 8080, appProtocol: "http" }, {
        name: "quic",
        protocol: "UDP",
        port: 8443,
      }],
    }));
    assertEquals(warnings, []);
    assertEquals(endpointSlices, [{
      namespace: "default",
      name: "web-abc",
      serviceName: "web",
      addressType: "IPv6",
      endpoints: [{
        addresses: ["fd00:10:244:1::10"],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: "node-a",
      }],
      ports: [
        { name: "http", protocol: "tcp", port: 8080 },
        { name: "quic", protocol: "udp", port: 8443 },
      ],
      source: "test.yaml",
    }]);
  },
});

Deno.test({
  name: "zone and node hints are read as kube-proxy reads them, and left out when absent or empty",
  permissions: "none",
  fn() {
    const { endpointSlices, warnings } = parse(slice("web-hints", "web", {
      endpoints: [
        {
          addresses: ["10.0.0.1"],
          hints: { forZones: [{ name: "zone-a" }, { name: "zone-b" }], forNodes: [{ name: "n1" }] },
        },
        { addresses: ["10.0.0.2"], hints: { forZones: [] } },
        { addresses: ["10.0.0.3"] },
      ],
    }));
    assertEquals(warnings, []);
    assertEquals(endpointSlices[0].endpoints.map((e) => [e.zoneHints, e.nodeHints]), [
      [["zone-a", "zone-b"], ["n1"]],
      [undefined, undefined],
      [undefined, undefined],
    ]);
  },
});

Deno.test({
  name: "nil conditions read as kube-proxy reads them: ready and serving true, terminating false",
  permissions: "none",
  fn() {
    const cases = [
      [{}, { ready: true, serving: true, terminating: false }],
      [{ ready: false }, { ready: false, serving: true, terminating: false }],
      // Not ready, terminating, serving unset: a fallback endpoint for kube-proxy.
      [{ ready: false, terminating: true }, { ready: false, serving: true, terminating: true }],
      [{ ready: null, serving: null, terminating: null }, {
        ready: true,
        serving: true,
        terminating: false,
      }],
      [{ ready: false, serving: true, terminating: true }, {
        ready: false,
        serving: true,
        terminating: true,
      }],
    ] as const;
    for (const [conditions, expected] of cases) {
      const { endpointSlices } = parse(slice("s", "web", {
        endpoints: [{ addresses: ["10.244.1.10"], conditions }],
      }));
      assertEquals(endpointSlices[0].endpoints[0].conditions, expected, JSON.stringify(conditions));
    }
    const { endpointSlices } = parse(
      slice("s", "web", { endpoints: [{ addresses: ["10.0.0.9"] }] }),
    );
    assertEquals(endpointSlices[0].endpoints[0].conditions.ready, true);
    assertEquals(endpointSlices[0].endpoints[0].nodeName, "");
  },
});

Deno.test({
  name: "slice ports with a nil port are ignored silently, and null lists mean empty",
  permissions: "none",
  fn() {
    const { endpointSlices, warnings } = parse(
      slice("a", "web", { ports: [{ name: "all", port: null }, { name: "http", port: 8080 }] }),
      slice("b", "web", { endpoints: null, ports: null }),
    );
    assertEquals(warnings, []);
    assertEquals(endpointSlices[0].ports, [{ name: "http", protocol: "tcp", port: 8080 }]);
    assertEquals([endpointSlices[1].endpoints, endpointSlices[1].ports], [[], []]);
  },
});

Deno.test({
  name: "FQDN slices keep their addresses as names",
  permissions: "none",
  fn() {
    const { endpointSlices } = parse(slice("f", "web", {
      addressType: "FQDN",
      endpoints: [{ addresses: ["db.example.com"] }],
    }));
    assertEquals(endpointSlices[0].endpoints[0].addresses, ["db.example.com"]);
  },
});

const LABEL = 'metadata.labels["kubernetes.io/service-name"]';

const INVALID: { name: string; fields: Record<string, unknown>; field: string; message: string }[] =
  [
    {
      name: "no service-name label",
      fields: { metadata: { name: "bad", namespace: "default", labels: { app: "web" } } },
      field: LABEL,
      message: "required",
    },
    {
      name: "a hostile service-name label",
      fields: {
        metadata: {
          name: "bad",
          namespace: "default",
          labels: { "kubernetes.io/service-name": "web\n# x" },
        },
      },
      field: LABEL,
      message: '"web\\n# x"',
    },
    {
      name: "a zone hint that is no label value",
      fields: { endpoints: [{ addresses: ["10.0.0.1"], hints: { forZones: [{ name: "a b" }] } }] },
      field: "endpoints[0].hints.forZones[0].name",
      message: '"a b"',
    },
    {
      name: "a node hint that is no node name",
      fields: {
        endpoints: [{ addresses: ["10.0.0.1"], hints: { forNodes: [{ name: "Node_A" }] } }],
      },
      field: "endpoints[0].hints.forNodes[0].name",
      message: '"Node_A"',
    },
    {
      name: "no addressType",
      fields: { addressType: undefined },
      field: "addressType",
      message: "required",
    },
    {
      name: "a bad addressType",
      fields: { addressType: "IP" },
      field: "addressType",
      message: '"IP"',
    },
    {
      name: "an empty addressType",
      fields: { addressType: "" },
      field: "addressType",
      message: "required",
    },
    {
      name: "an IPv6 address in an IPv4 slice",
      fields: { endpoints: [{ addresses: ["fd00::1"] }] },
      field: "endpoints[0].addresses[0]",
      message: '"fd00::1"',
    },
    {
      name: "a short-form IPv4 address",
      fields: { endpoints: [{ addresses: ["10.1"] }] },
      field: "endpoints[0].addresses[0]",
      message: '"10.1"',
    },
    {
      name: "a loopback endpoint",
      fields: { endpoints: [{ addresses: ["127.0.0.1"] }] },
      field: "endpoints[0].addresses[0]",
      message: "loopback",
    },
    {
      name: "an endpoint without addresses",
      fields: { endpoints: [{ addresses: [] }] },
      field: "endpoints[0].addresses",
      message: "from 1 to 100",
    },
    {
      name: "a non-boolean condition",
      fields: { endpoints: [{ addresses: ["10.0.0.9"], conditions: { ready: "yes" } }] },
      field: "endpoints[0].conditions.ready",
      message: '"yes"',
    },
    {
      name: "a bad nodeName",
      fields: { endpoints: [{ addresses: ["10.0.0.9"], nodeName: "Node A" }] },
      field: "endpoints[0].nodeName",
      message: '"Node A"',
    },
    {
      name: "a port out of range",
      fields: { ports: [{ name: "http", port: 0 }] },
      field: "ports[0].port",
      message: "got 0",
    },
    {
      name: "a bad port name",
      fields: { ports: [{ name: "http port", port: 80 }] },
      field: "ports[0].name",
      message: '"http port"',
    },
    {
      name: "duplicate port names",
      fields: { ports: [{ name: "http", port: 80 }, { name: "http", port: 81 }] },
      field: "ports[1].name",
      message: "unique",
    },
    {
      name: "an unknown protocol",
      fields: { ports: [{ name: "http", port: 80, protocol: "QUIC" }] },
      field: "ports[0].protocol",
      message: '"QUIC"',
    },
  ];

for (const c of INVALID) {
  Deno.test({
    name: `an EndpointSlice with ${c.name} is skipped whole, its neighbour still loads`,
    permissions: "none",
    fn() {
      const { endpointSlices, warnings } = parse(
        slice("bad", "web", c.fields),
        slice("good", "web"),
      );
      assertEquals(endpointSlices.map((s) => s.name), ["good"]);
      assertOneWarning(warnings, {
        object: "EndpointSlice default/bad",
        field: c.field,
        message: c.message,
      });
    },
  });
}
