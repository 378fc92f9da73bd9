import { assertEquals, assertOneWarning, parse, service } from "./test_helpers.ts";

Deno.test({
  name: "a minimal Service gets Kubernetes' defaults",
  permissions: "none",
  fn() {
    const { services, warnings } = parse({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web" },
      spec: { clusterIP: "10.0.0.80", ports: [{ port: 80 }] },
    });
    assertEquals(warnings, []);
    assertEquals(services, [{
      namespace: "default",
      name: "web",
      type: "ClusterIP",
      clusterIPs: ["10.0.0.80"],
      ports: [{ name: "", protocol: "tcp", port: 80, targetPort: 80, nodePort: 0 }],
      externalIPs: [],
      sessionAffinity: "None",
      sessionAffinityTimeoutSeconds: 10800,
      externalTrafficPolicy: "Cluster",
      internalTrafficPolicy: "Cluster",
      loadBalancerSourceRanges: [],
      healthCheckNodePort: 0,
      loadBalancerIngress: [],
      source: "test.yaml",
    }]);
  },
});

Deno.test({
  name: "every field the proxier reads is normalised",
  permissions: "none",
  fn() {
    const { services, warnings } = parse(service("shop", {
      type: "LoadBalancer",
      clusterIP: "fd00:10:96:0::a",
      clusterIPs: ["fd00:10:96::a", "10.0.20.10"],
      ipFamilies: ["IPv6", "IPv4"],
      ports: [
        { name: "https", protocol: "TCP", port: 443, targetPort: "https", nodePort: 30443 },
        { name: "quic", protocol: "UDP", port: 443, targetPort: 0, nodePort: 30443 },
      ],
      externalIPs: ["192.0.2.50", "2001:DB8::50"],
      sessionAffinity: "ClientIP",
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
      externalTrafficPolicy: "Local",
      internalTrafficPolicy: "Local",
      healthCheckNodePort: 32000,
      loadBalancerSourceRanges: [" 198.51.100.7/24", "192.168.0.0/16"],
    }, {
      status: {
        loadBalancer: {
          ingress: [{ ip: "203.0.113.10" }, { ip: "203.0.113.20", ipMode: "Proxy" }, {
            hostname: "lb.example.com",
          }],
        },
      },
    }));
    assertEquals(warnings, []);
    const s = services[0];
    assertEquals(s.type, "LoadBalancer");
    assertEquals(s.clusterIPs, ["fd00:10:96::a", "10.0.20.10"]);
    assertEquals(s.ports, [
      { name: "https", protocol: "tcp", port: 443, targetPort: "https", nodePort: 30443 },
      { name: "quic", protocol: "udp", port: 443, targetPort: 443, nodePort: 30443 },
    ]);
    assertEquals(s.externalIPs, ["192.0.2.50", "2001:db8::50"]);
    assertEquals([s.sessionAffinity, s.sessionAffinityTimeoutSeconds], ["ClientIP", 600]);
    assertEquals([s.externalTrafficPolicy, s.internalTrafficPolicy], ["Local", "Local"]);
    assertEquals(s.healthCheckNodePort, 32000);
    assertEquals(s.loadBalancerSourceRanges, ["198.51.100.0/24", "192.168.0.0/16"]);
    assertEquals(s.loadBalancerIngress, [
      { ip: "203.0.113.10", ipMode: "VIP" },
      { ip: "203.0.113.20", ipMode: "Proxy" },
    ]);
  },
});

Deno.test({
  name: "ClientIP affinity without a config times out after 10800 seconds",
  permissions: "none",
  fn() {
    const { services } = parse(service("a", { sessionAffinity: "ClientIP" }));
    assertEquals(services[0].sessionAffinityTimeoutSeconds, 10800);
  },
});

Deno.test({
  name: "headless, unallocated and ExternalName services have no cluster IPs",
  permissions: "none",
  fn() {
    const { services, warnings } = parse(
      service("headless", { clusterIP: "None", clusterIPs: ["None"], ports: [] }),
      service("pending", { clusterIP: "" }),
      service("alias", { type: "ExternalName", externalName: "db.example.com", clusterIP: "x" }),
    );
    assertEquals(warnings, []);
    assertEquals(services.map((s) => [s.name, s.clusterIPs]), [
      ["headless", []],
      ["pending", []],
      ["alias", []],
    ]);
  },
});

Deno.test({
  name: "the source-ranges annotation is ignored, as kube-proxy ignores it",
  permissions: "none",
  fn() {
    const annotations = {
      "service.beta.kubernetes.io/load-balancer-source-ranges": "198.51.100.0/24, not a cidr",
    };
    const { services, warnings } = parse(
      service("lb", { type: "LoadBalancer" }, {
        metadata: { name: "lb", namespace: "default", annotations },
      }),
    );
    assertEquals(warnings, []);
    assertEquals(services[0].loadBalancerSourceRanges, []);
  },
});

/** Each case: spec (or whole-object) changes, and the field the warning must name. */
const INVALID: {
  name: string;
  spec?: Record<string, unknown>;
  extra?: Record<string, unknown>;
  field: string;
  message: string;
}[] = [
  {
    name: "port out of range",
    spec: { ports: [{ port: 70000 }] },
    field: "spec.ports[0].port",
    message: "70000",
  },
  {
    name: "port missing",
    spec: { ports: [{ name: "http" }] },
    field: "spec.ports[0].port",
    message: "required",
  },
  {
    name: "port as a string",
    spec: { ports: [{ port: "80" }] },
    field: "spec.ports[0].port",
    message: '"80"',
  },
  {
    name: "bad protocol",
    spec: { ports: [{ port: 80, protocol: "tcp" }] },
    field: "spec.ports[0].protocol",
    message: '"tcp"',
  },
  {
    name: "bad port name",
    spec: { ports: [{ name: "Http", port: 80 }] },
    field: "spec.ports[0].name",
    message: '"Http"',
  },
  {
    name: "hostile port name",
    spec: { ports: [{ name: "http\nx", port: 80 }] },
    field: "spec.ports[0].name",
    message: '"http\\nx"',
  },
  {
    name: "unnamed port among several",
    spec: { ports: [{ name: "a", port: 80 }, { port: 81 }] },
    field: "spec.ports[1].name",
    message: "required",
  },
  {
    name: "duplicate port names",
    spec: { ports: [{ name: "a", port: 80 }, { name: "a", port: 81 }] },
    field: "spec.ports[1].name",
    message: "unique",
  },
  {
    name: "duplicate port and protocol",
    spec: { ports: [{ name: "a", port: 80 }, { name: "b", port: 80 }] },
    field: "spec.ports[1].port",
    message: '"80/TCP"',
  },
  {
    name: "targetPort out of range",
    spec: { ports: [{ port: 80, targetPort: 0.5 }] },
    field: "spec.ports[0].targetPort",
    message: "0.5",
  },
  {
    name: "numeric string targetPort",
    spec: { ports: [{ port: 80, targetPort: "8080" }] },
    field: "spec.ports[0].targetPort",
    message: '"8080"',
  },
  {
    name: "nodePort on ClusterIP",
    spec: { ports: [{ port: 80, nodePort: 30080 }] },
    field: "spec.ports[0].nodePort",
    message: "30080",
  },
  { name: "no ports", spec: { ports: [] }, field: "spec.ports", message: "at least one" },
  { name: "bad type", spec: { type: "Ingress" }, field: "spec.type", message: '"Ingress"' },
  {
    name: "bad cluster IP",
    spec: { clusterIP: "10.0.0.256" },
    field: "spec.clusterIP",
    message: '"10.0.0.256"',
  },
  {
    name: "octal-looking cluster IP",
    spec: { clusterIP: "010.0.0.1" },
    field: "spec.clusterIP",
    message: '"010.0.0.1"',
  },
  {
    name: "clusterIP differs from clusterIPs[0]",
    spec: { clusterIP: "10.0.0.1", clusterIPs: ["10.0.0.2"] },
    field: "spec.clusterIP",
    message: '"10.0.0.1"',
  },
  {
    name: "two IPv4 cluster IPs",
    spec: { clusterIP: "", clusterIPs: ["10.0.0.1", "10.0.0.2"] },
    field: "spec.clusterIPs[1]",
    message: "other IP family",
  },
  {
    name: "cluster IP against ipFamilies",
    spec: { clusterIPs: ["10.0.0.80"], ipFamilies: ["IPv6"] },
    field: "spec.clusterIPs[0]",
    message: "spec.ipFamilies[0] is IPv6",
  },
  {
    name: "unknown ip family",
    spec: { ipFamilies: ["IPv5"] },
    field: "spec.ipFamilies[0]",
    message: '"IPv5"',
  },
  {
    name: "headless LoadBalancer",
    spec: { type: "LoadBalancer", clusterIP: "None" },
    field: "spec.clusterIP",
    message: "None",
  },
  {
    name: "loopback external IP",
    spec: { externalIPs: ["127.0.0.1"] },
    field: "spec.externalIPs[0]",
    message: "loopback",
  },
  {
    name: "bad external IP",
    spec: { externalIPs: ["192.0.2.50 "] },
    field: "spec.externalIPs[0]",
    message: '"192.0.2.50 "',
  },
  {
    name: "affinity timeout too long",
    spec: {
      sessionAffinity: "ClientIP",
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 86401 } },
    },
    field: "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
    message: "86401",
  },
  {
    name: "bad affinity",
    spec: { sessionAffinity: "Cookie" },
    field: "spec.sessionAffinity",
    message: '"Cookie"',
  },
  {
    name: "lowercase traffic policy",
    spec: { externalTrafficPolicy: "local" },
    field: "spec.externalTrafficPolicy",
    message: '"local"',
  },
  {
    name: "bad internal traffic policy",
    spec: { internalTrafficPolicy: "Node" },
    field: "spec.internalTrafficPolicy",
    message: '"Node"',
  },
  {
    name: "bad source range",
    spec: { loadBalancerSourceRanges: ["198.51.100.0/33"] },
    field: "spec.loadBalancerSourceRanges[0]",
    message: "/33",
  },
  {
    name: "bad healthCheckNodePort",
    spec: { healthCheckNodePort: -1 },
    field: "spec.healthCheckNodePort",
    message: "-1",
  },
  {
    name: "bad ingress IP",
    extra: { status: { loadBalancer: { ingress: [{ ip: "lb" }] } } },
    field: "status.loadBalancer.ingress[0].ip",
    message: '"lb"',
  },
  {
    name: "bad ipMode",
    extra: { status: { loadBalancer: { ingress: [{ ip: "203.0.113.1", ipMode: "DSR" }] } } },
    field: "status.loadBalancer.ingress[0].ipMode",
    message: '"DSR"',
  },
  {
    name: "ports not a list",
    spec: { ports: { port: 80 } },
    field: "spec.ports",
    message: "must be a list",
  },
  {
    name: "spec not a mapping",
    extra: { spec: "none" },
    field: "spec",
    message: "must be a mapping",
  },
];

for (const c of INVALID) {
  Deno.test({
    name: `a Service with ${c.name} is skipped whole with one warning, its neighbour still loads`,
    permissions: "none",
    fn() {
      const { services, warnings } = parse(
        service("good-before"),
        service("bad", c.spec ?? {}, c.extra ?? {}),
        service("good-after"),
      );
      assertEquals(services.map((s) => s.name), ["good-before", "good-after"]);
      assertOneWarning(warnings, {
        object: "Service default/bad",
        field: c.field,
        message: c.message,
      });
    },
  });
}
