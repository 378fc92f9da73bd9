import assert from "node:assert/strict";
import fc from "fast-check";
import { DryRunBackend } from "../../backends/dry_run/dry_run_backend.ts";
import { generateCluster } from "../../bench/generate_cluster.ts";
import { diffStates, SettledPairs } from "../plan/diff.ts";
import { IncrementalProxier } from "../proxier/incremental.ts";
import {
  ClusterModel,
  configArbitrary,
  serviceArbitrary,
  sliceArbitrary,
  stepArbitrary,
} from "../proxier/incremental_arbitraries.ts";
import { testConfig } from "../proxier/testing.ts";
import { emptyKernelState } from "../state/keys.ts";
import type { KernelState, VirtualServer } from "../state/types.ts";

Deno.test({
  name: "a loop's diffs with settled pairs plan exactly what diffs without them plan",
  permissions: "none",
  async fn() {
    await fc.assert(
      fc.asyncProperty(
        configArbitrary,
        fc.array(serviceArbitrary, { maxLength: 6 }),
        fc.array(sliceArbitrary, { maxLength: 6 }),
        fc.array(stepArbitrary, { minLength: 1, maxLength: 6 }),
        async (config, services, slices, steps) => {
          const model = new ClusterModel(services, slices);
          const proxier = new IncrementalProxier(config, "node-a");
          const backend = new DryRunBackend();
          const settled = new SettledPairs();
          const options = { excludeCIDRs: config.ipvs.excludeCIDRs };
          // The loop's syncs as they run: compute, read, diff, apply; and a resync with no change.
          for (const step of [undefined, ...steps, undefined]) {
            if (step) model.apply(step);
            const desired = proxier.update(model.snapshot(), model.nodeIPs).state;
            const current = await backend.read();
            const plan = diffStates(current, desired, { ...options, settled });
            assert.deepStrictEqual(plan, diffStates(current, desired, options));
            const result = await backend.apply(plan);
            assert.deepStrictEqual(result.failures, []);
          }
        },
      ),
      { numRuns: 100 },
    );
  },
});

function virtualServer(weight: number): VirtualServer {
  return {
    protocol: "tcp",
    address: "10.96.0.10",
    port: 80,
    scheduler: "rr",
    persistenceTimeout: 0,
    flags: [],
    service: "ns/web:http",
    realServers: [{ address: "10.244.0.5", port: 8080, forward: "masq", weight }],
  };
}

function withVirtualServer(vs: VirtualServer): KernelState {
  return { ...emptyKernelState(), families: ["ipv4"], virtualServers: [vs] };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

Deno.test({
  name: "a frozen pair the diff found equal is settled; an unfrozen one is compared every time",
  permissions: "none",
  fn() {
    const options = { excludeCIDRs: [], settled: new SettledPairs() };
    const have = deepFreeze(virtualServer(1));
    const want = deepFreeze(virtualServer(1));
    assert.deepStrictEqual(
      diffStates(withVirtualServer(have), withVirtualServer(want), options),
      [],
    );
    assert.ok(options.settled.has(have, want));
    // Not frozen: a change made in place after the first diff is still found by the next.
    const kernel = virtualServer(1);
    const desired = virtualServer(1);
    assert.deepStrictEqual(
      diffStates(withVirtualServer(kernel), withVirtualServer(desired), options),
      [],
    );
    assert.ok(!options.settled.has(kernel, desired));
    (kernel.realServers[0] as { weight: number }).weight = 0;
    const plan = diffStates(withVirtualServer(kernel), withVirtualServer(desired), options);
    assert.deepStrictEqual(plan.map((op) => op.op), ["ipvs.editRealServer"]);
  },
});

Deno.test({
  name: "an idle loop's diff settles every virtual server and set by identity",
  permissions: "none",
  async fn() {
    const config = testConfig();
    const cluster = generateCluster({
      services: 50,
      endpointsPerService: 3,
      nodePortShare: 0.2,
      loadBalancerShare: 0.1,
    });
    const proxier = new IncrementalProxier(config, "node-0");
    const backend = new DryRunBackend();
    const settled = new SettledPairs();
    const options = { excludeCIDRs: [], settled };
    const desired = proxier.update(cluster, ["192.168.0.10"]).state;
    await backend.apply(diffStates(await backend.read(), desired, options));
    const current = await backend.read();
    assert.deepStrictEqual(diffStates(current, desired, options), []);
    assert.ok(current.virtualServers.every((vs, i) => settled.has(vs, desired.virtualServers[i])));
    const sets = current.ipsets.filter((s) => s.name.startsWith("KUBE-"));
    assert.ok(sets.every((s) => settled.has(s, desired.ipsets.find((d) => d.name === s.name)!)));
  },
});
