/**
 * iptables mode through the dry-run recorder: what an operator reviews before anything is
 * applied, a switch from IPVS mode that the recorder's kernel accepts (it refuses what the real
 * tools refuse, such as removing a chain a rule still uses), and a second sync with nothing
 * to do.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DryRunBackend } from "../../backends/dry_run/dry_run_backend.ts";
import { cleanupPlan, diffStates } from "../../src/plan/diff.ts";
import { computeDesiredStateFor, type ProxierKind } from "../../src/proxier/mode.ts";
import { endpoint, port, service, slice, snapshot, testConfig } from "../../src/proxier/testing.ts";
import { renderPlanText } from "../../src/render/plan_text.ts";

const NO_EXCLUDES = { excludeCIDRs: [] };

function desired(proxier: ProxierKind) {
  return computeDesiredStateFor(proxier, {
    config: testConfig({ clusterCIDRs: ["10.244.0.0/16"] }),
    snapshot: snapshot(
      [service("web", "10.96.0.10", [port("http", 80, { nodePort: 30080 })], { type: "NodePort" })],
      [slice("web", [endpoint("10.244.1.2"), endpoint("10.244.2.2")], [{
        name: "http",
        port: 8080,
      }])],
    ),
    nodeName: "node-a",
    nodeIPs: ["192.168.0.2"],
  }).state;
}

async function sync(backend: DryRunBackend, proxier: ProxierKind) {
  const plan = diffStates(await backend.read(), desired(proxier), NO_EXCLUDES);
  const result = await backend.apply(plan);
  assert.deepEqual(result.failures, []);
  return plan;
}

Deno.test({
  name: "the dry run shows iptables mode's restore input for review and a resync writes nothing",
  permissions: "none",
  async fn() {
    const backend = new DryRunBackend();
    const text = renderPlanText(await sync(backend, "iptables"));
    assert.match(text, /iptables-restore --noflush -w/);
    assert.match(
      text,
      /^-A KUBE-NODEPORTS -p tcp -m comment --comment "default\/web:http" -m tcp --dport 30080 -j KUBE-EXT-/m,
    );
    assert.match(text, /--probability 0\.50000000000 -j KUBE-SEP-/);
    assert.deepEqual(await sync(backend, "iptables"), []);
  },
});

Deno.test({
  name:
    "the recorder's kernel accepts a switch from IPVS to iptables mode and back, then a cleanup",
  permissions: "none",
  async fn() {
    const backend = new DryRunBackend();
    await sync(backend, "ipvs");
    await sync(backend, "iptables");
    const after = backend.state();
    assert.deepEqual([after.ipsets, after.virtualServers, after.linkPresent], [[], [], false]);
    assert.ok(!after.iptables.ipv4.filter.chains.some((c) => c.name === "KUBE-IPVS-FILTER"));
    await sync(backend, "ipvs");
    assert.ok(
      !backend.state().iptables.ipv4.nat.chains.some((c) => c.name.startsWith("KUBE-SVC-")),
    );
    await backend.apply(cleanupPlan(backend.state()));
    assert.deepEqual(cleanupPlan(backend.state()), []);
  },
});
