import assert from "node:assert/strict";
import { staleUdpFlows, type UdpFlow, udpServiceTargets } from "./udp_flows.ts";
import { endpoint, port, service, slice, snapshot } from "./testing.ts";

const NODE_IP = "192.168.1.10";

function flow(origDst: string, origDstPort: number, replySrc: string): UdpFlow {
  return { family: "ipv4", origDst, origDstPort, replySrc };
}

/** kube-dns: UDP 53 on 10.96.0.10 (and an external IP), NodePort 30053, endpoints as given. */
function dns(endpoints: ReturnType<typeof endpoint>[]) {
  const svc = service(
    "dns",
    "10.96.0.10",
    [port("dns", 53, { protocol: "udp", nodePort: 30053 })],
    {
      type: "NodePort",
      externalIPs: ["203.0.113.7"],
    },
  );
  const slices = endpoints.length === 0
    ? []
    : [slice("dns", endpoints, [{ name: "dns", port: 5353, protocol: "udp" }])];
  return udpServiceTargets(snapshot([svc], slices), "ipv4", [NODE_IP]);
}

Deno.test("a UDP flow DNATed to a removed endpoint is stale; one to a serving endpoint is not", () => {
  const targets = dns([endpoint("10.244.1.2")]);
  assert.deepEqual(
    staleUdpFlows(
      [flow("10.96.0.10", 53, "10.244.9.9"), flow("10.96.0.10", 53, "10.244.1.2")],
      targets,
    ),
    [flow("10.96.0.10", 53, "10.244.9.9")],
  );
});

Deno.test("a flow to the service address itself, from when it had no endpoints, is stale once it has one", () => {
  // With no endpoint, nothing DNATs: the reply "comes from" the service address.
  const stuck = flow("10.96.0.10", 53, "10.96.0.10");
  assert.deepEqual(staleUdpFlows([stuck], dns([])), [stuck]);
  assert.deepEqual(staleUdpFlows([stuck], dns([endpoint("10.244.1.2")])), [stuck]);
});

Deno.test("external IPs and NodePorts on the node's addresses are judged as the cluster IP is", () => {
  const targets = dns([endpoint("10.244.1.2")]);
  const stale = [flow("203.0.113.7", 53, "10.244.9.9"), flow(NODE_IP, 30053, "10.244.9.9")];
  const fine = [flow("203.0.113.7", 53, "10.244.1.2"), flow(NODE_IP, 30053, "10.244.1.2")];
  assert.deepEqual(staleUdpFlows([...stale, ...fine], targets), stale);
});

Deno.test("flows that are not a service's are never stale: other ports, remote hosts, TCP-only services", () => {
  const targets = dns([endpoint("10.244.1.2")]);
  const web = udpServiceTargets(
    snapshot([service("web", "10.96.0.20", [port("http", 80)])]),
    "ipv4",
    [NODE_IP],
  );
  assert.deepEqual(
    staleUdpFlows([
      flow("10.96.0.10", 54, "10.244.9.9"), // another port of the same address
      flow("198.51.100.1", 30053, "198.51.100.1"), // this node to a remote host's port 30053
      flow("8.8.8.8", 53, "8.8.8.8"),
    ], targets),
    [],
  );
  assert.deepEqual(staleUdpFlows([flow("10.96.0.20", 80, "10.96.0.20")], web), []);
});

Deno.test("serving terminating endpoints keep their flows; a flow found twice is listed once", () => {
  const targets = dns([
    endpoint("10.244.1.2", "", { ready: false, serving: true, terminating: true }),
    endpoint("10.244.1.3", "", { ready: false, serving: false, terminating: true }),
  ]);
  const gone = flow("10.96.0.10", 53, "10.244.1.3");
  assert.deepEqual(
    staleUdpFlows([flow("10.96.0.10", 53, "10.244.1.2"), gone, gone], targets),
    [gone],
  );
});
