// End to end through the node's own address and a load balancer VIP: NodePorts,
// externalTrafficPolicy=Local, loadBalancerSourceRanges with clients in their own namespaces,
// and the KUBE-IPVS-OUT-FILTER rule (`-m ipvs`) that only a kernel with IPVS accepts.
import assert from "node:assert/strict";
import { sh } from "./harness.ts";
import { startHttpServer } from "./netns.ts";
import { canConnect, httpGet, httpGetFrom, httpGetMany } from "./servers.ts";
import {
  createClient,
  createNode,
  createPod,
  droppedBy,
  e2eTest,
  endpointSlice,
  NODE_IP,
  NODE_NAME,
  realServersOf,
  service,
  syncInputs,
} from "./cluster.ts";
import { ExecBackend } from "../../backends/exec/exec_backend.ts";
import { diffStates } from "../../src/plan/diff.ts";
import { computeDesiredState } from "../../src/proxier/desired_state.ts";

e2eTest("a NodePort on the node's address reaches the backend", async () => {
  await using node = await createNode();
  await using pod = await createPod("np-a", "10.244.1.41");
  await using _server = await startHttpServer(pod, { port: 8080 });
  await node.write([
    service({
      name: "np",
      type: "NodePort",
      clusterIP: "10.96.0.40",
      ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }],
    }),
    endpointSlice({ service: "np", endpoints: [{ ip: pod.nsAddress }], ports: [{ port: 8080 }] }),
  ]);
  await node.sync();
  assert.deepEqual(await realServersOf(`${NODE_IP}:30080`), ["10.244.1.41:8080 -w 1"]);

  assert.equal(await httpGet(NODE_IP, 30080), "backend np-a\n");
});

e2eTest(
  "externalTrafficPolicy Local sends NodePort connections only to this node's endpoint",
  async () => {
    await using node = await createNode();
    await using local = await createPod("etp-a", "10.244.1.42");
    await using remote = await createPod("etp-b", "10.244.2.42");
    await using _localServer = await startHttpServer(local, { port: 8080 });
    await using _remoteServer = await startHttpServer(remote, { port: 8080 });
    await node.write([
      service({
        name: "etp",
        type: "NodePort",
        clusterIP: "10.96.0.41",
        ports: [{ port: 80, targetPort: 8080, nodePort: 30081 }],
        externalTrafficPolicy: "Local",
      }),
      endpointSlice({
        service: "etp",
        endpoints: [{ ip: local.nsAddress }, { ip: remote.nsAddress, node: "node-b" }],
        ports: [{ port: 8080 }],
      }),
    ]);
    await node.sync();
    // The cluster IP keeps both endpoints; the NodePort only the local one.
    assert.deepEqual(await realServersOf("10.96.0.41:80"), [
      "10.244.1.42:8080 -w 1",
      "10.244.2.42:8080 -w 1",
    ]);
    assert.deepEqual(await realServersOf(`${NODE_IP}:30081`), ["10.244.1.42:8080 -w 1"]);

    const bodies = await httpGetMany(NODE_IP, 30081, 4);
    assert.deepEqual(bodies, Array(4).fill("backend etp-a\n"));
    // The other endpoint works, so it is the policy that kept connections away from it.
    assert.deepEqual(
      new Set(await httpGetMany("10.96.0.41", 80, 4)),
      new Set(["backend etp-a\n", "backend etp-b\n"]),
    );
  },
);

const LB_VIP = "203.0.113.50";

/** A LoadBalancer whose only source range covers 10.50.1.0/24 (not the node, not 10.50.2.0/24). */
function loadBalancer(endpoint: string): object[] {
  return [
    service({
      name: "lb",
      type: "LoadBalancer",
      clusterIP: "10.96.0.50",
      ports: [{ port: 80, targetPort: 8080, nodePort: 30050 }],
      loadBalancerSourceRanges: ["10.50.1.0/24"],
      ingress: [LB_VIP],
    }),
    endpointSlice({ service: "lb", endpoints: [{ ip: endpoint }], ports: [{ port: 8080 }] }),
  ];
}

e2eTest(
  "loadBalancerSourceRanges lets one client namespace in and refuses the other",
  async () => {
    await using node = await createNode();
    await using pod = await createPod("lb-a", "10.244.1.51");
    await using _server = await startHttpServer(pod, { port: 8080 });
    await using inside = await createClient("cl-in", "10.50.1.2", "10.50.1.1");
    await using outside = await createClient("cl-out", "10.50.2.2", "10.50.2.1");
    await node.write(loadBalancer(pod.nsAddress));
    await node.sync();

    assert.equal(await httpGetFrom(inside, LB_VIP, 80), "backend lb-a\n");
    const started = Date.now();
    assert.equal(
      await httpGetFrom(outside, LB_VIP, 80),
      undefined,
      "10.50.2.2 is outside the range",
    );
    assert.ok(Date.now() - started < 5000, "refused within nc's 2 s connect timeout");
    assert.ok(await droppedBy("KUBE-SOURCE-RANGES-FIREWALL") > 0, "the source range dropped it");
    // The outside client reaches the node and the backend: the source range is what refused it.
    assert.equal(await httpGetFrom(outside, pod.nsAddress, 8080), "backend lb-a\n");
  },
);

e2eTest(
  "the KUBE-IPVS-OUT-FILTER rule reads back as written and keeps the node off the VIP",
  async () => {
    await using node = await createNode();
    await using pod = await createPod("of-a", "10.244.1.52");
    await using _server = await startHttpServer(pod, { port: 8080 });
    await node.write(loadBalancer(pod.nsAddress));
    await node.sync();

    // The range excludes the node's address: the node itself must not reach the VIP.
    const saved = await sh(["iptables-save", "-t", "filter"]);
    assert.match(
      saved,
      /^-A KUBE-IPVS-OUT-FILTER -s 203\.0\.113\.50\/32 -m ipvs --vproto 6 --vaddr 203\.0\.113\.50 --vport 80 -j DROP$/m,
    );
    // What the proxier wants, diffed with what the kernel now has: nothing left to do.
    const { config, snapshot } = await syncInputs(node.dir);
    const desired = computeDesiredState({
      config,
      snapshot,
      nodeName: NODE_NAME,
      nodeIPs: [NODE_IP],
    });
    const current = await new ExecBackend().read();
    assert.deepEqual(diffStates(current, desired.state, { excludeCIDRs: [] }), []);
    // The rule works: the node's own connection is dropped, the pod's address is reachable.
    assert.equal(await droppedBy("KUBE-IPVS-OUT-FILTER"), 0);
    assert.equal(await canConnect(LB_VIP, 80), false, "the node reached the VIP");
    assert.ok(await droppedBy("KUBE-IPVS-OUT-FILTER") > 0, "the rule dropped the node's SYN");
    assert.equal(await httpGet(pod.nsAddress, 8080), "backend of-a\n");
  },
);
