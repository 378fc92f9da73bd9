/**
 * The pure pipeline at scale (10,000 services x 10 endpoints, 20% NodePort, 5% LoadBalancer),
 * each step next to the naive way of doing it, in one `deno bench` group per step so the
 * report prints the ratio. Run: `deno task bench`.
 */

import { EndpointSliceIndex } from "../src/proxier/endpoints.ts";
import { computeDesiredState } from "../src/proxier/desired_state.ts";
import { testConfig } from "../src/proxier/testing.ts";
import { diffStates } from "../src/plan/diff.ts";
import { renderPlanText } from "../src/render/plan_text.ts";
import { emptyKernelState, virtualServerKey } from "../src/state/keys.ts";
import type { KernelState } from "../src/state/types.ts";
import { generateCluster, LARGE_CLUSTER, withOneEndpointChanged } from "./generate_cluster.ts";

const config = testConfig({ clusterCIDRs: ["10.128.0.0/9"] });
const cluster = generateCluster(LARGE_CLUSTER);
const input = { config, snapshot: cluster, nodeName: "node-0", nodeIPs: ["192.168.0.10"] };
const desired = computeDesiredState(input).state;
const changed = computeDesiredState({ ...input, snapshot: withOneEndpointChanged(cluster) }).state;
const fullPlan = diffStates(emptyKernelState(), desired, { excludeCIDRs: [] });

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

// The results the targets are about, checked once before timing anything.
check(diffStates(desired, desired, { excludeCIDRs: [] }).length === 0, "identical diff not empty");
const onePlan = diffStates(desired, changed, { excludeCIDRs: [] });
check(
  onePlan.every((op) => op.op.startsWith("ipvs.") || op.op.startsWith("ipset.")),
  `one changed endpoint gave ${JSON.stringify(onePlan.map((op) => op.op))}`,
);

Deno.bench("compute desired state, whole cluster", { group: "compute" }, () => {
  computeDesiredState(input);
});

// Finding each service's EndpointSlices: the index the proxier builds once per sync, against
// scanning every slice for every service.
Deno.bench("endpoint lookup: index built once", { group: "lookup", baseline: true }, () => {
  const index = new EndpointSliceIndex(cluster);
  for (const service of cluster.services) index.slicesFor(service, "IPv4");
});

Deno.bench("endpoint lookup: naive scan per service", { group: "lookup" }, () => {
  for (const service of cluster.services) {
    cluster.endpointSlices.filter((s) =>
      s.namespace === service.namespace && s.serviceName === service.name &&
      s.addressType === "IPv4"
    );
  }
});

Deno.bench("render all restore text of a cold sync", { group: "render", baseline: true }, () => {
  renderPlanText(fullPlan);
});

Deno.bench("render: JSON.stringify of the same plan (a lower bound)", { group: "render" }, () => {
  JSON.stringify(fullPlan);
});

Deno.bench("diff identical states: keyed maps", { group: "diff-identical", baseline: true }, () => {
  diffStates(desired, desired, { excludeCIDRs: [] });
});

/** The naive diff of virtual servers: a linear search of the current keys for each desired one. */
function naiveVirtualServerDiff(current: KernelState, wanted: KernelState): number {
  const currentKeys = current.virtualServers.map(virtualServerKey);
  let differing = 0;
  for (const vs of wanted.virtualServers) {
    const at = currentKeys.indexOf(virtualServerKey(vs));
    if (at < 0 || current.virtualServers[at].realServers.length !== vs.realServers.length) {
      differing++;
    }
  }
  return differing;
}

Deno.bench("diff identical states: naive linear search, virtual servers only", {
  group: "diff-identical",
}, () => {
  naiveVirtualServerDiff(desired, desired);
});

Deno.bench("diff with one endpoint changed", { group: "diff-one-change", baseline: true }, () => {
  diffStates(desired, changed, { excludeCIDRs: [] });
});

Deno.bench("compute + render, end to end", { group: "end-to-end" }, () => {
  const state = computeDesiredState(input).state;
  renderPlanText(diffStates(emptyKernelState(), state, { excludeCIDRs: [] }));
});
