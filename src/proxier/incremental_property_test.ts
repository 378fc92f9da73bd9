import assert from "node:assert/strict";
import fc from "fast-check";
import type { ProxyConfig } from "../config/types.ts";
import { computeDesiredState } from "./desired_state.ts";
import { computeServiceHealthChecks } from "./health_checks.ts";
import { IncrementalProxier } from "./incremental.ts";
import {
  ClusterModel,
  configArbitrary,
  serviceArbitrary,
  sliceArbitrary,
  stepArbitrary,
} from "./incremental_arbitraries.ts";

const NODE_NAME = "node-a";

function assertSameAsFull(
  proxier: IncrementalProxier,
  model: ClusterModel,
  config: ProxyConfig,
): void {
  const snapshot = model.snapshot();
  const { nodeIPs, kernelFamilies } = model;
  const incremental = proxier.update(snapshot, nodeIPs, kernelFamilies);
  const input = { config, snapshot, nodeName: NODE_NAME, nodeIPs, kernelFamilies };
  assert.deepStrictEqual(incremental, computeDesiredState(input));
  assert.deepStrictEqual(proxier.healthChecks(), computeServiceHealthChecks(input));
}

Deno.test({
  name:
    "after every change of a random sequence, the incremental state and health checks equal a full compute",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(
        configArbitrary,
        fc.array(serviceArbitrary, { maxLength: 6 }),
        fc.array(sliceArbitrary, { maxLength: 6 }),
        fc.array(stepArbitrary, { minLength: 1, maxLength: 25 }),
        (config, services, slices, steps) => {
          const model = new ClusterModel(services, slices);
          const proxier = new IncrementalProxier(config, NODE_NAME);
          assertSameAsFull(proxier, model, config);
          for (const step of steps) {
            model.apply(step);
            assertSameAsFull(proxier, model, config);
          }
        },
      ),
      { numRuns: 150 },
    );
  },
});

Deno.test({
  name: "a change of one slice recomputes only the service it belongs to",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(
        configArbitrary,
        fc.array(serviceArbitrary, { minLength: 1, maxLength: 6 }),
        fc.array(sliceArbitrary, { maxLength: 6 }),
        sliceArbitrary,
        (config, services, slices, changed) => {
          const model = new ClusterModel(services, slices);
          const proxier = new IncrementalProxier(config, NODE_NAME);
          proxier.update(model.snapshot(), model.nodeIPs, model.kernelFamilies);
          const before = model.slices.get(`${changed.namespace}/${changed.name}`);
          model.apply({ kind: "upsertSlice", slice: changed });
          assertSameAsFull(proxier, model, config);
          const touched = new Set(
            [before, changed].filter((s) => s !== undefined).map((s) =>
              `${s.namespace}/${s.serviceName}`
            ).filter((id) => model.services.has(id)),
          );
          assert.ok(proxier.lastUpdate.recomputedServices <= touched.size);
          assert.equal(proxier.lastUpdate.full, false);
        },
      ),
      { numRuns: 100 },
    );
  },
});
