import assert from "node:assert/strict";
import { countNoLocalEndpoints, NoLocalEndpointsCounter } from "./no_local_endpoints.ts";
import { endpoint, port, service, slice, snapshot } from "./testing.ts";

Deno.test({
  name: "Local-policy service ports without a local endpoint are counted by policy and family",
  permissions: "none",
  fn() {
    const web = [port("http", 80, { nodePort: 30080 })];
    const cluster = snapshot([
      // internal Local, its only endpoint elsewhere: counted internal.
      service("itp", "10.0.0.1", [port("http", 80)], { internalTrafficPolicy: "Local" }),
      // external Local NodePort, no local endpoint: counted external.
      service("etp", "10.0.0.2", web, { type: "NodePort", externalTrafficPolicy: "Local" }),
      // external Local NodePort with a local endpoint: not counted.
      service("etp-ok", "10.0.0.3", web, { type: "NodePort", externalTrafficPolicy: "Local" }),
      // external Local but only a ClusterIP (nothing from outside): not counted.
      service("etp-cip", "10.0.0.4", [port("http", 80)], { externalTrafficPolicy: "Local" }),
      // both, IPv6: one of each in IPv6.
      service("both6", "fd00::5", web, {
        type: "NodePort",
        internalTrafficPolicy: "Local",
        externalTrafficPolicy: "Local",
      }),
    ], [
      slice("itp", [endpoint("10.244.2.1", "node-b")], [{ name: "http", port: 80 }]),
      slice("etp-ok", [endpoint("10.244.1.1", "node-a")], [{ name: "http", port: 80 }]),
    ]);
    assert.deepEqual(countNoLocalEndpoints(cluster, "node-a"), [
      { family: "IPv4", internal: 1, external: 1 },
      { family: "IPv6", internal: 1, external: 1 },
    ]);
  },
});

Deno.test({
  name: "the loop's counter answers an unchanged snapshot from its last count, a changed one anew",
  permissions: "none",
  fn() {
    const local = service("itp", "10.0.0.1", [port("http", 80)], {
      internalTrafficPolicy: "Local",
    });
    const elsewhere = slice("itp", [endpoint("10.244.2.1", "node-b")], [{
      name: "http",
      port: 80,
    }]);
    const counter = new NoLocalEndpointsCounter("node-a");
    const first = counter.count(snapshot([local], [elsewhere]));
    assert.deepEqual(first, [{ family: "IPv4", internal: 1, external: 0 }]);
    // A new snapshot of the same objects: the same counts, not counted again.
    assert.equal(counter.count(snapshot([local], [elsewhere])), first);
    const here = slice("itp", [endpoint("10.244.1.1", "node-a")], [{ name: "http", port: 80 }]);
    assert.deepEqual(counter.count(snapshot([local], [here])), [
      { family: "IPv4", internal: 0, external: 0 },
    ]);
  },
});
