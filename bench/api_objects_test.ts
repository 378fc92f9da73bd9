import assert from "node:assert/strict";
import { parseObjects } from "../src/cluster/parse.ts";
import { clusterObjects } from "./api_objects.ts";
import { generateCluster } from "./generate_cluster.ts";

Deno.test({
  name: "the generated cluster in API form parses back to the same objects",
  permissions: { env: ["LOG_TOKENS", "LOG_STREAM"] },
  fn() {
    const cluster = generateCluster({
      services: 60,
      endpointsPerService: 3,
      nodePortShare: 0.2,
      loadBalancerShare: 0.05,
    });
    const parsed = parseObjects(
      clusterObjects(cluster).map((value, i) => ({ value, source: "generated", index: i + 1 })),
    );
    assert.deepEqual(parsed.warnings, []);
    assert.deepEqual(parsed.services, cluster.services);
    assert.deepEqual(parsed.endpointSlices, cluster.endpointSlices);
  },
});
