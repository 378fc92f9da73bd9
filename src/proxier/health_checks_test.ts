import assert from "node:assert/strict";
import type { ClusterSnapshot, Service, ServicePort } from "../cluster/types.ts";
import type { ProxierInput } from "./desired_state.ts";
import { computeServiceHealthChecks, healthCheckHostnames } from "./health_checks.ts";
import { endpoint, port, service, slice, snapshot, testConfig } from "./testing.ts";

function compute(cluster: ClusterSnapshot, overrides: Partial<ProxierInput> = {}) {
  return computeServiceHealthChecks({
    config: testConfig(),
    snapshot: cluster,
    nodeName: "node-a",
    nodeIPs: ["192.168.0.10"],
    ...overrides,
  });
}

/** A LoadBalancer service with externalTrafficPolicy Local and the given health check port. */
function localLB(
  name: string,
  clusterIP: string | string[],
  healthCheckNodePort: number,
  ports: ServicePort[] = [port("http", 80, { nodePort: 30080 })],
  overrides: Partial<Service> = {},
): Service {
  return service(name, clusterIP, ports, {
    type: "LoadBalancer",
    externalTrafficPolicy: "Local",
    healthCheckNodePort,
    ...overrides,
  });
}

Deno.test({
  name: "a Local LoadBalancer with two local and one remote endpoint reports 2",
  permissions: "none",
  fn() {
    const result = compute(snapshot([localLB("web", "10.0.0.5", 32000)], [
      slice("web", [
        endpoint("10.244.0.2", "node-a"),
        endpoint("10.244.0.3", "node-a"),
        endpoint("10.244.1.2", "node-b"),
      ], [{ name: "http", port: 8080 }]),
    ]));
    assert.deepEqual(result, {
      checks: [{ port: 32000, namespace: "default", name: "web", localEndpoints: 2 }],
      warnings: [],
    });
  },
});

Deno.test({
  name: "a Local LoadBalancer whose endpoints are all remote reports 0",
  permissions: "none",
  fn() {
    const result = compute(snapshot([localLB("web", "10.0.0.5", 32000)], [
      slice("web", [endpoint("10.244.1.2", "node-b")], [{ name: "http", port: 8080 }]),
    ]));
    assert.deepEqual(result.checks, [
      { port: 32000, namespace: "default", name: "web", localEndpoints: 0 },
    ]);
  },
});

Deno.test({
  name: "terminating local endpoints do not count, even when no ready one is left",
  permissions: "none",
  fn() {
    const terminating = { ready: false, serving: true, terminating: true };
    const result = compute(snapshot([localLB("web", "10.0.0.5", 32000)], [
      slice("web", [endpoint("10.244.0.2", "node-a", terminating)], [
        { name: "http", port: 8080 },
      ]),
    ]));
    assert.equal(result.checks[0].localEndpoints, 0);
  },
});

Deno.test({
  name: "an endpoint behind two ports and both families counts once per address",
  permissions: "none",
  fn() {
    const ports = [port("http", 80), port("https", 443)];
    const slicePorts = [{ name: "http", port: 8080 }, { name: "https", port: 8443 }];
    const result = compute(
      snapshot([localLB("web", ["10.0.0.5", "fd00::5"], 32000, ports)], [
        slice("web", [endpoint("10.244.0.2", "node-a")], slicePorts),
        slice("web", [endpoint("fd00:244::2", "node-a")], slicePorts),
      ]),
      { nodeIPs: ["192.168.0.10", "fd00:1::10"] },
    );
    assert.equal(result.checks[0].localEndpoints, 2);
  },
});

Deno.test({
  name: "ClusterIP, Cluster-policy, headless and ExternalName services get no health check",
  permissions: "none",
  fn() {
    const result = compute(snapshot([
      service("plain", "10.0.0.6", [port("http", 80)], { healthCheckNodePort: 32005 }),
      localLB("cluster-policy", "10.0.0.7", 32001, undefined, { externalTrafficPolicy: "Cluster" }),
      localLB("headless", [], 32002),
      localLB("external-name", [], 32003, undefined, { type: "ExternalName" }),
      localLB("other-family", "fd00::8", 32004),
    ], [slice("plain", [endpoint("10.244.0.2", "node-a")], [{ name: "http", port: 80 }])]));
    assert.deepEqual(result, { checks: [], warnings: [] });
  },
});

Deno.test({
  name: "two services claiming one port: the first keeps it and the second is a warning",
  permissions: "none",
  fn() {
    const result = compute(snapshot([
      localLB("alpha", "10.0.0.5", 32000),
      localLB("beta", "10.0.0.6", 32000),
      localLB("gamma", "10.0.0.7", 31000),
    ]));
    assert.deepEqual(result.checks.map((c) => `${c.port} ${c.name}`), [
      "31000 gamma",
      "32000 alpha",
    ]);
    assert.deepEqual(result.warnings, [
      "default/beta wants health check node port 32000 that default/alpha already has; " +
      "keeping default/alpha's",
    ]);
  },
});

Deno.test({
  name: "healthCheckHostnames() listens everywhere unless nodePortAddresses selects addresses",
  permissions: "none",
  fn() {
    assert.deepEqual(healthCheckHostnames(["192.168.0.10"], []), ["0.0.0.0"]);
    assert.deepEqual(healthCheckHostnames(["192.168.0.10", "fd00:1::10"], []), ["::"]);
    assert.deepEqual(
      healthCheckHostnames(["192.168.0.10", "10.1.0.10", "fd00:1::10"], [
        "10.1.0.0/16",
        "fd00:1::/64",
      ]),
      ["10.1.0.10", "fd00:1::10"],
    );
    assert.deepEqual(healthCheckHostnames(["192.168.0.10"], ["10.1.0.0/16"]), []);
  },
});
