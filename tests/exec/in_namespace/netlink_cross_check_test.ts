/**
 * The cross-check: the same plans applied through the exec backend and through the netlink
 * backend, each in a fresh network namespace of its own (a child process under `unshare -n`),
 * read back identically with the tools (`ipset save`, `iptables-save`, `ip6tables-save`,
 * `ip addr`, `ip link`) and with both backends' `read()`.
 */
import assert from "node:assert/strict";
import { runCommand } from "../../../backends/exec/command.ts";
import { NO_CONFIG_FLAGS, repoPath } from "../child_deno.ts";
import { diffStates } from "../../../src/plan/diff.ts";
import { emptyKernelState } from "../../../src/state/keys.ts";
import type { Plan } from "../../../src/plan/types.ts";
import { NetlinkBackend } from "../../../backends/netlink/netlink_backend.ts";
import { createNodeDevice, deleteNodeDevice, desiredState } from "./cluster_fixture.ts";
import {
  assertPrivateNamespace,
  cleanUp,
  namespaceBackend,
  prepareNamespace,
} from "./namespace_helpers.ts";

const CHILD = "tests/exec/in_namespace/netlink_cross_check_child.ts";
const NODE_IPS = ["192.168.0.10", "192.168.0.11", "fd00:10::10"];

async function applyInFreshNamespace(backend: "exec" | "netlink", plans: Plan[]) {
  const result = await runCommand([
    "unshare",
    "-n",
    Deno.execPath(),
    "run",
    ...NO_CONFIG_FLAGS,
    "--cached-only",
    "--allow-all",
    repoPath(CHILD),
    backend,
  ], { stdin: JSON.stringify(plans), timeoutMs: 120_000 });
  assert.equal(result.code, 0, `the ${backend} child failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

Deno.test("the same plans through exec and netlink in fresh namespaces read back identically", async () => {
  await assertPrivateNamespace();
  const first = desiredState(NODE_IPS);
  const moved = desiredState(NODE_IPS, "10.244.1.4");
  const plans = [
    diffStates({ ...emptyKernelState(), families: first.families }, first, { excludeCIDRs: [] }),
    diffStates(first, moved, { excludeCIDRs: [] }),
  ];
  assert.ok(plans[0].length > 20 && plans[1].length > 0);
  const [exec, netlink] = await Promise.all([
    applyInFreshNamespace("exec", plans),
    applyInFreshNamespace("netlink", plans),
  ]);
  assert.deepEqual(exec.results, plans.map((p) => ({ applied: p.length, failures: 0 })));
  assert.deepEqual(netlink.results, exec.results);
  for (const tool of Object.keys(exec.shown)) {
    assert.equal(netlink.shown[tool], exec.shown[tool], `${tool} differs`);
  }
  assert.match(exec.shown.ipset, /add KUBE-CLUSTER-IP /);
  assert.deepEqual(netlink.read, exec.read);
});

Deno.test("switching backends on a running node is a no-op sync, either way", async () => {
  await prepareNamespace();
  await cleanUp();
  await createNodeDevice();
  const netlink = new NetlinkBackend({ ipvs: false, linkType: "veth" });
  try {
    const desired = desiredState(NODE_IPS);
    const exec = namespaceBackend();
    const cold = await exec.apply(diffStates(await exec.read(), desired, { excludeCIDRs: [] }));
    assert.deepEqual(cold.failures, []);
    assert.deepEqual(diffStates(await netlink.read(), desired, { excludeCIDRs: [] }), []);
    const moved = desiredState(NODE_IPS, "10.244.1.4");
    const step = await netlink.apply(diffStates(await netlink.read(), moved, { excludeCIDRs: [] }));
    assert.deepEqual(step.failures, []);
    assert.deepEqual(diffStates(await exec.read(), moved, { excludeCIDRs: [] }), []);
  } finally {
    await netlink.close();
    await cleanUp();
    await deleteNodeDevice();
  }
});
