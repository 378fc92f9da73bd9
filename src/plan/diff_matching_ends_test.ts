import assert from "node:assert/strict";
import fc from "fast-check";
import { computeDesiredState } from "../proxier/desired_state.ts";
import {
  ClusterModel,
  configArbitrary,
  serviceArbitrary,
  sliceArbitrary,
  stepArbitrary,
} from "../proxier/incremental_arbitraries.ts";
import type { KernelState, VirtualServer } from "../state/types.ts";
import { diffStates } from "./diff.ts";
import type { Operation } from "./types.ts";

const STALE_SENTINEL = "0.0.0.1";
const NEW_SENTINEL = "255.255.255.254";

function sentinel(address: string): VirtualServer {
  return {
    protocol: "tcp",
    address,
    port: 1,
    scheduler: "rr",
    persistenceTimeout: 0,
    flags: [],
    service: "",
    realServers: [],
  };
}

function touchesSentinel(op: Operation): boolean {
  const vs = "virtualServer" in op ? op.virtualServer : undefined;
  return vs?.address === STALE_SENTINEL || vs?.address === NEW_SENTINEL;
}

Deno.test({
  name: "the diff's matching-ends shortcut gives the plan of a keyed diff of the whole lists",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(
        configArbitrary,
        fc.array(serviceArbitrary, { maxLength: 6 }),
        fc.array(sliceArbitrary, { maxLength: 6 }),
        fc.array(stepArbitrary, { minLength: 1, maxLength: 4 }),
        (config, services, slices, steps) => {
          const model = new ClusterModel(services, slices);
          const compute = () =>
            computeDesiredState({
              config,
              snapshot: model.snapshot(),
              nodeName: "node-a",
              nodeIPs: model.nodeIPs,
            }).state;
          const current = compute();
          for (const step of steps) model.apply(step);
          const desired = compute();
          // A stale virtual server first and a new one last: no end matches, every virtual
          // server and address goes through the keyed lookup, as the diff did before the shortcut.
          const keyedCurrent: KernelState = {
            ...current,
            virtualServers: [sentinel(STALE_SENTINEL), ...current.virtualServers],
            // Addresses on other devices: not ours, no operation, but no end matches either.
            addresses: [{ device: "eth0", address: "192.0.2.1/24" }, ...current.addresses],
          };
          const keyedDesired: KernelState = {
            ...desired,
            virtualServers: [...desired.virtualServers, sentinel(NEW_SENTINEL)],
            addresses: [...desired.addresses, { device: "eth1", address: "192.0.2.2/24" }],
          };
          const options = { excludeCIDRs: [] };
          const keyed = diffStates(keyedCurrent, keyedDesired, options)
            .filter((op) => !touchesSentinel(op));
          assert.deepStrictEqual(diffStates(current, desired, options), keyed);
        },
      ),
      { numRuns: 100 },
    );
  },
});
