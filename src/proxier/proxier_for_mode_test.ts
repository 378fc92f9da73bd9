import assert from "node:assert/strict";
import { proxierForMode } from "./proxier_for_mode.ts";
import { computeDesiredStateFor } from "./mode.ts";
import { endpoint, port, service, slice, snapshot, testConfig } from "./testing.ts";
import type { Service } from "../cluster/types.ts";

const NODE = "node-a";

function localLoadBalancer(): Service {
  return service("web", "10.96.0.10", [port("http", 80, { nodePort: 30080 })], {
    type: "LoadBalancer",
    externalTrafficPolicy: "Local",
    healthCheckNodePort: 32000,
  });
}

Deno.test("the iptables-mode proxier computes iptables mode's whole state on each update", () => {
  const config = testConfig();
  const input = snapshot([]);
  const proxier = proxierForMode("iptables", config, NODE);
  const state = proxier.update(input, ["192.168.1.10"]).state;
  const expected = computeDesiredStateFor("iptables", {
    config,
    snapshot: input,
    nodeName: NODE,
    nodeIPs: ["192.168.1.10"],
  }).state;
  assert.equal(proxier.kind, "iptables");
  assert.deepEqual(state, expected);
  assert.equal(state.linkPresent, false);
  assert.deepEqual(state.virtualServers, []);
});

Deno.test("the IPVS-mode proxier is the incremental one and says so", () => {
  const proxier = proxierForMode("ipvs", testConfig(), NODE);
  assert.equal(proxier.kind, "ipvs");
  assert.equal(proxier.update(snapshot([]), ["192.168.1.10"]).state.linkPresent, true);
});

Deno.test("the iptables-mode proxier serves the health checks of its last update", () => {
  const proxier = proxierForMode("iptables", testConfig(), NODE);
  assert.deepEqual(proxier.healthChecks().checks, []);
  const local = slice("web", [endpoint("10.244.1.5", NODE), endpoint("10.244.2.5", "other")], [
    { name: "http", port: 8080 },
  ]);
  proxier.update(snapshot([localLoadBalancer()], [local]), ["192.168.1.10"]);
  assert.deepEqual(
    proxier.healthChecks().checks.map((c) => [c.port, c.name, c.localEndpoints]),
    [[32000, "web", 1]],
  );
});
