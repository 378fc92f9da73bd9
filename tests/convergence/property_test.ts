/**
 * Convergence as a property, on the dry-run recorder (which refuses what the kernel refuses):
 * for random desired states and random current kernels (see `arbitraries.ts`), one sync —
 * diff, apply — leaves nothing to do (a second diff is empty) and leaves every foreign
 * object byte-identical. fast-check prints the seed and the shrunk case on a failure.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { DryRunBackend } from "../../backends/dry_run/dry_run_backend.ts";
import { diffStates } from "../../src/plan/diff.ts";
import { caseArb, EXCLUDED_CIDR, statesOf } from "./arbitraries.ts";
import { untouchable } from "./untouchable.ts";

const OPTIONS = { excludeCIDRs: [EXCLUDED_CIDR] };
/** Enough to meet every damage in many combinations (about 2 s here under load). */
const RUNS = Number(Deno.env.get("CONVERGENCE_RUNS") ?? 300);

Deno.test({
  name: "one sync converges from any generated kernel and leaves foreign objects byte-identical",
  permissions: { env: ["CONVERGENCE_RUNS"] },
  async fn() {
    const seen = { recreated: 0, unreferenced: 0, foreign: 0, otherFamily: 0 };
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const { current, desired } = statesOf(c);
        const backend = new DryRunBackend({ initial: current });
        const before = await backend.read();
        const plan = diffStates(before, desired, OPTIONS);
        const result = await backend.apply(plan);
        assert.deepEqual(result.failures, [], "the plan was refused");
        const after = await backend.read();
        assert.deepEqual(diffStates(after, desired, OPTIONS), [], "a second diff is not empty");
        assert.deepEqual(
          untouchable(after, desired, OPTIONS.excludeCIDRs),
          untouchable(before, desired, OPTIONS.excludeCIDRs),
          "a foreign object changed",
        );
        const destroyed = plan.findIndex((op) => op.op === "ipset.destroy");
        if (destroyed >= 0 && plan.slice(destroyed).some((op) => op.op === "ipset.create")) {
          seen.recreated++;
          if (plan[destroyed - 1]?.op === "iptables.restore") seen.unreferenced++;
        }
        if (c.damage.foreign) seen.foreign++;
        if (before.families.length > desired.families.length) seen.otherFamily++;
      }),
      { numRuns: RUNS },
    );
    // With CONVERGENCE_RUNS set (a longer run by hand), show how often each hard case came up.
    if (Deno.env.get("CONVERGENCE_RUNS")) console.log(seen);
    // The generators must reach the hard cases, or the property says little.
    for (const [what, n] of Object.entries(seen)) {
      assert.ok(n >= RUNS / 50, `only ${n} of ${RUNS} cases had ${what}`);
    }
  },
});
