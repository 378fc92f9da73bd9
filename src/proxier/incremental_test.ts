import assert from "node:assert/strict";
import type { ClusterSnapshot } from "../cluster/types.ts";
import { computeDesiredState } from "./desired_state.ts";
import { IncrementalProxier } from "./incremental.ts";
import { endpoint, port, service, slice, snapshot, testConfig } from "./testing.ts";

const config = testConfig();
const nodeIPs = ["192.168.0.10"];

function full(cluster: ClusterSnapshot) {
  return computeDesiredState({ config, snapshot: cluster, nodeName: "node-a", nodeIPs });
}

const web = service("web", "10.96.0.10", [port("http", 80)], { externalIPs: ["203.0.113.7"] });
const api = service("api", "10.96.0.11", [port("http", 80)], { externalIPs: ["203.0.113.7"] });
const webSlice = slice("web", [endpoint("10.244.0.5", "node-a")], [{ name: "http", port: 8080 }]);
const apiSlice = slice("api", [endpoint("10.244.0.6")], [{ name: "http", port: 8080 }]);

Deno.test({
  name: "a service leaving keeps the bound address and set entry another service still needs",
  permissions: "none",
  fn() {
    const proxier = new IncrementalProxier(config, "node-a");
    proxier.update(snapshot([api, web], [apiSlice, webSlice]), nodeIPs);
    const after = snapshot([web], [apiSlice, webSlice]);
    const { state } = proxier.update(after, nodeIPs);
    assert.ok(state.addresses.some((a) => a.address === "203.0.113.7/32"));
    const ipvsIPs = state.ipsets.find((s) => s.name === "KUBE-IPVS-IPS")!;
    assert.ok(ipvsIPs.entries.includes("203.0.113.7"));
    assert.ok(!ipvsIPs.entries.includes("10.96.0.11"));
    assert.deepStrictEqual(proxier.update(after, nodeIPs), full(after));
  },
});

Deno.test({
  name: "a virtual server two services want goes to the other one when its winner leaves",
  permissions: "none",
  fn() {
    const proxier = new IncrementalProxier(config, "node-a");
    const both = snapshot([api, web], [apiSlice, webSlice]);
    const first = proxier.update(both, nodeIPs);
    assert.equal(first.warnings.length, 1); // default/web wants api's 203.0.113.7:80
    const after = snapshot([web], [apiSlice, webSlice]);
    const second = proxier.update(after, nodeIPs);
    assert.deepStrictEqual(second.warnings, []);
    const external = second.state.virtualServers.find((vs) => vs.address === "203.0.113.7")!;
    assert.equal(external.service, "default/web:http");
  },
});

Deno.test({
  name: "one changed slice recomputes one service; the others keep their objects",
  permissions: "none",
  fn() {
    const proxier = new IncrementalProxier(config, "node-a");
    const before = proxier.update(snapshot([api, web], [apiSlice, webSlice]), nodeIPs);
    const moved = { ...webSlice, endpoints: [endpoint("10.244.0.9", "node-b")] };
    const after = proxier.update(snapshot([api, web], [apiSlice, moved]), nodeIPs);
    assert.deepStrictEqual(proxier.lastUpdate, { full: false, recomputedServices: 1 });
    const apiVS = (s: typeof before) =>
      s.state.virtualServers.find((vs) => vs.address === "10.96.0.11");
    assert.equal(apiVS(after), apiVS(before)); // the same frozen object, not a copy
    assert.ok(Object.isFrozen(after.state.virtualServers));
    assert.deepStrictEqual(after, full(snapshot([api, web], [apiSlice, moved])));
  },
});

Deno.test({
  name:
    "an update with nothing changed gives the previous result, and an equal copy recomputes nothing",
  permissions: "none",
  fn() {
    const proxier = new IncrementalProxier(config, "node-a");
    const cluster = snapshot([api, web], [apiSlice, webSlice]);
    const first = proxier.update(cluster, nodeIPs);
    assert.equal(proxier.update(cluster, nodeIPs), first);
    const copies = snapshot([structuredClone(api), web], [apiSlice, structuredClone(webSlice)]);
    assert.equal(proxier.update(copies, nodeIPs), first);
    assert.equal(proxier.lastUpdate.recomputedServices, 0);
  },
});

Deno.test({
  name:
    "an unsorted snapshot gets the full computation's answer, and new node addresses start over",
  permissions: "none",
  fn() {
    const proxier = new IncrementalProxier(config, "node-a");
    const unsorted = snapshot([web, api], [webSlice, apiSlice]);
    assert.deepStrictEqual(proxier.update(unsorted, nodeIPs), full(unsorted));
    assert.equal(proxier.lastUpdate.full, true);
    const sorted = snapshot([api, web], [apiSlice, webSlice]);
    proxier.update(sorted, nodeIPs);
    const moved = ["192.168.0.20"];
    const result = proxier.update(sorted, moved);
    assert.equal(proxier.lastUpdate.full, true);
    const expected = computeDesiredState({
      config,
      snapshot: sorted,
      nodeName: "node-a",
      nodeIPs: moved,
    });
    assert.deepStrictEqual(result, expected);
  },
});
