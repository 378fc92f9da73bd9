/**
 * The backend contract suite (`backends/contract.ts`) on the VM's kernel, for any backend: IPVS
 * included, kube-ipvs0 a real dummy link, IPv4 and IPv6. Each case starts from and leaves a
 * kernel with nothing of ours (every virtual server, KUBE- set and chain, kube-ipvs0), removed
 * with the backend's own cleanup. Outside the VM one {@linkcode kernelTest} stands in for the
 * suite, so it skips visibly (or fails with REQUIRE_KERNEL_TESTS=1).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Backend } from "../../backends/backend.ts";
import { backendContract } from "../../backends/contract.ts";
import { cleanupPlan } from "../../src/plan/diff.ts";
import { IN_VM, kernelTest } from "./harness.ts";

/** Removes everything of ours with the backend's own cleanup, and checks that it worked. */
async function cleanUp(backend: Backend): Promise<void> {
  const plan = cleanupPlan(await backend.read());
  if (plan.length === 0) return;
  const result = await backend.apply(plan);
  assert.deepEqual(result.failures, [], "the cleanup failed");
  assert.deepEqual(cleanupPlan(await backend.read()), [], "the cleanup left something of ours");
}

/** A backend a case opens; `close` releases what it holds (sockets), after the cleanup. */
export type OpenBackend = () => Promise<Backend & { close?(): Promise<void> | void }>;

/** Registers the contract suite named `name` for the backends `open` makes, one per case. */
export function kernelContract(name: string, open: OpenBackend): void {
  if (!IN_VM) {
    // backendContract registers plain Deno tests: one kernelTest stands in for them here.
    kernelTest(`${name} backend: the contract suite`, () => Promise.resolve());
    return;
  }
  backendContract(name, async () => {
    const backend = await open();
    await cleanUp(backend);
    return {
      backend,
      close: async () => {
        await cleanUp(backend);
        await backend.close?.();
      },
    };
  }, { ipvs: true, addresses: true, families: ["ipv4", "ipv6"] });
}
