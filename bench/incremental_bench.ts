/**
 * One changed EndpointSlice in the 10,000-service cluster: the sync's compute + diff with the
 * incremental proxier against a full recompute + diff, in `deno bench` groups so the report
 * prints the ratio. Each iteration flips between the cluster and the cluster with one endpoint
 * changed, so every incremental update has one real change to follow. Run: `deno task bench`.
 */

import { computeDesiredState } from "../src/proxier/desired_state.ts";
import { IncrementalProxier } from "../src/proxier/incremental.ts";
import { testConfig } from "../src/proxier/testing.ts";
import { diffStates } from "../src/plan/diff.ts";
import type { KernelState } from "../src/state/types.ts";
import { generateCluster, LARGE_CLUSTER, withOneEndpointChanged } from "./generate_cluster.ts";

const config = testConfig({ clusterCIDRs: ["10.128.0.0/9"] });
const nodeName = "node-0";
const nodeIPs = ["192.168.0.10"];
const options = { excludeCIDRs: [] };
const snapshots = [generateCluster(LARGE_CLUSTER)];
snapshots.push(withOneEndpointChanged(snapshots[0]));
const compute = (i: number) =>
  computeDesiredState({ config, snapshot: snapshots[i], nodeName, nodeIPs });
/** The kernel as a backend reads it: the same content as the desired state, other objects. */
const kernel: KernelState[] = [compute(0).state, compute(1).state];

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

const proxier = new IncrementalProxier(config, nodeName);
proxier.update(snapshots[0], nodeIPs);
// What the target is about, checked once before timing anything: the same plan as a full
// recompute, and one service recomputed.
const incremental = proxier.update(snapshots[1], nodeIPs);
check(
  JSON.stringify(incremental) === JSON.stringify(compute(1)),
  "incremental state differs from the full computation",
);
check(proxier.lastUpdate.recomputedServices === 1, "more than one service recomputed");
check(
  JSON.stringify(diffStates(kernel[0], incremental.state, options)) ===
    JSON.stringify(diffStates(kernel[0], kernel[1], options)),
  "incremental plan differs",
);
proxier.update(snapshots[0], nodeIPs);

// One position for every bench of the proxier, so each update flips away from the last one.
let at = 0;
let previous = proxier.update(snapshots[at], nodeIPs).state;
function flip(): KernelState {
  at ^= 1;
  return proxier.update(snapshots[at], nodeIPs).state;
}
let fullAt = 0;

Deno.bench("one changed slice: incremental update + diff with the kernel's state", {
  group: "one-change-sync",
  baseline: true,
}, () => {
  const desired = flip();
  diffStates(kernel[at ^ 1], desired, options);
  previous = desired;
});

Deno.bench("one changed slice: incremental update + diff with the previous result", {
  group: "one-change-sync",
}, () => {
  // The dry run's case: the current state shares the unchanged objects with the desired one.
  const desired = flip();
  diffStates(previous, desired, options);
  previous = desired;
});

Deno.bench("one changed slice: full recompute + diff", { group: "one-change-sync" }, () => {
  fullAt ^= 1;
  diffStates(kernel[fullAt ^ 1], compute(fullAt).state, options);
});

Deno.bench("one changed slice: incremental update", {
  group: "one-change-compute",
  baseline: true,
}, () => {
  previous = flip();
});

Deno.bench("one changed slice: full recompute", { group: "one-change-compute" }, () => {
  fullAt ^= 1;
  compute(fullAt);
});

Deno.bench("one changed slice: diff alone", { group: "one-change-diff" }, () => {
  diffStates(kernel[0], kernel[1], options);
});
